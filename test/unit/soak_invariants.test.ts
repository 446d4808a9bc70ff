/** The soak's invariants (test/soak/invariants.ts) over recorded histories: tables and properties. */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { AuditRecord } from '../soak/audit.ts';
import {
  annotationProblem,
  checkLeaderWrites,
  classifyRefusal,
  convergenceProblem,
  counterSum,
  informerDiff,
  LabelledPods,
  memoryProblem,
  RestartingCounter,
} from '../soak/invariants.ts';

const LABEL = 'deepflow.io/k8s-watcher';
const pod = (name: string, labelled: boolean, extra: Record<string, unknown> = {}) => ({
  metadata: { namespace: 'soak', name, uid: `${name}-uid`, labels: labelled ? { [LABEL]: 'true' } : {}, ...extra },
  spec: { containers: [{ name: 'deepflow-agent', image: 'deepflow-agent:v7' }] },
});

describe('LabelledPods (never two labelled pods at once)', () => {
  test('a move that unlabels first is fine; labelling first is two at once', () => {
    const ok = new LabelledPods();
    expect(ok.apply('MODIFIED', pod('a', true))).toBeUndefined();
    expect(ok.apply('MODIFIED', pod('a', false))).toBeUndefined();
    expect(ok.apply('MODIFIED', pod('b', true))).toBeUndefined();
    const bad = new LabelledPods();
    bad.apply('MODIFIED', pod('a', true));
    expect(bad.apply('MODIFIED', pod('b', true))).toMatch(/2 pods labelled .*soak\/a, soak\/b/);
  });

  test('a deleted labelled pod no longer counts; a relist replaces everything', () => {
    const s = new LabelledPods();
    s.apply('ADDED', pod('a', true));
    expect(s.apply('DELETED', pod('a', true))).toBeUndefined();
    expect(s.apply('ADDED', pod('b', true))).toBeUndefined();
    expect(s.replace([pod('c', true)])).toBeUndefined();
    expect(s.pods.map((p) => p.name)).toEqual(['c']);
    expect(s.replace([pod('c', true), pod('d', true)])).toMatch(/2 pods/);
  });

  test('property: with unlabel-before-label moves the set never exceeds one', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 50 }), (moves) => {
        const s = new LabelledPods();
        let current: number | undefined;
        for (const m of moves) {
          if (current !== undefined) expect(s.apply('MODIFIED', pod(`p${current}`, false))).toBeUndefined();
          expect(s.apply('MODIFIED', pod(`p${m}`, true))).toBeUndefined();
          current = m;
        }
      }),
    );
  });

  test('bad objects do not crash it', () => {
    const s = new LabelledPods();
    expect(() => s.apply('ADDED', null as never)).not.toThrow();
    expect(() => s.apply('MODIFIED', { metadata: 5 })).not.toThrow();
  });
});

const audit = (over: Partial<AuditRecord>): AuditRecord => ({
  line: 1,
  user: '',
  verb: 'update',
  resource: 'leases',
  subresource: '',
  namespace: 'soak-system',
  name: 'leader',
  code: 200,
  message: '',
  rv: undefined,
  holder: undefined,
  watcherLabel: undefined,
  ...over,
});
const LEADER = { namespace: 'soak-system', name: 'leader' };
const leaseWrite = (rv: number, holder: string, user = holder) => audit({ rv, holder, user, line: rv });
const labelWrite = (rv: number, user: string, value: string | null = 'true') =>
  audit({
    rv,
    user,
    verb: 'patch',
    resource: 'pods',
    namespace: 'soak',
    name: 'p',
    watcherLabel: value,
    holder: undefined,
    line: rv,
  });

