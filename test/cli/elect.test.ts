/**
 * `k8s-watch-policy elect` through the built binary (DESIGN §6, §7): Pods with status and Nodes
 * in, the decision out as JSON or text; exit 0 with a watcher, 2 without.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { stringify } from 'yaml';
import { json, killAll, lines, requireBuild, run, tempDir } from '../support/cli.ts';

// Every call of the CLI starts a Node process (about 1 s on a busy 2-core machine); each call has
// its own shorter timeout (helpers.ts), so a hang fails with the command line rather than here.
jest.setTimeout(60_000);

type Obj = Record<string, any>;

const AGENT_IMAGE = 'registry.cn-beijing.aliyuncs.com/deepflow-ce/deepflow-agent:v6.6';
/** Minute `m` of a fixed morning, as Kubernetes writes timestamps. */
const T = (m: number): string => new Date(Date.UTC(2024, 4, 1, 9, m)).toISOString().replace('.000Z', 'Z');

interface PodOptions {
  namespace?: string;
  node?: string | null;
  /** Minute the pod became Ready (also its creation). */
  at: number;
  env?: Obj[];
  phase?: string;
  ready?: boolean;
  terminating?: boolean;
  containers?: Obj[];
}

function agentPod(name: string, o: PodOptions): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.namespace ?? 'deepflow',
      uid: `${name}-uid`,
      creationTimestamp: T(o.at),
      ...(o.terminating && { deletionTimestamp: T(59) }),
    },
    spec: {
      ...(o.node !== null && { nodeName: o.node ?? 'node-1' }),
      containers: o.containers ?? [{ name: 'deepflow-agent', image: AGENT_IMAGE, ...(o.env && { env: o.env }) }],
    },
    status: {
      phase: o.phase ?? 'Running',
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: T(o.at) },
        { type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: T(o.at) },
      ],
    },
  };
}

const policy = (value: string): Obj[] => [{ name: 'K8S_WATCH_POLICY', value }];

function node(name: string, ready: 'True' | 'False' | 'Unknown', labels: Obj = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels },
    status: { conditions: [{ type: 'Ready', status: ready }] },
  };
}

const NODES = [
  node('node-1', 'True'),
  node('node-2', 'False'),
  node('virtual-kubelet-a', 'True', { type: 'virtual-kubelet' }),
];

/** One pod of every kind of candidate; the minute is the order of the candidates list. */
const CLUSTER: Obj[] = [
  agentPod('ds-node-1', { at: 0 }),
  agentPod('ds-node-2', { at: 1, node: 'node-2' }),
  agentPod('sidecar', { at: 2, node: 'virtual-kubelet-a', env: policy('watch-disabled') }),
  agentPod('pending', { at: 3, phase: 'Pending', ready: false }),
  agentPod('starting', { at: 4, ready: false }),
  agentPod('old-style', { at: 5, env: [{ name: 'ONLY_WATCH_K8S_RESOURCE', value: 'true' }] }),
  agentPod('watcher-a', { at: 10, env: policy('watch-only') }),
  agentPod('watcher-b', { at: 11, env: policy('watch-only') }),
  agentPod('watcher-leaving', { at: 12, env: policy('watch-only'), terminating: true }),
  agentPod('typo', { at: 13, env: policy('WATCH-ONLY') }),
  agentPod('nginx', { at: 14, containers: [{ name: 'nginx', image: 'nginx:1.27' }] }), // not an agent: not a candidate
  // The design's spelling: an agent that reads watch-only (onlyWatchValue, by default) runs it as normal.
  agentPod('other-spelling', { at: 15, env: policy('only-watch') }),
];

const candidate = (name: string, nodeName: string, pol: string, eligible: boolean, reason: string) => ({
  namespace: 'deepflow',
  name,
  node: nodeName,
  policy: pol,
  eligible,
  reason,
});

function clusterCandidates(elected: string): Obj[] {
  const standing = (name: string) => (name === elected ? 'elected' : 'standby');
  return [
    candidate('ds-node-1', 'node-1', 'normal', true, 'lower-tier'),
    candidate('ds-node-2', 'node-2', 'normal', false, 'node-not-ready'),
    candidate('sidecar', 'virtual-kubelet-a', 'watch-disabled', false, 'watch-disabled'),
    candidate('pending', 'node-1', 'normal', false, 'not-running'),
    candidate('starting', 'node-1', 'normal', false, 'not-ready'),
    candidate('old-style', 'node-1', 'normal', false, 'deprecated-env'),
    candidate('watcher-a', 'node-1', 'only-watch', true, standing('watcher-a')),
    candidate('watcher-b', 'node-1', 'only-watch', true, standing('watcher-b')),
    candidate('watcher-leaving', 'node-1', 'only-watch', false, 'terminating'),
    candidate('typo', 'node-1', 'normal', true, 'lower-tier'),
    candidate('other-spelling', 'node-1', 'normal', true, 'lower-tier'),
  ];
}

