import { describe, expect, test } from '@jest/globals';
import { leaseRecord, planPublication, type PublishedWatcher } from '../../src/controller/publication.ts';
import { leaseWith, publishedWatcher } from '../../src/controller/watcher_lease.ts';
import type { Election } from '../../src/watcher_election/elect.ts';

const watcher = (name: string, uid = `${name}-uid`) => ({
  namespace: 'deepflow',
  name,
  uid,
  node: 'node-1',
  policy: 'only-watch' as const,
});
const elected = (name: string, reason: Election['reason'] = 'oldest-ready'): Election => ({
  watcher: watcher(name),
  reason,
  candidates: [],
});
const none = (candidates: Election['candidates'] = []): Election => ({
  watcher: null,
  reason: 'no-candidate',
  candidates,
});
const pod = (name: string, uid = `${name}-uid`) => ({ namespace: 'deepflow', name, uid });
const published = (name: string | undefined, transitions = 0): PublishedWatcher =>
  name
    ? {
        holder: `deepflow/${name}`,
        uid: `${name}-uid`,
        node: 'node-1',
        policy: 'only-watch',
        reason: 'oldest-ready',
        transitions,
      }
    : { reason: 'no-candidate', transitions };

describe('planPublication', () => {
  test('first election: Lease, label, WatcherElected, in that order; no transition counted', () => {
    const actions = planPublication(elected('w1'), undefined, [], 'watch-only');
    expect(actions.map((a) => a.type)).toEqual(['lease', 'label', 'event']);
    expect(actions[0]).toEqual({
      type: 'lease',
      record: {
        holder: 'deepflow/w1',
        uid: 'w1-uid',
        node: 'node-1',
        policy: 'only-watch',
        reason: 'oldest-ready',
        transitions: 0,
      },
    });
    expect(actions[2]).toMatchObject({ reason: 'WatcherElected', eventType: 'Normal', pod: pod('w1') });
  });

  test('a change of watcher removes the old label before the Lease moves and before the new label is set', () => {
    const actions = planPublication(elected('w2'), published('w1', 3), [pod('w1')], 'watch-only');
    expect(
      actions.map((a) => (a.type === 'event' ? a.reason : `${a.type}${'pod' in a ? ':' + a.pod.name : ''}`)),
    ).toEqual(['unlabel:w1', 'lease', 'label:w2', 'WatcherElected']);
    expect(actions[1]).toMatchObject({ record: { holder: 'deepflow/w2', transitions: 4 } });
    expect(actions[3]).toMatchObject({ message: expect.stringContaining('(was deepflow/w1)') });
  });

  test('nothing to do when the cluster already shows the election', () => {
    expect(planPublication(elected('w1'), published('w1', 2), [pod('w1')], 'watch-only')).toEqual([]);
  });

  test('drift is repaired: a missing label is set, a stray label removed, without a transition or an Event', () => {
    expect(planPublication(elected('w1'), published('w1', 2), [], 'watch-only')).toEqual([
      { type: 'label', pod: pod('w1') },
    ]);
    expect(planPublication(elected('w1'), published('w1', 2), [pod('w1'), pod('stray')], 'watch-only')).toEqual([
      { type: 'unlabel', pod: pod('stray') },
    ]);
  });

  test('a pod re-created under the same name is a new watcher (uid), and the old uid loses the label', () => {
    const election: Election = { watcher: watcher('w1', 'new-uid'), reason: 'oldest-ready', candidates: [] };
    const actions = planPublication(election, published('w1', 1), [pod('w1', 'w1-uid')], 'watch-only');
    expect(actions.map((a) => a.type)).toEqual(['unlabel', 'lease', 'label', 'event']);
    expect(actions[1]).toMatchObject({ record: { uid: 'new-uid', transitions: 2 } });
  });

  test('falling into no watcher: labels removed, holder cleared, one NoWatcherCandidate Warning', () => {
    const election = none([
      {
        namespace: 'deepflow',
        name: 'sidecar',
        node: 'vk-1',
        policy: 'watch-disabled',
        eligible: false,
        reason: 'watch-disabled',
      },
    ]);
    const actions = planPublication(election, published('w1', 1), [pod('w1')], 'watch-only');
    expect(actions.map((a) => a.type)).toEqual(['unlabel', 'lease', 'event']);
    expect(actions[1]).toEqual({ type: 'lease', record: { reason: 'no-candidate', transitions: 2 } });
    expect(actions[2]).toMatchObject({
      reason: 'NoWatcherCandidate',
      eventType: 'Warning',
      message: expect.stringContaining('none of 1 agent pods is eligible (1 watch-disabled)'),
    });
    // Staying without a watcher does not repeat the Warning.
    expect(planPublication(election, { reason: 'no-candidate', transitions: 2 }, [], 'watch-only')).toEqual([]);
  });

  test('no Lease yet and no candidate: the Lease is created and the Warning raised', () => {
    const actions = planPublication(none(), undefined, [], 'watch-only');
    expect(actions.map((a) => a.type)).toEqual(['lease', 'event']);
    expect(actions[1]).toMatchObject({
      reason: 'NoWatcherCandidate',
      message: 'no agent pod found: no deepflow-agent watches the Kubernetes API',
    });
  });

  test('the reason stays why the watcher was elected: a later sticky election writes nothing', () => {
    expect(leaseRecord(elected('w1', 'sticky'), published('w1', 5))).toMatchObject({
      reason: 'oldest-ready',
      transitions: 5,
    });
    expect(planPublication(elected('w1', 'sticky'), published('w1', 5), [pod('w1')], 'watch-only')).toEqual([]);
    expect(leaseRecord(elected('w2', 'oldest-ready'), published('w1', 5))).toMatchObject({
      reason: 'oldest-ready',
      transitions: 6,
    });
  });
});

