import { describe, expect, test } from '@jest/globals';
import { candidatePods, podPolicy } from '../../src/watcher_election/candidates.ts';
import { elect, type Election, type WatcherRef } from '../../src/watcher_election/elect.ts';
import type { Config } from '../../src/config/config.ts';
import type { Node, Pod } from '../../src/kube/objects.ts';
import { agent, app, cfg, ev, evFrom, kubeNode, nativeSidecar, runningPod } from '../support/fixtures.ts';

const T = (minute: number) => `2024-05-01T10:${String(minute).padStart(2, '0')}:00Z`;

function run(pods: Pod[], current?: WatcherRef, nodes: Node[] = [], config: Config = cfg()): Election {
  return elect(pods, nodes, current, config);
}

const reasonOf = (e: Election, name: string) => e.candidates.find((c) => c.name === name)?.reason;

describe('elect: DESIGN §6', () => {
  test('1. watch-disabled is excluded', () => {
    const e = run([runningPod({ name: 'sidecar', policy: 'watch-disabled' })]);
    expect(e).toEqual({
      watcher: null,
      reason: 'no-candidate',
      candidates: [
        {
          namespace: 'deepflow',
          name: 'sidecar',
          node: 'node-1',
          policy: 'watch-disabled',
          eligible: false,
          reason: 'watch-disabled',
        },
      ],
    });
  });

  test('1. watch-disabled is excluded even when it is the oldest', () => {
    const e = run([
      runningPod({ name: 'old', policy: 'watch-disabled', created: T(0) }),
      runningPod({ name: 'young', created: T(5) }),
    ]);
    expect(e.watcher?.name).toBe('young');
  });

  test('2. the only-watch tier beats the normal tier', () => {
    const e = run([
      runningPod({ name: 'ds-a', created: T(0) }),
      runningPod({ name: 'watcher', policy: 'watch-only', created: T(9) }),
      runningPod({ name: 'ds-b', created: T(1) }),
    ]);
    expect(e.watcher).toEqual({
      namespace: 'deepflow',
      name: 'watcher',
      uid: 'watcher-uid',
      node: 'node-1',
      policy: 'only-watch',
    });
    expect(e.reason).toBe('oldest-ready');
    expect(e.candidates.map((c) => [c.name, c.reason])).toEqual([
      ['ds-a', 'lower-tier'],
      ['ds-b', 'lower-tier'],
      ['watcher', 'elected'],
    ]);
  });

  test('2. the configured spelling (watch-only by default) is only-watch', () => {
    const e = run([
      runningPod({ name: 'ds', created: T(0) }),
      runningPod({ name: 'w', policy: 'watch-only', created: T(5) }),
    ]);
    expect(e.watcher).toMatchObject({ name: 'w', policy: 'only-watch' });
  });

  test('2. the other spelling reads as the agent reads it: only-watch is normal by default, only-watch with onlyWatchValue only-watch', () => {
    const pods = [
      runningPod({ name: 'ds', created: T(0) }),
      runningPod({ name: 'w', policy: 'only-watch', created: T(5) }),
    ];
    const byDefault = run(pods);
    expect(byDefault.watcher).toEqual({
      namespace: 'deepflow',
      name: 'ds',
      uid: 'ds-uid',
      node: 'node-1',
      policy: 'normal',
    });
    expect(byDefault.candidates.map((c) => [c.name, c.policy, c.reason])).toEqual([
      ['ds', 'normal', 'elected'],
      ['w', 'normal', 'standby'],
    ]);
    const designSpelling = run(pods, undefined, [], cfg({ onlyWatchValue: 'only-watch' }));
    expect(designSpelling.watcher).toEqual({
      namespace: 'deepflow',
      name: 'w',
      uid: 'w-uid',
      node: 'node-1',
      policy: 'only-watch',
    });
    expect(designSpelling.candidates.map((c) => [c.name, c.policy, c.reason])).toEqual([
      ['ds', 'normal', 'lower-tier'],
      ['w', 'only-watch', 'elected'],
    ]);
    // And then watch-only is the spelling that agent does not read.
    const released = run(
      [runningPod({ name: 'ds', created: T(0) }), runningPod({ name: 'w', policy: 'watch-only', created: T(5) })],
      undefined,
      [],
      cfg({ onlyWatchValue: 'only-watch' }),
    );
    expect(released.watcher).toMatchObject({ name: 'ds', policy: 'normal' });
    expect(released.candidates.find((c) => c.name === 'w')).toMatchObject({
      policy: 'normal',
      eligible: true,
      reason: 'standby',
    });
  });

  test('2. normal agents are the fallback', () => {
    const e = run([
      runningPod({ name: 'ds-b', created: T(1) }),
      runningPod({ name: 'ds-a', created: T(0) }),
      runningPod({ name: 's', policy: 'watch-disabled' }),
    ]);
    expect(e.watcher).toMatchObject({ name: 'ds-a', policy: 'normal' });
    expect(reasonOf(e, 'ds-b')).toBe('standby');
  });

  test('3. stickiness: the current watcher stays while eligible and in the winning tier', () => {
    const pods = [runningPod({ name: 'old', created: T(0) }), runningPod({ name: 'current', created: T(5) })];
    const e = run(pods, { namespace: 'deepflow', name: 'current', uid: 'current-uid' });
    expect(e.watcher?.name).toBe('current');
    expect(e.reason).toBe('sticky');
    expect(reasonOf(e, 'old')).toBe('standby');
  });

  test('3. stickiness without a uid in the reference', () => {
    const e = run([runningPod({ name: 'old', created: T(0) }), runningPod({ name: 'current', created: T(5) })], {
      namespace: 'deepflow',
      name: 'current',
    });
    expect(e).toMatchObject({ watcher: { name: 'current' }, reason: 'sticky' });
  });

  test('3. the current watcher does not stay when a better tier appears', () => {
    const e = run(
      [
        runningPod({ name: 'current', created: T(0) }),
        runningPod({ name: 'watcher', policy: 'watch-only', created: T(30) }),
      ],
      { namespace: 'deepflow', name: 'current', uid: 'current-uid' },
    );
    expect(e).toMatchObject({ watcher: { name: 'watcher' }, reason: 'oldest-ready' });
    expect(reasonOf(e, 'current')).toBe('lower-tier');
  });

  test('3. the current watcher does not stay when it is no longer eligible', () => {
    const e = run(
      [runningPod({ name: 'current', created: T(0), ready: false }), runningPod({ name: 'other', created: T(5) })],
      { namespace: 'deepflow', name: 'current', uid: 'current-uid' },
    );
    expect(e).toMatchObject({ watcher: { name: 'other' }, reason: 'oldest-ready' });
  });

  test('3. a pod re-created under the same name (other uid) is a new pod', () => {
    const recreated = runningPod({ name: 'current', uid: 'new-uid', created: T(20) });
    const e = run([runningPod({ name: 'old', created: T(0) }), recreated], {
      namespace: 'deepflow',
      name: 'current',
      uid: 'current-uid',
    });
    expect(e).toMatchObject({ watcher: { name: 'old' }, reason: 'oldest-ready' });
  });

  test('3. the reference must match the namespace too', () => {
    const e = run([runningPod({ name: 'old', created: T(0) }), runningPod({ name: 'current', created: T(5) })], {
      namespace: 'other',
      name: 'current',
    });
    expect(e.watcher?.name).toBe('old');
  });

  test('4. the oldest Ready transition wins, not the oldest creation', () => {
    const e = run([
      runningPod({ name: 'a', created: T(0), readySince: T(20) }),
      runningPod({ name: 'b', created: T(10), readySince: T(11) }),
    ]);
    expect(e.watcher?.name).toBe('b');
  });

  test('4. equal Ready times: the oldest creation wins', () => {
    const e = run([
      runningPod({ name: 'a', created: T(5), readySince: T(20) }),
      runningPod({ name: 'b', created: T(1), readySince: T(20) }),
    ]);
    expect(e.watcher?.name).toBe('b');
  });

  test('4. equal times: namespace, then name', () => {
    const same = { created: T(0), readySince: T(1) };
    expect(
      run([
        runningPod({ name: 'b', namespace: 'a-ns', ...same }),
        runningPod({ name: 'a', namespace: 'b-ns', ...same }),
      ]).watcher,
    ).toMatchObject({
      namespace: 'a-ns',
      name: 'b',
    });
    expect(run([runningPod({ name: 'b', ...same }), runningPod({ name: 'a', ...same })]).watcher?.name).toBe('a');
  });

  test('4. without a Ready transition time, the creation time is used', () => {
    const noTime = runningPod({ name: 'a', created: T(0) });
    delete noTime.status!.conditions![1]!.lastTransitionTime;
    const e = run([runningPod({ name: 'b', created: T(5), readySince: T(6) }), noTime]);
    expect(e.watcher?.name).toBe('a');
  });

  test('5. no candidate: no watcher', () => {
    expect(run([])).toEqual({ watcher: null, reason: 'no-candidate', candidates: [] });
    expect(run([runningPod({ name: 'x', ready: false })])).toMatchObject({ watcher: null, reason: 'no-candidate' });
  });
});