const yamlOf = (docs: Obj[]): string => docs.map((d) => stringify(d)).join('---\n');

let tmp: Awaited<ReturnType<typeof tempDir>>;
let clusterFile: string;

beforeAll(async () => {
  requireBuild();
  tmp = await tempDir('elect');
  clusterFile = await tmp.file(
    'cluster.yaml',
    yamlOf([{ apiVersion: 'v1', kind: 'NodeList', items: NODES }, ...CLUSTER]),
  );
});

afterAll(async () => {
  await killAll();
  await tmp?.cleanup();
});

describe('elect -o json', () => {
  test('the DESIGN §7 shape exactly: the oldest only-watch pod wins, every agent pod is listed with its standing', async () => {
    const r = await run(['elect', '-f', clusterFile, '-o', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toStrictEqual({
      watcher: { namespace: 'deepflow', name: 'watcher-a', uid: 'watcher-a-uid', node: 'node-1', policy: 'only-watch' },
      reason: 'oldest-ready',
      candidates: clusterCandidates('watcher-a'),
    });
    // Field order as DESIGN §7 lists it.
    expect(Object.keys(out)).toEqual(['watcher', 'reason', 'candidates']);
    expect(Object.keys(out.watcher)).toEqual(['namespace', 'name', 'uid', 'node', 'policy']);
    for (const c of out.candidates)
      expect(Object.keys(c)).toEqual(['namespace', 'name', 'node', 'policy', 'eligible', 'reason']);
  });

  test('--current NS/NAME keeps an eligible watcher of the winning tier (stickiness)', async () => {
    const r = await run(['elect', '-f', clusterFile, '-o', 'json', '--current', 'deepflow/watcher-b']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toStrictEqual({
      watcher: { namespace: 'deepflow', name: 'watcher-b', uid: 'watcher-b-uid', node: 'node-1', policy: 'only-watch' },
      reason: 'sticky',
      candidates: clusterCandidates('watcher-b'),
    });
  });

  test.each([
    ['in a lower tier', 'deepflow/ds-node-1'],
    ['carrying the other only-watch spelling (a normal agent)', 'deepflow/other-spelling'],
    ['terminating', 'deepflow/watcher-leaving'],
    ['carrying ONLY_WATCH_K8S_RESOURCE', 'deepflow/old-style'],
    ['gone', 'deepflow/watcher-gone'],
    ['in another namespace', 'other/watcher-b'],
  ])('--current naming a pod %s is not kept', async (_name, current) => {
    const r = await run(['elect', '-f', clusterFile, '-o', 'json', '--current', current]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.watcher.name).toBe('watcher-a');
    expect(out.reason).toBe('oldest-ready');
  });

  test('without only-watch pods the oldest Ready normal agent is elected; JSON from stdin', async () => {
    const pods = [
      agentPod('ds-b', { at: 20, node: 'node-2' }),
      agentPod('ds-a', { at: 21 }),
      agentPod('ds-c', { at: 22 }),
      agentPod('sidecar', { at: 1, env: policy('watch-disabled') }),
    ];
    const r = await run(['elect', '-f', '-', '-o', 'json'], {
      stdin: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [...pods, node('node-2', 'True')] }),
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toStrictEqual({
      watcher: { namespace: 'deepflow', name: 'ds-b', uid: 'ds-b-uid', node: 'node-2', policy: 'normal' },
      reason: 'oldest-ready',
      candidates: [
        candidate('sidecar', 'node-1', 'watch-disabled', false, 'watch-disabled'),
        candidate('ds-b', 'node-2', 'normal', true, 'elected'),
        candidate('ds-a', 'node-1', 'normal', true, 'standby'),
        candidate('ds-c', 'node-1', 'normal', true, 'standby'),
      ],
    });
  });

  test('no eligible pod: watcher null, reason no-candidate, exit 2', async () => {
    const pods = [
      agentPod('sidecar', { at: 1, node: 'virtual-kubelet-a', env: policy('watch-disabled') }),
      agentPod('unscheduled', { at: 2, node: null, phase: 'Pending', ready: false }),
    ];
    const r = await run(['elect', '-f', '-', '-o', 'json'], { stdin: yamlOf(pods) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toStrictEqual({
      watcher: null,
      reason: 'no-candidate',
      candidates: [
        candidate('sidecar', 'virtual-kubelet-a', 'watch-disabled', false, 'watch-disabled'),
        candidate('unscheduled', '', 'normal', false, 'not-running'),
      ],
    });
  });

  test('an empty input: no candidates, exit 2', async () => {
    const r = await run(['elect', '-f', '-', '-o', 'json'], { stdin: '' });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toStrictEqual({ watcher: null, reason: 'no-candidate', candidates: [] });
  });

  test('--config election.namespaces limits the candidates', async () => {
    const config = await tmp.file('namespaces.yaml', 'election:\n  namespaces: [monitoring]\n');
    const pods = [
      agentPod('old', { at: 1 }),
      agentPod('watcher', { at: 2, namespace: 'monitoring', env: policy('watch-only') }),
    ];
    const all = await run(['elect', '-f', '-', '-o', 'json'], { stdin: yamlOf(pods) });
    expect(JSON.parse(all.stdout).candidates).toHaveLength(2);
    const r = await run(['elect', '-f', '-', '-o', 'json', '--config', config], { stdin: yamlOf(pods) });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toStrictEqual({
      watcher: { namespace: 'monitoring', name: 'watcher', uid: 'watcher-uid', node: 'node-1', policy: 'only-watch' },
      reason: 'oldest-ready',
      candidates: [{ ...candidate('watcher', 'node-1', 'only-watch', true, 'elected'), namespace: 'monitoring' }],
    });
  });

  test('--config onlyWatchValue: only-watch reads the pods as agents of that spelling do: only-watch is the only-watch tier, watch-only is normal', async () => {
    const config = await tmp.file('only-watch.yaml', 'onlyWatchValue: only-watch\n');
    const r = await run(['elect', '-f', clusterFile, '-o', 'json', '--config', config]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toStrictEqual({
      watcher: {
        namespace: 'deepflow',
        name: 'other-spelling',
        uid: 'other-spelling-uid',
        node: 'node-1',
        policy: 'only-watch',
      },
      reason: 'oldest-ready',
      candidates: [
        candidate('ds-node-1', 'node-1', 'normal', true, 'lower-tier'),
        candidate('ds-node-2', 'node-2', 'normal', false, 'node-not-ready'),
        candidate('sidecar', 'virtual-kubelet-a', 'watch-disabled', false, 'watch-disabled'),
        candidate('pending', 'node-1', 'normal', false, 'not-running'),
        candidate('starting', 'node-1', 'normal', false, 'not-ready'),
        candidate('old-style', 'node-1', 'normal', false, 'deprecated-env'),
        candidate('watcher-a', 'node-1', 'normal', true, 'lower-tier'),
        candidate('watcher-b', 'node-1', 'normal', true, 'lower-tier'),
        candidate('watcher-leaving', 'node-1', 'normal', false, 'terminating'),
        candidate('typo', 'node-1', 'normal', true, 'lower-tier'),
        candidate('other-spelling', 'node-1', 'only-watch', true, 'elected'),
      ],
    });
  });
});

const NOTE =
  "note: The DeepFlow server assigns the Kubernetes watch, steered only by the agents' K8S_WATCH_POLICY (which the webhook sets): " +
  'a watch-only agent takes it over, watch-disabled agents never get it. This is the agent the same rules choose; ' +
  'without a watch-only agent the server keeps whichever normal agent asked first, which may be another one.';

describe('elect -o text', () => {
  test('the watcher line and a table of the candidates', async () => {
    const r = await run(['elect', '-f', clusterFile, '-o', 'text', '--current', 'deepflow/watcher-b']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      'watcher: deepflow/watcher-b (policy only-watch, node node-1, reason sticky)',
      '',
      'NAMESPACE  NAME             NODE               POLICY          ELIGIBLE  REASON',
      'deepflow   ds-node-1        node-1             normal          true      lower-tier',
      'deepflow   ds-node-2        node-2             normal          false     node-not-ready',
      'deepflow   sidecar          virtual-kubelet-a  watch-disabled  false     watch-disabled',
      'deepflow   pending          node-1             normal          false     not-running',
      'deepflow   starting         node-1             normal          false     not-ready',
      'deepflow   old-style        node-1             normal          false     deprecated-env',
      'deepflow   watcher-a        node-1             only-watch      true      standby',
      'deepflow   watcher-b        node-1             only-watch      true      elected',
      'deepflow   watcher-leaving  node-1             only-watch      false     terminating',
      'deepflow   typo             node-1             normal          true      lower-tier',
      'deepflow   other-spelling   node-1             normal          true      lower-tier',
      '',
      NOTE,
    ]);
  });

  test('no watcher: says so, exit 2', async () => {
    const r = await run(['elect', '-f', '-', '-o', 'text'], {
      stdin: yamlOf([agentPod('sidecar', { at: 1, node: null, env: policy('watch-disabled') })]),
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(2);
    expect(lines(r.stdout)).toEqual([
      'watcher: none (reason no-candidate): no eligible agent pod',
      '',
      'NAMESPACE  NAME     NODE    POLICY          ELIGIBLE  REASON',
      'deepflow   sidecar  <none>  watch-disabled  false     unscheduled',
      '',
      NOTE,
    ]);
    const empty = await run(['elect', '-f', '-', '-o', 'text'], {
      stdin: json({ apiVersion: 'v1', kind: 'List', items: [] }),
    });
    expect(empty.code).toBe(2);
    expect(empty.stdout).toBe(
      `watcher: none (reason no-candidate): no eligible agent pod\ncandidates: none\n\n${NOTE}\n`,
    );
  });
});