describe('checkLeaderWrites (no write by a replica that does not hold the leader Lease)', () => {
  test('writes by the holder pass, in any order in the file (resourceVersions order them)', () => {
    const r = checkLeaderWrites(
      [labelWrite(12, 'c0'), leaseWrite(10, 'c0'), labelWrite(14, 'c1'), leaseWrite(13, 'c1')],
      LEADER,
      ['c0', 'c1'],
    );
    expect(r.problems).toEqual([]);
    expect(r.checked).toBe(2);
    expect(r.labelWrites).toBe(2);
  });

  test('a frozen leader that writes after the other took over is caught', () => {
    const r = checkLeaderWrites([leaseWrite(10, 'c0'), leaseWrite(20, 'c1'), labelWrite(21, 'c0', null)], LEADER, [
      'c0',
      'c1',
    ]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(
      /c0 removed the watcher label of pod soak\/p at resourceVersion 21 .* named "c1" \(since resourceVersion 20\)/,
    );
  });

  test('a write after a release (empty holder) or before any Lease is caught; failed writes (no resourceVersion) are not writes', () => {
    const r = checkLeaderWrites(
      [
        labelWrite(5, 'c0'),
        leaseWrite(10, 'c0'),
        leaseWrite(11, ''),
        labelWrite(12, 'c0'),
        audit({ user: 'c1', verb: 'patch', resource: 'pods', code: 409, rv: undefined }),
      ],
      LEADER,
      ['c0', 'c1'],
    );
    expect(r.problems).toHaveLength(2);
  });

  test('writes by other users (the workload, kube-controller-manager) are not checked', () => {
    expect(checkLeaderWrites([leaseWrite(10, 'c0'), labelWrite(11, 'admin')], LEADER, ['c0']).checked).toBe(0);
  });

  test('property: writes made while holding are never flagged; any write out of its term is', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('c0', 'c1'), fc.integer({ min: 0, max: 3 })), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.integer({ min: 0, max: 1000 }),
        (terms, salt) => {
          let rv = 1;
          const records: AuditRecord[] = [];
          for (const [holder, writes] of terms) {
            records.push(leaseWrite(rv++, holder));
            for (let i = 0; i < writes; i++) records.push(labelWrite(rv++, holder));
          }
          const shuffled = [...records].sort((a, b) => ((a.rv! * 7919 + salt) % 101) - ((b.rv! * 7919 + salt) % 101));
          expect(checkLeaderWrites(shuffled, LEADER, ['c0', 'c1']).problems).toEqual([]);
          const last = terms.at(-1)![0];
          const intruder = last === 'c0' ? 'c1' : 'c0';
          expect(
            checkLeaderWrites([...shuffled, labelWrite(rv, intruder)], LEADER, ['c0', 'c1']).problems,
          ).toHaveLength(1);
        },
      ),
    );
  });
});

describe('convergenceProblem', () => {
  const k = (name: string) => ({ namespace: 'soak', name, uid: `${name}-uid` });
  test.each([
    ['agreeing', { holder: 'soak/a', uid: 'a-uid' }, k('a'), [k('a')], undefined],
    ['no watcher anywhere', {}, null, [], undefined],
    [
      'another holder',
      { holder: 'soak/b', uid: 'b-uid' },
      k('a'),
      [k('a')],
      /names soak\/b, the election over a fresh list soak\/a/,
    ],
    ['stale uid', { holder: 'soak/a', uid: 'old' }, k('a'), [k('a')], /uid old/],
    ['label missing', { holder: 'soak/a', uid: 'a-uid' }, k('a'), [], /labelled: none/],
    [
      'two labels',
      { holder: 'soak/a', uid: 'a-uid' },
      k('a'),
      [k('a'), k('b')],
      /labelled: soak\/a#a-uid, soak\/b#b-uid/,
    ],
    ['published but none elected', { holder: 'soak/a' }, null, [], /names soak\/a/],
  ])('%s', (_, published, elected, labelled, want) => {
    const got = convergenceProblem(published, elected, labelled);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(want);
  });
});