describe('eligibility', () => {
  test.each<[string, Pod, string, Node[]?]>([
    ['terminating', runningPod({ name: 'x', terminating: true }), 'terminating'],
    [
      'terminating wins over not ready',
      runningPod({ name: 'x', terminating: true, ready: false, phase: 'Pending' }),
      'terminating',
    ],
    ['Pending', runningPod({ name: 'x', phase: 'Pending' }), 'not-running'],
    ['Succeeded', runningPod({ name: 'x', phase: 'Succeeded' }), 'not-running'],
    ['not Ready', runningPod({ name: 'x', ready: false }), 'not-ready'],
    ['no status', { ...runningPod({ name: 'x' }), status: {} }, 'not-running'],
    ['no Ready condition', { ...runningPod({ name: 'x' }), status: { phase: 'Running', conditions: [] } }, 'not-ready'],
    ['unscheduled', runningPod({ name: 'x', node: null }), 'unscheduled'],
    ['node NotReady', runningPod({ name: 'x', node: 'node-1' }), 'node-not-ready', [kubeNode('node-1', 'False')]],
    [
      'node Ready Unknown',
      runningPod({ name: 'x', node: 'node-1' }),
      'node-not-ready',
      [kubeNode('node-1', 'Unknown')],
    ],
    [
      'ONLY_WATCH_K8S_RESOURCE on the agent',
      runningPod({ name: 'x', containers: [agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'true')] })] }),
      'deprecated-env',
    ],
    [
      'ONLY_WATCH_K8S_RESOURCE (empty) on another container',
      runningPod({ name: 'x', containers: [agent(), app('web', { env: [ev('ONLY_WATCH_K8S_RESOURCE', '')] })] }),
      'deprecated-env',
    ],
    [
      'ONLY_WATCH_K8S_RESOURCE with watch-only',
      runningPod({
        name: 'x',
        containers: [agent({ env: [ev('K8S_WATCH_POLICY', 'watch-only'), ev('ONLY_WATCH_K8S_RESOURCE', 'true')] })],
      }),
      'deprecated-env',
    ],
    ['watch-disabled', runningPod({ name: 'x', policy: 'watch-disabled' }), 'watch-disabled'],
  ])('%s -> %s', (_name, p, reason, nodes = []) => {
    const e = run([p], undefined, nodes);
    expect(e.watcher).toBeNull();
    expect(e.candidates).toHaveLength(1);
    expect(e.candidates[0]).toMatchObject({ name: 'x', eligible: false, reason });
  });

  test('a Ready node, or a node not known at all, does not exclude', () => {
    expect(
      run([runningPod({ name: 'x', node: 'node-1' })], undefined, [kubeNode('node-1', 'True')]).watcher?.name,
    ).toBe('x');
    expect(
      run([runningPod({ name: 'x', node: 'node-9' })], undefined, [kubeNode('node-1', 'False')]).watcher?.name,
    ).toBe('x');
  });

  test('a NotReady node only excludes its own pods', () => {
    const e = run(
      [
        runningPod({ name: 'a', node: 'node-1', created: T(0) }),
        runningPod({ name: 'b', node: 'node-2', created: T(5) }),
      ],
      undefined,
      [kubeNode('node-1', 'False'), kubeNode('node-2', 'True')],
    );
    expect(e.watcher?.name).toBe('b');
    expect(reasonOf(e, 'a')).toBe('node-not-ready');
  });

  test.each<[string, Pod]>([
    ['valueFrom', runningPod({ name: 'x', containers: [agent({ env: [evFrom('K8S_WATCH_POLICY')] })] })],
    ['an unknown value', runningPod({ name: 'x', policy: 'WATCH-ONLY' })],
    ['the label value "normal"', runningPod({ name: 'x', policy: 'normal' })],
    ['an empty value', runningPod({ name: 'x', policy: '' })],
    ['no value field', runningPod({ name: 'x', containers: [agent({ env: [ev('K8S_WATCH_POLICY')] })] })],
    ['the other only-watch spelling', runningPod({ name: 'x', policy: 'only-watch' })],
  ])('%s counts as normal', (_name, p) => {
    const e = run([p, runningPod({ name: 'w', policy: 'watch-only', created: T(30) })]);
    expect(e.candidates.find((c) => c.name === 'x')).toMatchObject({
      policy: 'normal',
      eligible: true,
      reason: 'lower-tier',
    });
    expect(e.watcher?.name).toBe('w');
  });

  test('pods without an agent are not candidates', () => {
    const e = run([
      runningPod({ name: 'web', containers: [app('web')] }),
      runningPod({ name: 'exporter', containers: [{ name: 'e', image: 'example/deepflow-agent-exporter' }] }),
    ]);
    expect(e.candidates).toEqual([]);
  });

  test('a native sidecar agent is a candidate', () => {
    const e = run([
      runningPod({
        name: 'x',
        containers: [app('web')],
        initContainers: [nativeSidecar(agent({ env: [ev('K8S_WATCH_POLICY', 'watch-only')] }))],
      }),
    ]);
    expect(e.watcher).toMatchObject({ name: 'x', policy: 'only-watch' });
  });

  test('election.namespaces filters candidates', () => {
    const pods = [
      runningPod({ name: 'w', namespace: 'monitoring', policy: 'watch-only', created: T(0) }),
      runningPod({ name: 'ds', namespace: 'deepflow', created: T(1) }),
    ];
    const config = cfg({ election: { namespaces: ['deepflow'], leaseName: 'k8s-watcher' } });
    const e = run(pods, undefined, [], config);
    expect(e.watcher?.name).toBe('ds');
    expect(e.candidates.map((c) => c.name)).toEqual(['ds']);
    expect(run(pods).watcher?.name).toBe('w');
  });

  test('a pod without namespace is in "default"', () => {
    const p = runningPod({ name: 'x' });
    delete p.metadata!.namespace;
    expect(run([p]).watcher?.namespace).toBe('default');
    expect(run([p], undefined, [], cfg({ election: { namespaces: ['default'], leaseName: 'l' } })).watcher?.name).toBe(
      'x',
    );
  });
});