describe('the watcher Lease', () => {
  test('a record written into a Lease reads back the same, annotations and transitions included', () => {
    const record = published('w1', 7);
    const lease = leaseWith(undefined, 'kwp-system', 'k8s-watcher', record, new Date('2026-11-22T03:00:00Z'));
    expect(lease.spec).toMatchObject({
      holderIdentity: 'deepflow/w1',
      leaseTransitions: 7,
      renewTime: '2026-11-22T03:00:00.000000Z',
      acquireTime: '2026-11-22T03:00:00.000000Z',
    });
    expect(lease.metadata?.annotations).toEqual({
      'deepflow.io/watcher-uid': 'w1-uid',
      'deepflow.io/watcher-node': 'node-1',
      'deepflow.io/watcher-policy': 'only-watch',
      'deepflow.io/election-reason': 'oldest-ready',
    });
    expect(publishedWatcher(lease)).toEqual(record);
  });

  test('no watcher: the holder is null and the watcher annotations are removed; other fields are kept', () => {
    const before = {
      ...leaseWith(undefined, 'ns', 'l', published('w1', 1), new Date()),
      metadata: {
        name: 'l',
        namespace: 'ns',
        resourceVersion: '42',
        annotations: { other: 'kept', 'deepflow.io/watcher-uid': 'w1-uid' },
      },
    };
    const after = leaseWith(before, 'ns', 'l', { reason: 'no-candidate', transitions: 2 }, new Date());
    expect(after.spec?.holderIdentity).toBeNull();
    expect(after.metadata?.resourceVersion).toBe('42');
    expect(after.metadata?.annotations).toEqual({ other: 'kept', 'deepflow.io/election-reason': 'no-candidate' });
    expect(publishedWatcher(after)).toEqual({ reason: 'no-candidate', transitions: 2 });
  });
});

describe('Publisher asks before every write whether it still leads', () => {
  test('a leader whose renew deadline passed unnoticed (woken from a pause) sends nothing', async () => {
    const { Publisher } = await import('../../src/controller/publisher.ts');
    const { createLogger } = await import('../../src/log.ts');
    const sent: string[] = [];
    const kc = {
      url: (p: string) => (sent.push(p), `https://127.0.0.1:1${p}`),
      requestOptions: async () => ({}),
    } as never;
    const leading = new AbortController();
    const publisher = new Publisher({
      kc,
      namespace: 'ns',
      leaseName: 'k8s-watcher',
      identity: 'me',
      logger: createLogger('silent', { write: () => {} }),
      stillLeading: () => (leading.abort(new Error('renew deadline passed')), false),
    });
    await expect(publisher.execute([{ type: 'unlabel', pod: pod('w1') }], undefined, leading.signal)).rejects.toThrow(
      'renew deadline passed',
    );
    await expect(
      publisher.recordEvent({ namespace: 'ns' }, 'Normal', 'WatcherElected', 'm', leading.signal),
    ).rejects.toThrow('renew deadline passed');
    expect(sent).toEqual([]);
  });
});