describe('admission checks', () => {
  test('an agent pod needs the reason annotation; other pods and opted-out ones do not', () => {
    expect(annotationProblem(pod('a', false))).toMatch(/has no deepflow.io\/k8s-watch-policy-reason/);
    expect(
      annotationProblem(pod('a', false, { annotations: { 'deepflow.io/k8s-watch-policy-reason': 'normal/default' } })),
    ).toBeUndefined();
    expect(
      annotationProblem({ metadata: { name: 'x' }, spec: { containers: [{ name: 'app', image: 'nginx' }] } }),
    ).toBeUndefined();
    expect(
      annotationProblem(pod('a', false, { labels: { 'deepflow.io/k8s-watch-policy-injection': 'disabled' } })),
    ).toBeUndefined();
    expect(
      annotationProblem({ spec: { containers: [{ name: 'x', image: 'r.io/deepflow/deepflow-agent:v7@sha256:ab' }] } }),
    ).toMatch(/no/);
    expect(annotationProblem(undefined as never)).toBeUndefined();
  });

  test.each([
    [
      400,
      'admission webhook "namespace.pods.k8s-watch-policy.deepflow.io" denied the request: container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported (...)',
      'denied-documented',
    ],
    [400, 'admission webhook "x" denied the request: something else', 'denied-undocumented'],
    [
      500,
      'Internal error occurred: failed calling webhook "namespace.pods.k8s-watch-policy.deepflow.io": failed to call webhook: Post "https://127.0.0.1:1/mutate": EOF',
      'webhook-unreachable',
    ],
    [500, 'etcdserver: request timed out', 'not-admission'],
    [0, '', 'not-admission'],
  ])('classifyRefusal(%i, %j) = %s', (code, message, kind) => expect(classifyRefusal(code, message)).toBe(kind));

  test('counterSum reads the text format and filters by label', () => {
    const text = [
      '# HELP k8s_watch_policy_admission_reviews_total x',
      'k8s_watch_policy_admission_reviews_total{resource="pods",operation="CREATE",result="patched"} 7',
      'k8s_watch_policy_admission_reviews_total{resource="pods",operation="CREATE",result="error"} 2',
      'apiserver_admission_webhook_request_total{code="200",name="a"} 5',
      'apiserver_admission_webhook_request_total{code="500",name="a"} 1',
      'apiserver_admission_webhook_request_total{code="503",name="b"} 2',
      'garbage line {',
    ].join('\n');
    expect(counterSum(text, 'k8s_watch_policy_admission_reviews_total')).toBe(9);
    expect(counterSum(text, 'k8s_watch_policy_admission_reviews_total', { result: 'error' })).toBe(2);
    expect(counterSum(text, 'apiserver_admission_webhook_request_total', { code: /^5/ })).toBe(3);
    expect(counterSum('', 'x')).toBe(0);
  });

  test('property: counterSum never throws', () => {
    fc.assert(fc.property(fc.string(), (s) => void counterSum(s, 'x', { a: 'b' })));
  });

  test('RestartingCounter sums the last value of each incarnation', () => {
    const c = new RestartingCounter();
    c.observe('w#1', 3);
    c.observe('w#1', 5);
    c.observe('w#2', 1);
    c.observe('w#1', 4);
    expect(c.total).toBe(6);
  });
});

describe('informerDiff', () => {
  const c = (name: string, node = 'n1', eligible = true, reason = 'standby') => ({
    namespace: 'soak',
    name,
    node,
    policy: 'normal',
    eligible,
    reason,
  });
  test('equal sets (standings aside) have no difference', () => {
    expect(informerDiff([c('a', 'n1', true, 'elected'), c('b')], [c('b'), c('a', 'n1', true, 'standby')])).toEqual([]);
  });
  test('an extra, a missing and a stale object are named', () => {
    expect(informerDiff([c('a'), c('gone')], [c('a', 'n1', false, 'node-not-ready'), c('new')])).toEqual([
      'has soak/a on n1 normal eligible, the API server does not',
      'has soak/gone on n1 normal eligible, the API server does not',
      'lacks soak/a on n1 normal node-not-ready',
      'lacks soak/new on n1 normal eligible',
    ]);
  });
});

describe('memoryProblem', () => {
  const MiB = 1048576;
  const samples = (f: (i: number) => number, n = 30) =>
    Array.from({ length: n }, (_, i) => ({ t: i * 1000, rssBytes: f(i) * MiB }));
  test('flat, noisy or warming up is fine; steady growth past 1.5x and 64 MiB is not', () => {
    expect(memoryProblem(samples(() => 80))).toBeUndefined();
    expect(memoryProblem(samples((i) => 80 + (i % 3) * 10))).toBeUndefined();
    expect(memoryProblem(samples((i) => (i < 3 ? 20 : 90)))).toBeUndefined();
    expect(memoryProblem(samples((i) => 80 + i * 8))).toMatch(/RSS grew from/);
    expect(memoryProblem(samples((i) => 80 + i * 8, 5))).toBeUndefined();
  });
});
