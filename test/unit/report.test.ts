/**
 * The status and audit reports (pure) on fixed inputs: their warnings, drift, actions and exit
 * codes, and their text tables against goldens in test/fixtures/report/ (UPDATE_GOLDEN=1 rewrites them).
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { auditReport } from '../../src/report/audit_report.ts';
import { auditText, painter, statusText } from '../../src/report/render.ts';
import { statusReport, type StatusInput } from '../../src/report/status_report.ts';
import type { Lease, Pod } from '../../src/kube/objects.ts';
import { agent, app, cfg, ev, kubeNode, owner, REASON, runningPod } from '../support/fixtures.ts';

const GOLDEN = new URL('../fixtures/report/', import.meta.url);
function golden(name: string, actual: string): void {
  const file = new URL(name, GOLDEN);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

const watcherLease = (holder: string | null): Lease => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: {
    name: 'k8s-watcher',
    namespace: 'deepflow-system',
    annotations: {
      'deepflow.io/election-reason': 'oldest-ready',
      'deepflow.io/watcher-policy': 'only-watch',
      'deepflow.io/watcher-node': 'node-1',
    },
  },
  spec: { holderIdentity: holder, acquireTime: '2026-11-28T10:00:00.000000Z', leaseTransitions: 3 },
});
const leaderLease: Lease = {
  metadata: { name: 'k8s-watch-policy-controller', namespace: 'deepflow-system' },
  spec: { holderIdentity: 'controller-0' },
};
const webhook = {
  configurations: ['MutatingWebhookConfiguration/k8s-watch-policy', 'ValidatingWebhookConfiguration/k8s-watch-policy'],
  endpoints: [{ webhook: 'x', target: 'service deepflow-system/k8s-watch-policy-webhook:443' }],
  readyEndpoints: 2,
  answers: { ok: true, detail: 'GET /readyz through the API server: ok' },
};
const at = (second: number) => `2024-05-01T10:00:0${second}Z`;
const watch = (name: string, second: number, value = 'watch-only'): Pod =>
  runningPod({
    name,
    readySince: at(second),
    containers: [agent({ env: [ev('K8S_WATCH_POLICY', value)] })],
    owner: 'ReplicaSet',
  });
const input = (over: Partial<StatusInput> = {}): StatusInput => ({
  config: cfg(),
  configSource: 'configmap deepflow-system/k8s-watch-policy-config',
  pods: [watch('watcher-a', 1), runningPod({ name: 'ds-1', readySince: at(0) })],
  nodes: [kubeNode('node-1')],
  watcherLease: watcherLease('deepflow/watcher-a'),
  leaderLease,
  controllerPods: [runningPod({ name: 'controller-0', readySince: at(0), containers: [app('controller')] })],
  webhook,
  ...over,
});

describe('status', () => {
  test('healthy: exit 0, no warning; the text golden', () => {
    const r = statusReport(input());
    expect(r).toMatchObject({
      exitCode: 0,
      warnings: [],
      elected: { name: 'watcher-a', policy: 'only-watch' },
      controller: { namespace: 'deepflow-system', leader: 'controller-0' },
    });
    golden('status-healthy.txt', statusText(r, false));
  });

  test.each([
    ['no agent pod', { pods: [] }, 2, ['no-watcher']],
    [
      'only watch-disabled agents',
      {
        pods: [
          runningPod({
            name: 's',
            readySince: at(0),
            containers: [agent({ env: [ev('K8S_WATCH_POLICY', 'watch-disabled')] }), app()],
          }),
        ],
      },
      2,
      ['no-watcher'],
    ],
    ['two watch-only agents', { pods: [watch('watcher-a', 1), watch('watcher-b', 2)] }, 1, ['several-watch-only']],
    [
      'the other spelling is normal, not watch-only: no warning',
      { pods: [watch('watcher-a', 1), watch('watcher-b', 2, 'only-watch')] },
      0,
      [],
    ],
    [
      'an agent with ONLY_WATCH_K8S_RESOURCE',
      {
        pods: [
          watch('watcher-a', 1),
          runningPod({
            name: 'old',
            readySince: at(2),
            containers: [agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'true')] })],
          }),
        ],
      },
      1,
      ['deprecated-env'],
    ],
    ['no watcher Lease', { watcherLease: undefined }, 1, ['no-controller']],
    ['no controller leads', { leaderLease: { metadata: { name: 'x' }, spec: {} } }, 1, ['no-controller']],
    ['the Lease lags behind', { watcherLease: watcherLease('deepflow/ds-1') }, 1, ['published-differs']],
    ['the webhook not registered', { webhook: { configurations: [], endpoints: [] } }, 1, ['webhook-not-registered']],
    ['no ready endpoint', { webhook: { ...webhook, readyEndpoints: 0 } }, 1, ['webhook-no-endpoints']],
    [
      'the webhook does not answer',
      { webhook: { ...webhook, answers: { ok: false, detail: '503' } } },
      1,
      ['webhook-not-answering'],
    ],
  ] as const)('%s: exit %d, %j', (_name, over, exitCode, kinds) => {
    const r = statusReport(input(over as Partial<StatusInput>));
    expect(r.warnings.map((w) => w.kind)).toEqual(kinds);
    expect(r.exitCode).toBe(exitCode);
  });

  test('-n limits the table, not the election: a watcher elsewhere is still a watcher', () => {
    const r = statusReport(input({ namespace: 'elsewhere' }));
    expect(r).toMatchObject({ exitCode: 0, warnings: [], agents: [], elected: { name: 'watcher-a' } });
    expect(statusReport(input({ namespace: 'deepflow' })).agents.map((a) => a.name)).toEqual(['ds-1', 'watcher-a']);
  });

  test('colours on a terminal: the same text with ANSI codes around it', () => {
    const r = statusReport(input({ pods: [] }));
    const plain = statusText(r, false);
    const coloured = statusText(r, true);
    expect(coloured).not.toBe(plain);
    expect(coloured.replace(new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, 'g'), '')).toBe(plain);
    expect(painter(false)('x', 'red')).toBe('x');
  });
});

describe('audit', () => {
  const pod = (name: string, env: ReturnType<typeof ev>[], extra: Partial<Parameters<typeof runningPod>[0]> = {}) =>
    runningPod({ name, readySince: at(0), containers: [agent({ env }), app()], ...extra });

  test('every kind of drift, the actions, exit 1; the text golden', () => {
    const sidecar = {
      ...pod('shop-5d8f-abcde', []),
      metadata: {
        ...pod('shop-5d8f-abcde', []).metadata,
        labels: { 'pod-template-hash': '5d8f' },
        ownerReferences: [owner('ReplicaSet', 'shop-5d8f')],
      },
    } as Pod;
    const r = auditReport({
      config: cfg(),
      configSource: 'file c.yaml',
      namespace: 'deepflow',
      nodes: [],
      controllers: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'legacy', namespace: 'deepflow' },
          spec: { template: { spec: { containers: [agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'true')] })] } } },
        },
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'shop', namespace: 'deepflow' },
          spec: { strategy: { rollingUpdate: { maxSurge: 0 } }, template: { spec: { containers: [agent(), app()] } } },
        },
      ],
      pods: [
        sidecar,
        pod('typo', [ev('K8S_WATCH_POLICY', 'WATCH-ONLY')]),
        pod('twice', [ev('K8S_WATCH_POLICY', 'watch-disabled'), ev('K8S_WATCH_POLICY', 'watch-disabled')]),
        pod('explained', [ev('K8S_WATCH_POLICY', 'watch-disabled')], {
          annotations: { [REASON]: 'watch-disabled/serverless-sidecar' },
        }),
        runningPod({ name: 'no-agent', readySince: at(0), containers: [app()] }),
      ],
    });
    expect(Object.fromEntries(r.rows.map((x) => [`${x.kind}/${x.name}`, x.drift]))).toEqual({
      'Deployment/legacy': ['denied', 'deprecated-env'],
      'Deployment/shop': [],
      'Pod/explained': [],
      'Pod/shop-5d8f-abcde': ['policy', 'reason-missing'],
      'Pod/twice': ['reason-missing', 'duplicate-entries'],
      'Pod/typo': ['denied', 'reason-missing', 'invalid-value'],
    });
    expect(r.rows.find((x) => x.name === 'shop-5d8f-abcde')).toMatchObject({
      workload: 'Deployment/shop',
      value: '(unset)',
      policy: 'normal',
      wouldBe: 'watch-disabled',
      rule: 'serverless-sidecar',
    });
    expect(r.actions).toEqual([
      'fix the pod template of Deployment/legacy in deepflow (denied, deprecated-env): kubectl edit deployment/legacy -n deepflow',
      'kubectl rollout restart deployment/shop -n deepflow',
      'recreate pod twice (Pod/twice): kubectl delete pod twice -n deepflow, then create it again',
      'fix the pod template of Pod/typo in deepflow (denied, invalid-value): kubectl edit pod/typo -n deepflow',
      'recreate pod typo (Pod/typo): kubectl delete pod typo -n deepflow, then create it again',
    ]);
    expect(r.exitCode).toBe(1);
    golden('audit-drift.txt', auditText(r, false));
  });

  test('rows in a stable order: by namespace, controllers before pods, then kind and name', () => {
    const ds = (name: string, ns: string) => ({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name, namespace: ns },
      spec: { template: { spec: { containers: [agent()] } } },
    });
    const dep = (name: string, ns: string) => ({ ...ds(name, ns), kind: 'Deployment' });
    const controllers = [dep('b', 'y'), ds('a', 'y'), dep('a', 'x'), ds('z', 'x')];
    const rows = (list: typeof controllers) =>
      auditReport({ config: cfg(), configSource: 'defaults', nodes: [], pods: [], controllers: list }).rows.map(
        (r) => `${r.namespace}/${r.kind}/${r.name}`,
      );
    expect(rows(controllers)).toEqual(['x/DaemonSet/z', 'x/Deployment/a', 'y/DaemonSet/a', 'y/Deployment/b']);
    expect(rows([...controllers].reverse())).toEqual(rows(controllers));
  });

  test('a namespace that is not opted in: the action says to opt it in first (restarting alone changes nothing)', () => {
    const unreviewed = pod('sidecar', []);
    const actions = (optedInNamespaces: Set<string>) =>
      auditReport({
        config: cfg(),
        configSource: 'defaults',
        nodes: [],
        controllers: [],
        pods: [unreviewed],
        optedInNamespaces,
      }).actions;
    expect(actions(new Set())).toEqual([
      'opt namespace deepflow in, or its pods are never reviewed: kubectl label namespace deepflow deepflow.io/k8s-watch-policy-injection=enabled',
      'recreate pod sidecar (Pod/sidecar): kubectl delete pod sidecar -n deepflow, then create it again',
    ]);
    expect(actions(new Set(['deepflow']))).toEqual([
      'recreate pod sidecar (Pod/sidecar): kubectl delete pod sidecar -n deepflow, then create it again',
    ]);
  });

  test('pods as the webhook admitted them: no drift, exit 0', () => {
    const admitted = pod('sidecar', [ev('K8S_WATCH_POLICY', 'watch-disabled')], {
      annotations: { [REASON]: 'watch-disabled/serverless-sidecar' },
    });
    const r = auditReport({ config: cfg(), configSource: 'defaults', nodes: [], controllers: [], pods: [admitted] });
    expect(r).toMatchObject({ exitCode: 0, actions: [], rows: [{ name: 'sidecar', drift: [] }] });
    expect(auditText(r, false)).toContain('\nno drift\n');
  });
});