describe('identity is the pod', () => {
  test('two agents on one node are two candidates, and only the only-watch one wins', () => {
    const e = run([
      runningPod({ name: 'ds-abcde', node: 'node-1', created: T(0) }),
      runningPod({ name: 'watcher-7d9c6b-xyz', node: 'node-1', policy: 'watch-only', created: T(10) }),
    ]);
    expect(e.candidates).toHaveLength(2);
    expect(e.candidates.every((c) => c.node === 'node-1' && c.eligible)).toBe(true);
    expect(e.watcher).toMatchObject({ name: 'watcher-7d9c6b-xyz', node: 'node-1', policy: 'only-watch' });
  });

  test('a rolling update of the watcher Deployment causes exactly one switch', () => {
    const old = runningPod({ name: 'watcher-5f7b8-aaaaa', policy: 'watch-only', created: T(0) });
    const ds = [
      runningPod({ name: 'ds-1', created: T(0) }),
      runningPod({ name: 'ds-2', node: 'node-2', created: T(0) }),
    ];
    const fresh = (o: Parameters<typeof runningPod>[0]) =>
      runningPod({ name: 'watcher-6c9d4-bbbbb', policy: 'watch-only', created: T(30), node: 'node-2', ...o });
    const steps: Pod[][] = [
      [...ds, old],
      [...ds, old, fresh({ phase: 'Pending', ready: false, node: null })], // new pod created
      [...ds, old, fresh({ phase: 'Pending', ready: false })], // scheduled
      [...ds, old, fresh({ ready: false })], // running, not ready
      [...ds, old, fresh({ readySince: T(31) })], // ready
      [...ds, { ...old, metadata: { ...old.metadata, deletionTimestamp: T(32) } }, fresh({ readySince: T(31) })], // old terminating
      [...ds, fresh({ readySince: T(31) })], // old gone
      [...ds, fresh({ readySince: T(31) })], // steady
    ];
    let current: WatcherRef | undefined;
    const history: string[] = [];
    for (const pods of steps) {
      const e = run(pods, current);
      expect(e.watcher).not.toBeNull();
      history.push(e.watcher!.name);
      current = { namespace: e.watcher!.namespace, name: e.watcher!.name, uid: e.watcher!.uid };
    }
    expect(history).toEqual([
      'watcher-5f7b8-aaaaa',
      'watcher-5f7b8-aaaaa',
      'watcher-5f7b8-aaaaa',
      'watcher-5f7b8-aaaaa',
      'watcher-5f7b8-aaaaa',
      'watcher-6c9d4-bbbbb',
      'watcher-6c9d4-bbbbb',
      'watcher-6c9d4-bbbbb',
    ]);
    const switches = history.filter((name, i) => i > 0 && name !== history[i - 1]).length;
    expect(switches).toBe(1);
  });

  test('the election is independent of the input order', () => {
    const pods = [
      runningPod({ name: 'a', created: T(3) }),
      runningPod({ name: 'b', created: T(1) }),
      runningPod({ name: 'c', created: T(2), policy: 'watch-disabled' }),
      runningPod({ name: 'd', created: T(1) }),
    ];
    const forward = run(pods);
    const backward = run([...pods].reverse());
    expect(backward).toEqual(forward);
    expect(forward.watcher?.name).toBe('b');
  });
});

