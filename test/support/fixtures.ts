/** Builders for the unit tests: pods, containers, nodes, configs. No mocks, plain objects. */
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import type { NodeLookup } from '../../src/kube/node_lookup.ts';
import { defaultConfig, type Config } from '../../src/config/config.ts';
import type { Container, EnvVar, Node, NodeInfo, OwnerReference, Pod, PodSpec } from '../../src/kube/objects.ts';

export const AGENT_IMAGE = 'registry.cn-beijing.aliyuncs.com/deepflow-ce/deepflow-agent:v6.6';
export const APP_IMAGE = 'registry.example.com/shop/checkout:1.4.2';
export const ISTIO_IMAGE = 'docker.io/istio/proxyv2:1.22.0';

export const INJECTION = 'deepflow.io/k8s-watch-policy-injection';
export const POLICY = 'deepflow.io/k8s-watch-policy';
export const ROLE = 'deepflow.io/role';
export const REASON = 'deepflow.io/k8s-watch-policy-reason';

type Overrides<T> = Partial<T> & Record<string, unknown>;

/** A config: the defaults with the given top-level fields replaced (and `serverless` merged). */
export function cfg(
  over: Partial<Omit<Config, 'serverless'>> & { serverless?: Partial<Config['serverless']> } = {},
): Config {
  const d = defaultConfig();
  const { serverless, ...rest } = over;
  return { ...d, ...rest, serverless: { ...d.serverless, ...serverless } };
}

export function ev(name: string, value?: string): EnvVar {
  return value === undefined ? { name } : { name, value };
}

export function evFrom(name: string): EnvVar {
  return { name, valueFrom: { configMapKeyRef: { name: 'deepflow-agent', key: 'policy' } } };
}

/** The deepflow-agent container (by name and image). */
export function agent(over: Overrides<Container> = {}): Container {
  return { name: 'deepflow-agent', image: AGENT_IMAGE, ...over };
}

/** An application container. */
export function app(name = 'app', over: Overrides<Container> = {}): Container {
  return { name, image: APP_IMAGE, ...over };
}

export function istio(): Container {
  return { name: 'istio-proxy', image: ISTIO_IMAGE };
}

export function nativeSidecar(container: Container): Container {
  return { ...container, restartPolicy: 'Always' };
}

export function owner(kind: string, name = 'owner', controller = true): OwnerReference {
  return { apiVersion: kind === 'Job' ? 'batch/v1' : 'apps/v1', kind, name, uid: `${name}-uid`, controller };
}

export interface PodOptions {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  owner?: string;
  containers?: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  spec?: Partial<PodSpec>;
}

/** A pod; by default a bare pod with one agent container in namespace `deepflow`. */
export function pod(o: PodOptions = {}): Pod {
  const metadata: Pod['metadata'] = { name: o.name ?? 'p', namespace: o.namespace ?? 'deepflow' };
  if (o.uid) metadata.uid = o.uid;
  if (o.labels) metadata.labels = o.labels;
  if (o.annotations) metadata.annotations = o.annotations;
  if (o.owner) metadata.ownerReferences = [owner(o.owner)];
  const spec: PodSpec = { containers: o.containers ?? [agent()], ...o.spec };
  if (o.initContainers) spec.initContainers = o.initContainers;
  if (o.ephemeralContainers) spec.ephemeralContainers = o.ephemeralContainers;
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

/** Required node affinity as the DaemonSet controller writes it into each pod. */
export function daemonSetAffinity(node: string): PodSpec['affinity'] {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
      },
    },
  };
}

export function nodeLookup(...nodes: NodeInfo[]): NodeLookup {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  return (name) => byName.get(name);
}

/** A virtual-kubelet node and an ordinary node, as the webhook's node cache would know them. */
export const VIRTUAL_NODE: NodeInfo = {
  name: 'virtual-kubelet-cn-beijing-a',
  labels: { type: 'virtual-kubelet', 'kubernetes.io/role': 'agent' },
};
export const ORDINARY_NODE: NodeInfo = { name: 'node-1', labels: { 'kubernetes.io/os': 'linux' } };

// ---- election ----

export interface RunningPodOptions extends PodOptions {
  node?: string | null;
  created?: string;
  readySince?: string;
  ready?: boolean;
  phase?: string;
  terminating?: boolean;
  /** K8S_WATCH_POLICY of the agent container (a literal), omitted when undefined. */
  policy?: string;
}

/** A scheduled, Running and Ready agent pod, as the controller's informer sees it. */
export function runningPod(o: RunningPodOptions = {}): Pod {
  const env = o.policy === undefined ? [] : [ev('K8S_WATCH_POLICY', o.policy)];
  const p = pod({
    uid: `${o.name ?? 'p'}-uid`,
    ...o,
    containers: o.containers ?? [agent(env.length ? { env } : {})],
  });
  p.metadata!.creationTimestamp = o.created ?? '2024-05-01T10:00:00Z';
  if (o.terminating) p.metadata!.deletionTimestamp = '2024-05-02T10:00:00Z';
  if (o.node !== null) p.spec!.nodeName = o.node ?? 'node-1';
  p.status = {
    phase: o.phase ?? 'Running',
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: o.created ?? '2024-05-01T10:00:00Z' },
      {
        type: 'Ready',
        status: o.ready === false ? 'False' : 'True',
        lastTransitionTime: o.readySince ?? o.created ?? '2024-05-01T10:00:00Z',
      },
    ],
  };
  return p;
}

export function kubeNode(
  name: string,
  ready: 'True' | 'False' | 'Unknown' = 'True',
  labels: Record<string, string> = {},
): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels },
    status: {
      conditions: [
        { type: 'MemoryPressure', status: 'False' },
        { type: 'Ready', status: ready },
      ],
    },
  };
}

// ---- helpers ----

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Validates `patch` against a deep copy of `doc` and applies it; throws when it does not apply. */
export function applyTo<T>(doc: T, patch: Operation[]): T {
  const copy = clone(doc);
  const error = fastJsonPatch.validate(patch, copy);
  if (error) throw error;
  return fastJsonPatch.applyPatch(copy, patch, true, true).newDocument;
}

/** The env list of the first container named `name` (containers, then initContainers). */
export function envOf(p: Pod, name = 'deepflow-agent'): EnvVar[] | undefined {
  const c = [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])].find((x) => x.name === name);
  return c?.env;
}
