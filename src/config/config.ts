/** The configuration of DESIGN §4: its type and its defaults. */
import type { LabelSelector } from '../kube/objects.ts';
import type { OnlyWatchSpelling } from '../policy/policy.ts';

/** A map of label (or annotation) keys to values, where the value `"*"` matches any value. */
export type WildcardMap = Record<string, string>;

export interface AgentConfig {
  /** A container is an agent if its name matches ... */
  containerNames: string[];
  /** ... or the last path segment of its image (registry, tag and digest stripped) matches. */
  imageNames: string[];
  /** Mesh sidecars: ignored when asking whether the agent is alone in its pod. */
  infrastructureContainers: string[];
}

export interface ServerlessConfig {
  /** An agent sharing its pod with an application container -> watch-disabled. */
  sidecar: boolean;
  podLabels: WildcardMap;
  podAnnotations: WildcardMap;
  nodeSelectors: WildcardMap;
  tolerationKeys: string[];
  /** Labels of the target node, when the target node is known. */
  nodeLabels: WildcardMap;
}

export interface ElectionConfig {
  /** Namespaces whose agent pods are candidates; empty means all namespaces. */
  namespaces: string[];
  leaseName: string;
}

export type DeprecatedEnvMode = 'reject' | 'warn' | 'migrate';
export type InvalidPolicyMode = 'reject' | 'warn';
export type ExplicitEnvMode = 'respect' | 'override';

export interface Config {
  agent: AgentConfig;
  onlyWatchValue: OnlyWatchSpelling;
  deprecatedEnv: DeprecatedEnvMode;
  invalidPolicy: InvalidPolicyMode;
  explicitEnv: ExplicitEnvMode;
  watcherSelector: LabelSelector;
  inferWatcherFromDeployment: boolean;
  serverless: ServerlessConfig;
  election: ElectionConfig;
}

export function defaultConfig(): Config {
  return {
    agent: {
      containerNames: ['deepflow-agent'],
      imageNames: ['deepflow-agent'],
      infrastructureContainers: ['istio-proxy', 'linkerd-proxy'],
    },
    onlyWatchValue: 'watch-only',
    deprecatedEnv: 'reject',
    invalidPolicy: 'reject',
    explicitEnv: 'respect',
    watcherSelector: { matchLabels: { 'deepflow.io/role': 'k8s-watcher' } },
    inferWatcherFromDeployment: true,
    serverless: {
      sidecar: true,
      podLabels: { 'alibabacloud.com/eci': 'true', 'eks.amazonaws.com/fargate-profile': '*' },
      podAnnotations: { 'eks.tke.cloud.tencent.com/ds-injection': 'true' },
      nodeSelectors: { type: 'virtual-kubelet', 'eks.amazonaws.com/compute-type': 'fargate' },
      tolerationKeys: ['virtual-kubelet.io/provider', 'eks.amazonaws.com/compute-type'],
      nodeLabels: { type: 'virtual-kubelet', 'eks.amazonaws.com/compute-type': 'fargate' },
    },
    election: { namespaces: [], leaseName: 'k8s-watcher' },
  };
}
