/**
 * `status` and `audit` at scale keep a small record per pod, computed as its page arrives, and
 * write their output a piece at a time: what they report must be what the reports over the whole
 * pods say, byte for byte. The election over `electionPod`'s records against the election over
 * the pods; audit rows computed pod by pod against `auditReport`; JSON and YAML in pieces against
 * `JSON.stringify` and yaml's `stringify`; tables, properties, and the realistic pods of the
 * scale benchmark's cluster.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/config.ts';
import type { Container, EnvVar, KubeObject, Node, Pod } from '../../src/kube/objects.ts';
import { auditContext, auditReport, auditReportOf, podRow, templateRow } from '../../src/report/audit_report.ts';
import { auditText, formatChunks, formatReport, statusText } from '../../src/report/render.ts';
import { electionPod } from '../../src/report/report_pods.ts';
import { statusReport, type StatusInput } from '../../src/report/status_report.ts';
import { BATCH, jsonChunks, yamlChunks } from '../../src/report/stream_format.ts';
import { elect } from '../../src/watcher_election/elect.ts';
import { agentCluster } from '../support/agent_cluster.ts';
import {
  AGENT_IMAGE,
  agent,
  app,
  cfg,
  daemonSetAffinity,
  ev,
  evFrom,
  istio,
  kubeNode,
  nativeSidecar,
  REASON,
  runningPod,
} from '../support/fixtures.ts';

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 200);
const DEPRECATED = 'ONLY_WATCH_K8S_RESOURCE';
const WATCHER_LABEL = 'deepflow.io/k8s-watcher';

const records = (pods: readonly Pod[], config: Config): Pod[] =>
  pods.map(electionPod(config)).filter((p): p is Pod => p !== undefined);

const at = (second: number) => `2024-05-01T10:00:${String(second).padStart(2, '0')}Z`;
const nodes = [kubeNode('node-1'), kubeNode('node-2', 'False'), kubeNode('node-3', 'Unknown')];

describe('electionPod: the election over the records is the election over the pods', () => {
  const cases: [string, Pod[], Config?][] = [
    [
      'a sidecar, a DaemonSet agent, a watcher',
      [
        runningPod({ name: 'shop-1', containers: [app(), agent({ env: [ev('K8S_WATCH_POLICY', 'watch-disabled')] })] }),
        runningPod({ name: 'ds-1', owner: 'DaemonSet', readySince: at(2) }),
        runningPod({ name: 'watcher', policy: 'watch-only', owner: 'ReplicaSet', readySince: at(5) }),
      ],
    ],
    [
      'the deprecated variable in an application, an init and an ephemeral container',
      [
        runningPod({ name: 'in-app', containers: [agent(), app('app', { env: [ev(DEPRECATED, 'true')] })] }),
        runningPod({ name: 'in-init', initContainers: [app('setup', { env: [ev(DEPRECATED, 'true')] })] }),
        runningPod({ name: 'in-debug', ephemeralContainers: [app('debug', { env: [ev(DEPRECATED)] })] }),
        runningPod({ name: 'clean', readySince: at(9) }),
      ],
    ],
    [
      'native sidecar agents, an ordinary init container named like the agent, an agent after the application',
      [
        runningPod({
          name: 'native',
          containers: [app()],
          initContainers: [nativeSidecar(agent({ env: [ev('K8S_WATCH_POLICY', 'watch-only')] }))],
        }),
        runningPod({ name: 'init-only', containers: [app()], initContainers: [agent()] }),
        runningPod({
          name: 'second',
          containers: [istio(), app(), agent({ env: [ev('K8S_WATCH_POLICY', 'watch-only')] })],
          initContainers: [nativeSidecar(agent({ name: 'agent-2' }))],
        }),
      ],
    ],
    [
      'terminating, not running, not ready, unscheduled, on NotReady and Unknown nodes',
      [
        runningPod({ name: 'terminating', terminating: true }),
        runningPod({ name: 'pending', phase: 'Pending' }),
        runningPod({ name: 'unready', ready: false }),
        runningPod({ name: 'unscheduled', node: null }),
        runningPod({ name: 'on-2', node: 'node-2', policy: 'watch-disabled' }),
        runningPod({ name: 'on-3', node: 'node-3' }),
        runningPod({ name: 'fine', node: 'node-1', readySince: at(30) }),
      ],
    ],
    [
      'valueFrom, duplicates (the last counts), the other spelling, invalid values, labels',
      [
        runningPod({ name: 'from', containers: [agent({ env: [evFrom('K8S_WATCH_POLICY')] })] }),
        runningPod({
          name: 'twice',
          containers: [
            agent({ env: [ev('K8S_WATCH_POLICY', 'watch-disabled'), ev('K8S_WATCH_POLICY', 'watch-only')] }),
          ],
        }),
        runningPod({ name: 'spelled', policy: 'only-watch', labels: { [WATCHER_LABEL]: 'true', app: 'x' } }),
        runningPod({ name: 'bogus', policy: 'WATCH-ONLY' }),
        runningPod({ name: 'no-ready-time', created: 'not a time' }),
      ],
    ],
    [
      'no agent: dropped',
      [runningPod({ name: 'app-only', containers: [app()] }), runningPod({ name: 'ok', readySince: at(1) })],
    ],
    [
      'agents by image, election namespaces',
      [
        runningPod({ name: 'by-image', namespace: 'deepflow', containers: [{ name: 'x', image: AGENT_IMAGE }] }),
        runningPod({ name: 'elsewhere', namespace: 'other' }),
      ],
      cfg({ election: { namespaces: ['deepflow'], leaseName: 'k8s-watcher' } }),
    ],
    [
      'agents by a configured name',
      [runningPod({ name: 'custom', containers: [app('probe')] }), runningPod({ name: 'default' })],
      cfg({ agent: { containerNames: ['probe'], imageNames: [], infrastructureContainers: [] } }),
    ],
  ];

  test.each(cases)('%s', (_name, pods, config = cfg()) => {
    const whole = elect(pods, nodes, { namespace: 'deepflow', name: 'watcher' }, config);
    expect(elect(records(pods, config), nodes, { namespace: 'deepflow', name: 'watcher' }, config)).toEqual(whole);
    expect(records(pods, config)).toHaveLength(whole.candidates.length);
  });

  test('a record keeps only what the election reads', () => {
    const pod = runningPod({
      name: 'shop-1',
      labels: { app: 'shop', [WATCHER_LABEL]: 'false' },
      annotations: { [REASON]: 'x' },
      containers: [
        app('shop', { env: [ev('DB', 'x')], ports: [{ containerPort: 80 }] }),
        agent({ env: [ev('RUST_LOG', 'info'), ev('K8S_WATCH_POLICY', 'watch-disabled')], resources: {} }),
      ],
    });
    pod.metadata!.managedFields = [{ manager: 'kube-controller-manager' }];
    expect(electionPod(cfg())(pod)).toEqual({
      metadata: {
        name: 'shop-1',
        namespace: 'deepflow',
        uid: 'shop-1-uid',
        creationTimestamp: '2024-05-01T10:00:00Z',
        labels: { [WATCHER_LABEL]: 'false' },
      },
      spec: {
        nodeName: 'node-1',
        containers: [{ name: 'deepflow-agent', image: AGENT_IMAGE, env: [ev('K8S_WATCH_POLICY', 'watch-disabled')] }],
      },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: at(0) }] },
    });
  });

  const policy = fc.constantFrom('watch-only', 'only-watch', 'watch-disabled', '', 'normal', 'bogus');
  const envVar: fc.Arbitrary<EnvVar> = fc.oneof(
    fc.record({ name: fc.constantFrom('K8S_WATCH_POLICY', DEPRECATED, 'RUST_LOG'), value: policy }),
    fc.constant(evFrom('K8S_WATCH_POLICY')),
    fc.constant({ name: 'K8S_WATCH_POLICY' }),
  );
  const container: fc.Arbitrary<Container> = fc
    .record({
      name: fc.constantFrom('deepflow-agent', 'app', 'istio-proxy', 'x'),
      image: fc.constantFrom(AGENT_IMAGE, 'busybox:1.36', undefined),
      env: fc.option(fc.array(envVar, { maxLength: 3 }), { nil: undefined }),
      restartPolicy: fc.constantFrom('Always', undefined),
    })
    .map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as unknown as Container);
  const podArb: fc.Arbitrary<Pod> = fc
    .record({
      i: fc.nat(5),
      namespace: fc.constantFrom('deepflow', 'other', undefined),
      containers: fc.array(container, { maxLength: 3 }),
      initContainers: fc.option(fc.array(container, { maxLength: 2 }), { nil: undefined }),
      ephemeralContainers: fc.option(fc.array(container, { maxLength: 1 }), { nil: undefined }),
      node: fc.constantFrom('node-1', 'node-2', 'node-3', 'node-9', null),
      phase: fc.constantFrom('Running', 'Pending', undefined),
      ready: fc.boolean(),
      terminating: fc.boolean(),
      readySince: fc.option(fc.nat(59).map(at), { nil: undefined }),
      created: fc.constantFrom(at(0), at(1), 'never'),
      watcherLabel: fc.constantFrom('true', 'false', undefined),
    })
    .map((g) => {
      const p = runningPod({
        name: `p${g.i}`,
        ...(g.namespace && { namespace: g.namespace }),
        containers: g.containers,
        ...(g.initContainers && { initContainers: g.initContainers }),
        ...(g.ephemeralContainers && { ephemeralContainers: g.ephemeralContainers }),
        node: g.node,
        ...(g.phase && { phase: g.phase }),
        ready: g.ready,
        terminating: g.terminating,
        created: g.created,
        ...(g.readySince && { readySince: g.readySince }),
        ...(g.watcherLabel && { labels: { [WATCHER_LABEL]: g.watcherLabel } }),
      });
      if (g.phase === undefined) delete p.status!.phase;
      return p;
    });

  test('property: any pods, any current watcher, two configs', () => {
    const configs = [
      cfg(),
      cfg({ onlyWatchValue: 'only-watch', election: { namespaces: ['deepflow'], leaseName: 'w' } }),
    ];
    fc.assert(
      fc.property(
        fc.array(podArb, { maxLength: 8 }),
        fc.constantFrom(
          undefined,
          { namespace: 'deepflow', name: 'p1' },
          { namespace: 'deepflow', name: 'p2', uid: 'x' },
        ),
        fc.constantFrom(...configs),
        (pods, current, config) => {
          expect(elect(records(pods, config), nodes, current, config)).toEqual(elect(pods, nodes, current, config));
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('audit: rows computed pod by pod make the report of the whole pods', () => {
  const sidecar = (name: string, env: EnvVar[], extra: Parameters<typeof runningPod>[0] = {}) =>
    runningPod({ name, containers: [agent({ env }), app()], ...extra });
  const deployment = (name: string, namespace: string, containers: Container[]): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: { template: { spec: { containers } } },
  });
  const input = {
    config: cfg(),
    configSource: 'file c.yaml',
    nodes: [kubeNode('virtual-1', 'True', { type: 'virtual-kubelet' }), kubeNode('node-1')],
    optedInNamespaces: new Set(['deepflow']),
    controllers: [
      deployment('legacy', 'deepflow', [agent({ env: [ev(DEPRECATED, 'true')] })]),
      deployment('shop', 'other', [agent(), app()]),
    ],
    pods: [
      sidecar('shop-1', [], { labels: { 'pod-template-hash': '5d8f' }, owner: 'ReplicaSet' }),
      sidecar('typo', [ev('K8S_WATCH_POLICY', 'WATCH-ONLY')], { namespace: 'other' }),
      sidecar('twice', [ev('K8S_WATCH_POLICY', 'watch-disabled'), ev('K8S_WATCH_POLICY', 'watch-disabled')]),
      runningPod({
        name: 'on-virtual',
        node: 'virtual-1',
        owner: 'DaemonSet',
        spec: { affinity: daemonSetAffinity('virtual-1') },
      }),
      runningPod({ name: 'no-agent', containers: [app()] }),
      sidecar('ok', [ev('K8S_WATCH_POLICY', 'watch-disabled')], {
        annotations: { [REASON]: 'watch-disabled/serverless-sidecar' },
      }),
    ],
  };

  test('the same report, the same text', () => {
    const context = auditContext(input);
    const rows = [
      ...input.pods.map((p) => podRow(p, context)),
      ...input.controllers.map((c) => templateRow(c, context)),
    ];
    expect(rows.filter((r) => r === undefined)).toHaveLength(1); // the pod without an agent
    const streamed = auditReportOf(
      rows.filter((r) => r !== undefined),
      input,
    );
    const whole = auditReport(input);
    expect(streamed).toEqual(whole);
    expect(whole.rows.map((r) => r.rule)).toContain('serverless-node-label');
    expect(auditText(streamed, true)).toBe(auditText(whole, true));
  });

  test('the order of the rows does not depend on the order the pages came in', () => {
    const context = auditContext(input);
    const rows = () => input.pods.map((p) => podRow(p, context)).filter((r) => r !== undefined);
    const forward = auditReportOf(rows(), input).rows.map((r) => r.name);
    expect(auditReportOf(rows().reverse(), input).rows.map((r) => r.name)).toEqual(forward);
  });
});

describe('the benchmark cluster: realistic pods, whole and reduced', () => {
  const cluster = agentCluster({ pods: BATCH * 2 + 37, namespaces: 7 });
  const pods = Array.from({ length: cluster.pods }, (_, i) => JSON.parse(cluster.pod(i)) as Pod);
  const nodeList: Node[] = Array.from({ length: cluster.nodes }, (_, k) => kubeNode(`node-${k}`));
  const config = cfg();
  const statusInput = (p: readonly Pod[]): StatusInput => ({
    config,
    configSource: 'defaults (no ConfigMap of k8s-watch-policy found)',
    pods: p,
    nodes: nodeList,
    controllerPods: [],
    webhook: { configurations: ['MutatingWebhookConfiguration/k8s-watch-policy'], endpoints: [] },
  });

  test('status: the same report from the records; its text, JSON and YAML in pieces are the whole', () => {
    const whole = statusReport(statusInput(pods));
    const reduced = statusReport(statusInput(records(pods, config)));
    expect(reduced).toEqual(whole);
    expect(whole.agents).toHaveLength(cluster.pods);
    expect(whole.elected?.name).toBe('deepflow-agent-watcher-7f9c6d8b5d-w4tch');
    expect(statusText(reduced, false)).toBe(statusText(whole, false));
    for (const format of ['json', 'yaml'] as const)
      expect([...formatChunks(reduced, format)].join('')).toBe(formatReport(whole, format));
  });

  test('audit: the same report from rows made pod by pod; JSON and YAML in pieces are the whole', () => {
    const scope = { config, configSource: 'defaults', nodes: nodeList, optedInNamespaces: new Set(['ns-1']) };
    const context = auditContext(scope);
    const rows = pods.map((p) => podRow(p, context)).filter((r) => r !== undefined);
    const streamed = auditReportOf(rows, scope);
    const whole = auditReport({ ...scope, pods, controllers: [] });
    expect(streamed).toEqual(whole);
    expect(new Set(whole.rows.map((r) => r.rule))).toEqual(
      new Set(['watcher-deployment', 'default', 'serverless-sidecar']),
    );
    expect(whole.exitCode).toBe(0);
    for (const format of ['json', 'yaml'] as const)
      expect([...formatChunks(streamed, format)].join('')).toBe(formatReport(whole, format));
  });
});

describe('JSON and YAML in pieces: the bytes of the whole', () => {
  const awkward = fc.oneof(
    fc.constantFrom(
      '',
      'true',
      'False',
      'NULL',
      'null',
      '~',
      '1',
      '0x1f',
      '1e3',
      '.inf',
      '(unset)',
      'a: b',
      '- x',
      '#x',
    ),
    fc.constantFrom('---', '...', 'a\nb', 'a\n\nb\n', ' lead', 'trail ', 'é', '"q"', "'s'", 'x:', 'y', 'on', 'a #b'),
    fc.string({ maxLength: 12 }),
    fc.string({ unit: 'grapheme', maxLength: 6 }),
    fc.stringMatching(/^[A-Za-z(][\w./()-]{0,20}$/),
  );
  const value: fc.Arbitrary<unknown> = fc.oneof(
    { weight: 5, arbitrary: awkward },
    fc.boolean(),
    fc.constant(null),
    fc.integer(),
    fc.array(awkward, { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b c'), awkward, { maxKeys: 2 }),
  );
  const row = fc.oneof(
    { weight: 6, arbitrary: fc.dictionary(fc.constantFrom('kind', 'name', 'drift', 'x y', '1', 'true'), value) },
    awkward,
  );
  const report = fc.record({
    config: awkward,
    namespace: fc.option(awkward, { nil: null }),
    rows: fc.array(row, { maxLength: 12 }),
    actions: fc.array(awkward, { maxLength: 3 }),
    exitCode: fc.constantFrom(0, 1),
    gone: fc.constant(undefined),
  });

  test('property: any report of lists of maps and scalars', () => {
    fc.assert(
      fc.property(report, (r) => {
        expect([...jsonChunks(r)].join('')).toBe(JSON.stringify(r, null, 2) + '\n');
        expect([...yamlChunks(r)].join('')).toBe(stringify(r, { lineWidth: 0 }));
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  test('property: rows of plain scalars and lists of them (written without the library)', () => {
    const plain = fc.oneof(fc.stringMatching(/^[A-Za-z(][\w./()-]{0,20}$/), fc.constantFrom('', 'true', 'Null', 'x'));
    const plainRow = fc.dictionary(
      fc.constantFrom('kind', 'name', 'drift', 'optedIn'),
      fc.oneof(plain, fc.boolean(), fc.constant(null), fc.array(plain, { maxLength: 3 })),
      { minKeys: 1 },
    );
    fc.assert(
      fc.property(fc.array(fc.oneof({ weight: 5, arbitrary: plainRow }, plain), { maxLength: 8 }), (rows) => {
        const r = { config: 'defaults', rows, exitCode: 0 };
        expect([...yamlChunks(r)].join('')).toBe(stringify(r, { lineWidth: 0 }));
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  test('lists longer than a batch, empty lists and objects', () => {
    const r = {
      rows: Array.from({ length: BATCH * 2 + 1 }, (_, i) => ({
        name: `pod-${i}`,
        eligible: i % 2 === 0,
        drift: i % 3 ? [] : ['policy', 'reason-missing'],
      })),
      none: [],
      empty: {},
      nested: { a: [{ b: 1 }] },
    };
    const json = [...jsonChunks(r)];
    expect(json.length).toBeGreaterThan(3);
    expect(json.join('')).toBe(JSON.stringify(r, null, 2) + '\n');
    const yaml = [...yamlChunks(r)];
    expect(yaml.length).toBeGreaterThan(3);
    expect(yaml.join('')).toBe(stringify(r, { lineWidth: 0 }));
    expect([...jsonChunks({})].join('')).toBe('{}\n');
  });
});
