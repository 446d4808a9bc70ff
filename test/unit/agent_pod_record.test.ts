import { describe, expect, test } from '@jest/globals';
import { agentPodRecord, nodeReadiness } from '../../src/controller/agent_pod_record.ts';
import { AgentPodIndex } from '../../src/watcher_election/agent_pod_index.ts';
import { elect, tallyOf } from '../../src/watcher_election/elect.ts';
import type { KubeObject, Pod } from '../../src/kube/objects.ts';
import { agent, app, cfg, ev, evFrom, istio, kubeNode, nativeSidecar, runningPod } from '../support/fixtures.ts';

const T = (minute: number) => `2024-05-01T10:${String(minute).padStart(2, '0')}:00Z`;

/** What a real pod carries besides the election's inputs. */
function noisy(p: Pod): Pod {
  const noise = [ev('RUST_LOG', 'info'), evFrom('K8S_NODE_IP_FOR_DEEPFLOW'), ev('K8S_POD_NAME_FOR_DEEPFLOW', 'x')];
  return {
    ...p,
    metadata: {
      ...p.metadata,
      labels: { app: 'deepflow-agent', 'pod-template-hash': '7c9f', ...p.metadata?.labels },
      annotations: { 'kubectl.kubernetes.io/restartedAt': T(0) },
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:metadata': {} } }],
      resourceVersion: '12345',
    },
    spec: {
      ...p.spec,
      containers: (p.spec?.containers ?? []).map((c) => ({
        ...c,
        env: [...noise, ...(c.env ?? [])],
        ports: [{ containerPort: 20033 }],
        resources: { limits: { memory: '768Mi' } },
      })),
      volumes: [{ name: 'sys', hostPath: { path: '/sys' } }],
    },
  };
}

const PODS: [string, Pod][] = [
  ['normal agent', runningPod({ name: 'ds-a', created: T(1) })],
  [
    'watch-only watcher',
    runningPod({ name: 'watcher', policy: 'watch-only', created: T(5), labels: { 'deepflow.io/k8s-watcher': 'true' } }),
  ],
  [
    'watch-disabled sidecar',
    runningPod({
      name: 'sidecar',
      policy: 'watch-disabled',
      created: T(0),
      containers: [app(), istio(), agent({ env: [ev('K8S_WATCH_POLICY', 'watch-disabled')] })],
    }),
  ],
  [
    'valueFrom policy',
    runningPod({ name: 'from', created: T(2), containers: [agent({ env: [evFrom('K8S_WATCH_POLICY')] })] }),
  ],
  [
    'deprecated env in an init container',
    runningPod({
      name: 'legacy',
      created: T(0),
      initContainers: [app('init', { env: [ev('ONLY_WATCH_K8S_RESOURCE', '')] })],
    }),
  ],
  [
    'native sidecar agent',
    runningPod({
      name: 'native',
      created: T(3),
      containers: [app()],
      initContainers: [nativeSidecar(agent({ env: [ev('K8S_WATCH_POLICY', 'watch-only')] }))],
    }),
  ],
  ['terminating', runningPod({ name: 'leaving', created: T(0), terminating: true, policy: 'watch-only' })],
  ['not ready', runningPod({ name: 'starting', created: T(0), ready: false })],
  ['on a NotReady node', runningPod({ name: 'lost', created: T(0), node: 'node-down' })],
  ['not an agent', runningPod({ name: 'shop', containers: [app()] })],
  [
    'the other only-watch spelling (normal to the agent)',
    runningPod({ name: 'respelled', created: T(0), policy: 'only-watch' }),
  ],
];

const nodes = [kubeNode('node-1'), kubeNode('node-down', 'False')];

describe('agentPodRecord and nodeReadiness keep exactly what the election reads', () => {
  const config = cfg();
  const record = agentPodRecord(config);

  test('the election over the records equals the election over the real pods, for every current watcher', () => {
    const raw = PODS.map(([, p]) => noisy(p));
    const index = new AgentPodIndex();
    for (const p of raw) index.update(undefined, record(p));
    for (const n of nodes) {
      const kept = nodeReadiness(n as KubeObject);
      index.setNodeNotReady(kept.name, kept.notReady);
    }
    for (const current of [
      undefined,
      { namespace: 'deepflow', name: 'watcher' },
      { namespace: 'deepflow', name: 'ds-a', uid: 'ds-a-uid' },
    ]) {
      const full = elect(raw, nodes, current, config);
      const indexed = index.elect(current);
      expect(indexed).toEqual({ ...full, candidates: full.candidates.filter((c) => c.policy !== 'watch-disabled') });
      expect(index.tally(indexed)).toEqual(tallyOf(full.candidates));
    }
    expect(index.elect(undefined).watcher?.name).toBe('native');
  });

  test.each(PODS)('%s: nothing of the pod but its facts', (_what, p) => {
    const kept = record(noisy(p));
    if (kept === null) return expect(_what).toBe('not an agent');
    expect(Object.keys(kept).sort()).toEqual([
      'createdAt',
      'deprecatedEnv',
      'ineligible',
      'name',
      'namespace',
      'node',
      'policy',
      'readySince',
      'uid',
      'watcherLabel',
    ]);
    expect(kept.watcherLabel).toBe(_what === 'watch-only watcher');
    expect(kept.deprecatedEnv).toBe(_what === 'deprecated env in an init container');
  });

  test('a node keeps its name and whether it is known NotReady', () => {
    expect(nodeReadiness(kubeNode('node-down', 'Unknown') as KubeObject)).toEqual({
      name: 'node-down',
      notReady: true,
    });
    expect(nodeReadiness({ metadata: { name: 'new' } })).toEqual({ name: 'new', notReady: false });
  });

  test('the record of an agent pod is a small fraction of the pod', () => {
    const real = noisy(PODS[0]![1]);
    expect(JSON.stringify(record(real)).length).toBeLessThan(JSON.stringify(real).length / 4);
  });
});