describe('candidatePods / podPolicy', () => {
  test('times and identity', () => {
    const [c] = candidatePods([runningPod({ name: 'x', created: T(1), readySince: T(2) })], [], cfg());
    expect(c).toEqual({
      namespace: 'deepflow',
      name: 'x',
      uid: 'x-uid',
      node: 'node-1',
      policy: 'normal',
      eligible: true,
      readySince: Date.parse(T(2)),
      createdAt: Date.parse(T(1)),
    });
  });

  test('an unparsable time sorts last', () => {
    const bad = runningPod({ name: 'a', created: 'yesterday', readySince: 'yesterday' });
    expect(run([bad, runningPod({ name: 'b', created: T(59) })]).watcher?.name).toBe('b');
  });

  test.each([
    ['watch-only', 'only-watch'],
    ['only-watch', 'normal'],
    ['watch-disabled', 'watch-disabled'],
    ['Watch-Disabled', 'normal'],
    ['WATCH-ONLY', 'normal'],
    ['', 'normal'],
  ])('K8S_WATCH_POLICY=%j reads as %s (default onlyWatchValue watch-only)', (value, policy) => {
    expect(podPolicy(runningPod({ policy: value }), cfg())).toBe(policy);
  });

  test.each([
    ['only-watch', 'only-watch'],
    ['watch-only', 'normal'],
    ['watch-disabled', 'watch-disabled'],
    ['', 'normal'],
  ])('K8S_WATCH_POLICY=%j reads as %s with onlyWatchValue only-watch', (value, policy) => {
    expect(podPolicy(runningPod({ policy: value }), cfg({ onlyWatchValue: 'only-watch' }))).toBe(policy);
  });

  test('valueFrom reads as normal', () => {
    expect(podPolicy(runningPod({ containers: [agent({ env: [evFrom('K8S_WATCH_POLICY')] })] }), cfg())).toBe('normal');
  });

  test('no agent container reads as normal', () => {
    expect(podPolicy(runningPod({ containers: [app()] }), cfg())).toBe('normal');
  });
});
