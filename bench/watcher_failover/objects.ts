/**
 * What the election benchmark creates: kwok nodes, a watcher Deployment (K8S_WATCH_POLICY=watch-only) and a
 * DaemonSet of agents. The agent container is the one of bench/fixtures/watcher-pod.review.json
 * (17 env vars, ports, probes, capabilities, mounts: the size of a real deepflow-agent pod), so
 * that list pages and watch events weigh what they would in a real cluster.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Json } from '../kube.ts';

/** Label of every node the benchmark creates (cleanup deletes by it) ... */
export const BENCH_NODE_LABEL = 'kwp-bench/node';
/** ... and the DaemonSet's nodeSelector: one agent pod per benchmark node. */
export const AGENT_NODE_LABEL = 'kwp-bench/agent';
export const WATCHER_LABEL = 'deepflow.io/k8s-watcher';
export const WATCHER_APP = 'deepflow-agent-watcher';
export const AGENT_APP = 'deepflow-agent';

export const benchNodeName = (i: number) => `kwp-bench-node-${String(i).padStart(5, '0')}`;

/** A kwok node (as test/cluster/nodes.ts makes them), with its own pod CIDR for kwok's IP pool. */
export function benchNode(i: number): Json {
  const name = benchNodeName(i);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
        [BENCH_NODE_LABEL]: 'true',
        [AGENT_NODE_LABEL]: 'true',
      },
    },
    spec: { podCIDR: `10.${64 + (i >> 8)}.${i & 255}.0/24` },
  };
}

export function namespace(name: string): Json {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kwp-bench': 'true' } } };
}

/** The agent container of the fixture, without the service-account mount the API server adds itself. */
export function fixtureAgent(root: string): { container: Json; volumes: Json[] } {
  const review = JSON.parse(readFileSync(join(root, 'bench/fixtures/watcher-pod.review.json'), 'utf8'));
  const spec = review.request.object.spec;
  const container = structuredClone(spec.containers.find((c: Json) => c.name === 'deepflow-agent'));
  container.volumeMounts = (container.volumeMounts ?? []).filter(
    (m: Json) => !String(m.name).startsWith('kube-api-access'),
  );
  container.env = (container.env ?? []).filter((e: Json) => e.name !== 'K8S_WATCH_POLICY');
  const volumes = (spec.volumes ?? []).filter((v: Json) => !String(v.name).startsWith('kube-api-access'));
  return { container, volumes };
}

export function watcherDeployment(root: string, ns: string, replicas: number): Json {
  const { container, volumes } = fixtureAgent(root);
  container.env.push({ name: 'K8S_WATCH_POLICY', value: 'watch-only' }); // the spelling the agent (and the controller) reads
  const labels = { app: WATCHER_APP, 'deepflow.io/role': 'k8s-watcher' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: WATCHER_APP, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app: WATCHER_APP } },
      // The replacement of a deleted pod must not wait for anything.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels },
        spec: {
          // On the cluster's own ordinary nodes, not on the benchmark's thousands.
          nodeSelector: { type: 'kwok' },
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: BENCH_NODE_LABEL, operator: 'DoesNotExist' }] }],
              },
            },
          },
          // The replacement of a deleted watcher must not wait for a flapping kwok node (see below).
          tolerations: [{ operator: 'Exists' }],
          terminationGracePeriodSeconds: 1,
          containers: [container],
          volumes,
        },
      },
    },
  };
}

export function agentDaemonSet(root: string, ns: string): Json {
  const { container, volumes } = fixtureAgent(root);
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: AGENT_APP, namespace: ns },
    spec: {
      selector: { matchLabels: { app: AGENT_APP } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } },
      template: {
        metadata: { labels: { app: AGENT_APP } },
        spec: {
          nodeSelector: { [AGENT_NODE_LABEL]: 'true' },
          // An observability agent runs on every node, whatever its taints (as node agents
          // usually do); here it also keeps kwok nodes that flap NotReady under load (their
          // Lease renewed late) from holding the DaemonSet's pods back or evicting them.
          tolerations: [{ operator: 'Exists' }],
          terminationGracePeriodSeconds: 1,
          containers: [container],
          volumes,
        },
      },
    },
  };
}

export function controllerConfig(agentsNamespace: string, leaseName: string): string {
  return `election:\n  namespaces: [${agentsNamespace}]\n  leaseName: ${leaseName}\n`;
}
