import { describe, expect, test } from '@jest/globals';
import { trimNode, trimPod } from '../../src/controller/trim_pod.ts';
import { elect } from '../../src/watcher_election/elect.ts';
import type { KubeObject, Node, Pod } from '../../src/kube/objects.ts';
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

describe('trimPod keeps exactly what the election reads', () => {
  const config = cfg();
  const trim = trimPod(config);

  test('the election over trimmed pods equals the election over the real ones, for every current watcher', () => {
    const raw = PODS.map(([, p]) => noisy(p));
    const trimmed = raw.map((p) => trim(p));
    for (const current of [
      undefined,
      { namespace: 'deepflow', name: 'watcher' },
      { namespace: 'deepflow', name: 'ds-a', uid: 'ds-a-uid' },
    ]) {
      expect(
        elect(
          trimmed,
          nodes.map((n) => trimNode(n as KubeObject) as Node),
          current,
          config,
        ),
      ).toEqual(elect(raw, nodes, current, config));
    }
    expect(elect(trimmed, nodes, undefined, config).watcher?.name).toBe('native');
  });

  test.each(PODS)(
    '%s: no managedFields, annotations, volumes, probes; only the policy env and the watcher label',
    (_what, p) => {
      const t = trim(noisy(p));
      const text = JSON.stringify(t);
      for (const gone of [
        'managedFields',
        'annotations',
        'volumes',
        'resources',
        'ports',
        'RUST_LOG',
        'K8S_NODE_IP_FOR_DEEPFLOW',
        'pod-template-hash',
        'resourceVersion',
      ])
        expect(text).not.toContain(gone);
      const env = [...(t.spec?.containers ?? []), ...(t.spec?.initContainers ?? [])]
        .flatMap((c) => c.env ?? [])
        .map((e) => e.name);
      expect(env.every((n) => n === 'K8S_WATCH_POLICY' || n === 'ONLY_WATCH_K8S_RESOURCE')).toBe(true);
      expect(Object.keys(t.metadata?.labels ?? {}).every((k) => k === 'deepflow.io/k8s-watcher')).toBe(true);
    },
  );

  test('the watcher label survives; a pod without an agent shrinks to its identity', () => {
    expect(trim(noisy(PODS[1]![1])).metadata?.labels).toEqual({ 'deepflow.io/k8s-watcher': 'true' });
    expect(trim(noisy(runningPod({ name: 'shop', containers: [app()] })))).toEqual({
      metadata: { name: 'shop', namespace: 'deepflow', uid: 'shop-uid' },
    });
  });

  test('the trimmed agent pod is a fraction of the real one', () => {
    const real = noisy(PODS[0]![1]);
    expect(JSON.stringify(trim(real)).length).toBeLessThan(JSON.stringify(real).length / 2);
  });
});
