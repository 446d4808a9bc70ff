/**
 * The leader elector on a fake clock and an in-memory lock: tryAcquireOrRenew round by round
 * (client-go's TestTryAcquireOrRenew), then whole runs: the renew deadline, a paused leader, the
 * acquisition jitter, takeover and release. Times are exact: nothing waits for real time.
 */
import { describe, expect, test } from '@jest/globals';
import {
  LeaderElector,
  LeadershipLost,
  type Attempt,
  type LeaderElectorSettings,
} from '../../src/kube/leaderelection/elector.ts';
import type {
  LeaderElectionRecord,
  LockRequestOptions,
  LockSnapshot,
  ResourceLock,
} from '../../src/kube/leaderelection/lease_lock.ts';
import { formatMicroTime } from '../../src/kube/objects.ts';
import { ApiError } from '../../src/kube/rest/request.ts';
import { createLogger } from '../../src/log.ts';
import { FakeClock } from '../support/fake_clock.ts';

type Op = 'get' | 'create' | 'update';

interface Call {
  who: string;
  op: Op;
  /** Monotonic time of the call. */
  at: number;
  /** The record written (create, update). */
  record?: LeaderElectionRecord;
  /** What came of it: ok, an HTTP status, 'hung'. */
  outcome?: string;
}

/** What the test does to a call: fail it, leave it unanswered, let another writer in first, or pause the caller before the answer. */
type Interference = { fail: unknown } | { hang: true } | { before: () => void } | { pauseMs: number };

/**
 * One lock object as kube-apiserver keeps it: a record and a resourceVersion; create and update
 * are conditional (409), an update of a deleted lock is a 404. `lock(identity)` is one
 * candidate's view of it (a ResourceLock); `write()` is anybody else writing it.
 */
class FakeLeaseServer {
  record: LeaderElectionRecord | undefined;
  private rv = 1;
  readonly calls: Call[] = [];
  intercept: ((call: Call) => Interference | undefined) | undefined;

  constructor(private readonly clock: FakeClock) {}

  private snapshot(): LockSnapshot {
    return { record: { ...this.record! }, resourceVersion: String(this.rv) };
  }

  /** Anybody else writes the lock (a takeover, a renewal, a reset); `undefined` deletes it. */
  write(record: LeaderElectionRecord | undefined): void {
    this.record = record && { ...record };
    this.rv++;
  }

  /** The calls of `who` from index `from` on, as `op` or `op holder` (for writes). */
  callsOf(who: string, from = 0): string[] {
    return this.calls
      .slice(from)
      .filter((c) => c.who === who)
      .map((c) => (c.record ? `${c.op} ${c.record.holderIdentity || "''"}` : c.op));
  }

  lock(identity: string): ResourceLock {
    const request = <T>(
      op: Op,
      options: LockRequestOptions,
      record: LeaderElectionRecord | undefined,
      apply: () => T,
    ): Promise<T> => {
      if (options.signal?.aborted) return Promise.reject(options.signal.reason); // refused before it is sent
      const call: Call = { who: identity, op, at: this.clock.monotonic(), ...(record && { record: { ...record } }) };
      this.calls.push(call);
      const interference = this.intercept?.(call);
      const answer = (): T => {
        try {
          const result = apply();
          call.outcome = 'ok';
          return result;
        } catch (err) {
          call.outcome = String((err as ApiError).status ?? err);
          throw err;
        }
      };
      if (!interference) return new Promise((resolve) => resolve(answer()));
      if ('fail' in interference) {
        call.outcome = String((interference.fail as ApiError).status ?? interference.fail);
        return Promise.reject(interference.fail);
      }
      if ('before' in interference) {
        interference.before();
        return new Promise((resolve) => resolve(answer()));
      }
      if ('pauseMs' in interference) {
        const result = new Promise<T>((resolve) => resolve(answer()));
        this.clock.jump(interference.pauseMs);
        return result;
      }
      // Hung: no answer; the caller's signal or timeout ends it (as kubeRequest does).
      call.outcome = 'hung';
      return new Promise<T>((_resolve, reject) => {
        const timer =
          options.timeoutMs === undefined
            ? undefined
            : this.clock.setTimeout(
                () => reject(new Error(`no answer within ${options.timeoutMs} ms`)),
                options.timeoutMs,
              );
        options.signal?.addEventListener(
          'abort',
          () => (this.clock.clearTimeout(timer), reject(options.signal!.reason)),
          { once: true },
        );
      });
    };
    return {
      identity: () => identity,
      describe: () => 'fake/lease',
      get: (options = {}) => request('get', options, undefined, () => (this.record ? this.snapshot() : undefined)),
      create: (record, options = {}) =>
        request('create', options, record, () => {
          if (this.record) throw new ApiError(409, 'leases "lease" already exists');
          this.write(record);
          return this.snapshot();
        }),
      update: (previous, record, options = {}) =>
        request('update', options, record, () => {
          if (!this.record) throw new ApiError(404, 'leases "lease" not found');
          if (previous.resourceVersion !== String(this.rv)) throw new ApiError(409, 'the object has been modified');
          this.write(record);
          return this.snapshot();
        }),
    };
  }
}

const T0 = 1_000_000; // the fake clock's monotonic start
const WALL0 = Date.UTC(2024, 0, 1);
/** The MicroTime the elector writes `ms` after the start. */
const wall = (ms: number) => formatMicroTime(new Date(WALL0 + ms));
const ALMOST_ONE = 0.999_999_99;

/** A candidate on the fake server with everything its callbacks saw; times are ms since the start. */
function candidate(
  server: FakeLeaseServer,
  clock: FakeClock,
  identity: string,
  settings: Partial<LeaderElectorSettings> = {},
) {
  const seen = {
    started: [] as number[],
    lost: [] as { at: number; reason: string }[],
    stopped: 0,
    leaders: [] as string[],
    signal: undefined as AbortSignal | undefined,
  };
  const elector = new LeaderElector({
    lock: server.lock(identity),
    clock,
    logger: createLogger('silent', { write: () => {} }),
    onStartedLeading: (signal) => {
      seen.started.push(clock.monotonic() - T0);
      seen.signal = signal;
      signal.addEventListener(
        'abort',
        () => seen.lost.push({ at: clock.monotonic() - T0, reason: (signal.reason as LeadershipLost).reason }),
        { once: true },
      );
    },
    onStoppedLeading: () => void seen.stopped++,
    onNewLeader: (leader) => void seen.leaders.push(leader),
    ...settings,
  });
  return { elector, seen };
}

const held = (holder: string, over: Partial<LeaderElectionRecord> = {}): LeaderElectionRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: '2000-01-01T00:00:00.000000Z',
  renewTime: '2000-01-01T00:00:00.000000Z',
  leaseTransitions: 4,
  ...over,
});

const outcome = (a: Attempt) => (a.ok ? 'ok' : a.kind === 'held' ? `held by ${a.holder}` : a.kind);

describe('tryAcquireOrRenew, round by round', () => {
  interface Round {
    /** Ms since the start (monotonic). */
    at: number;
    leading?: boolean;
    /** What happens to the lock just before this round (another writer). */
    before?: (server: FakeLeaseServer) => void;
    intercept?: (call: Call, server: FakeLeaseServer) => Interference | undefined;
    expect: string;
  }
  const acquire: Round = { at: 0, expect: 'ok' };

  test.each<{
    name: string;
    lease?: LeaderElectionRecord;
    rounds: Round[];
    calls: string[];
    after: Partial<LeaderElectionRecord> | undefined;
  }>([
    {
      name: 'no lease: creates it, 0 transitions',
      rounds: [acquire],
      calls: ['get', 'create me'],
      after: {
        holderIdentity: 'me',
        leaseDurationSeconds: 15,
        leaseTransitions: 0,
        acquireTime: wall(0),
        renewTime: wall(0),
      },
    },
    {
      name: 'renewing its own lease: one conditional update; renewTime moves, acquireTime and transitions stay',
      rounds: [acquire, { at: 2000, leading: true, expect: 'ok' }, { at: 4000, leading: true, expect: 'ok' }],
      calls: ['get', 'create me', 'update me', 'update me'],
      after: { holderIdentity: 'me', leaseTransitions: 0, acquireTime: wall(0), renewTime: wall(4000) },
    },
    {
      name: 'held by another (renewTime long past): not taken until 15 s after our first observation, then taken with transitions + 1',
      lease: held('other'),
      rounds: [
        { at: 0, expect: 'held by other' },
        { at: 15_000, expect: 'held by other' },
        { at: 15_001, expect: 'ok' },
      ],
      calls: ['get', 'get', 'get', 'update me'],
      after: {
        holderIdentity: 'me',
        leaseDurationSeconds: 15,
        leaseTransitions: 5,
        acquireTime: wall(15_001),
        renewTime: wall(15_001),
      },
    },
    {
      name: 'held by another (renewTime far in the future): the same wait',
      lease: held('other', { renewTime: '2100-01-01T00:00:00.000000Z' }),
      rounds: [
        { at: 0, expect: 'held by other' },
        { at: 15_000, expect: 'held by other' },
        { at: 15_001, expect: 'ok' },
      ],
      calls: ['get', 'get', 'get', 'update me'],
      after: { holderIdentity: 'me', leaseTransitions: 5 },
    },
    {
      name: "the holder's duration counts, not ours: 3 s",
      lease: held('other', { leaseDurationSeconds: 3 }),
      rounds: [
        { at: 0, expect: 'held by other' },
        { at: 3000, expect: 'held by other' },
        { at: 3001, expect: 'ok' },
      ],
      calls: ['get', 'get', 'get', 'update me'],
      after: { holderIdentity: 'me', leaseDurationSeconds: 15, leaseTransitions: 5 },
    },
    {
      name: 'a renewal by the holder restarts the wait from when we observe it',
      lease: held('other'),
      rounds: [
        { at: 0, expect: 'held by other' },
        {
          at: 10_000,
          before: (s) => s.write(held('other', { renewTime: '2000-01-01T00:00:10.000000Z' })),
          expect: 'held by other',
        },
        { at: 15_001, expect: 'held by other' },
        { at: 25_000, expect: 'held by other' },
        { at: 25_001, expect: 'ok' },
      ],
      calls: ['get', 'get', 'get', 'get', 'get', 'update me'],
      after: { holderIdentity: 'me', leaseTransitions: 5 },
    },
    {
      name: 'a released lease (no holder) is taken at once, transitions + 1',
      lease: held('', { leaseDurationSeconds: 1 }),
      rounds: [acquire],
      calls: ['get', 'update me'],
      after: { holderIdentity: 'me', leaseTransitions: 5 },
    },
    {
      name: 'its own lease found by a candidate (a restart with the same identity): taken at once, transitions unchanged',
      lease: held('me'),
      rounds: [acquire],
      calls: ['get', 'update me'],
      after: { holderIdentity: 'me', leaseTransitions: 4, acquireTime: wall(0) },
    },
    {
      name: 'another writer between our read and our update: 409 is a failure to acquire; the new holder is then waited for',
      lease: held('other'),
      rounds: [
        { at: 0, expect: 'held by other' },
        {
          at: 15_001,
          intercept: (c, s) =>
            c.op === 'update' ? { before: () => s.write(held('rival', { leaseTransitions: 5 })) } : undefined,
          expect: 'conflict',
        },
        { at: 15_002, expect: 'held by rival' },
      ],
      calls: ['get', 'get', 'update me', 'get'],
      after: { holderIdentity: 'rival', leaseTransitions: 5 },
    },
    {
      name: 'a race to create: 409 on create is a failure to acquire',
      rounds: [
        {
          at: 0,
          intercept: (c, s) =>
            c.op === 'create' ? { before: () => s.write(held('rival', { leaseTransitions: 0 })) } : undefined,
          expect: 'conflict',
        },
      ],
      calls: ['get', 'create me'],
      after: { holderIdentity: 'rival', leaseTransitions: 0 },
    },
    {
      name: 'leading, taken over by another: the update gets 409, the re-read shows the holder: held, nothing written',
      rounds: [
        acquire,
        { at: 2000, leading: true, before: (s) => s.write(held('intruder')), expect: 'held by intruder' },
      ],
      calls: ['get', 'create me', 'update me', 'get'],
      after: { holderIdentity: 'intruder' },
    },
    {
      name: 'leading, 409 though still the holder (another field changed): read again and renew',
      rounds: [acquire, { at: 2000, leading: true, before: (s) => s.write({ ...s.record! }), expect: 'ok' }],
      calls: ['get', 'create me', 'update me', 'get', 'update me'],
      after: { holderIdentity: 'me', leaseTransitions: 0, renewTime: wall(2000) },
    },
    {
      name: 'leading, the lease deleted: deleted, and not recreated',
      rounds: [acquire, { at: 2000, leading: true, before: (s) => s.write(undefined), expect: 'deleted' }],
      calls: ['get', 'create me', 'update me'],
      after: undefined,
    },
    {
      name: 'the read fails: an error, nothing written',
      lease: held('other'),
      rounds: [
        {
          at: 0,
          intercept: (c) => (c.op === 'get' ? { fail: new ApiError(500, 'etcdserver: request timed out') } : undefined),
          expect: 'error',
        },
      ],
      calls: ['get'],
      after: { holderIdentity: 'other' },
    },
  ])('$name', async ({ lease, rounds, calls, after }) => {
    const clock = new FakeClock({ monotonic: T0, wall: WALL0 });
    const server = new FakeLeaseServer(clock);
    if (lease) server.write(lease);
    const { elector } = candidate(server, clock, 'me');
    const outcomes: string[] = [];
    for (const round of rounds) {
      clock.jump(T0 + round.at - clock.monotonic());
      round.before?.(server);
      server.intercept = round.intercept && ((c) => round.intercept!(c, server));
      outcomes.push(outcome(await elector.tryAcquireOrRenew(round.leading ?? false)));
      server.intercept = undefined;
    }
    expect(outcomes).toEqual(rounds.map((r) => r.expect));
    expect(server.callsOf('me')).toEqual(calls);
    if (after) expect(server.record).toMatchObject(after);
    else expect(server.record).toBeUndefined();
  });
});

describe('a run on the fake clock', () => {
  function setup(lease?: LeaderElectionRecord, random = () => 0) {
    const clock = new FakeClock({ monotonic: T0, wall: WALL0, random });
    const server = new FakeLeaseServer(clock);
    if (lease) server.write(lease);
    return { clock, server, since: () => clock.monotonic() - T0 };
  }

  test.each([
    {
      name: 'renewals failing with 500',
      fail: { fail: new ApiError(500, 'etcdserver: leader changed') },
      renewals: ['2000 500', '4000 500', '6000 500', '8000 500'],
      runEnds: 10_000,
    },
    {
      name: 'a renewal left unanswered',
      fail: { hang: true as const },
      renewals: ['2000 hung'],
      runEnds: 20_000,
    },
  ])(
    'renew deadline exceeded ($name): leadership ends exactly 10 s after the last successful renewal was sent, then one release attempt',
    async ({ fail, renewals, runEnds }) => {
      const { clock, server, since } = setup();
      const me = candidate(server, clock, 'me');
      const done = me.elector.run();
      await clock.runUntil(() => me.elector.isLeader());
      expect(me.seen.started).toEqual([0]);
      server.intercept = () => fail;
      await clock.runUntil(() => me.seen.lost.length > 0);
      expect(me.seen.lost).toEqual([
        { at: 10_000, reason: 'no successful renewal within the renew deadline (10000 ms)' },
      ]);
      expect(me.elector.isLeader()).toBe(false);
      let finished = false;
      void done.then(() => (finished = true));
      await clock.runUntil(() => finished);
      expect(since()).toBe(runEnds);
      const writes = server.calls.filter((c) => c.op === 'update').map((c) => `${c.at - T0} ${c.outcome}`);
      // The renewals, then the release (holder cleared) at the deadline: nothing else.
      expect(writes).toEqual([...renewals, `10000 ${renewals[0]!.split(' ')[1]}`]);
      expect(server.calls.filter((c) => c.op === 'update').at(-1)?.record).toMatchObject({
        holderIdentity: '',
        leaseDurationSeconds: 1,
      });
      expect(me.seen.stopped).toBe(1);
      expect(clock.pending).toBe(0);
    },
  );

  test.each([
    {
      name: 'shorter than the renew deadline: renews on waking and keeps leading',
      pauseMs: 5000,
      takenMeanwhile: false,
      afterWaking: ['update me'],
      leading: true,
    },
    {
      name: 'past the renew deadline, within the lease: no renewal; loses; releases',
      pauseMs: 12_000,
      takenMeanwhile: false,
      afterWaking: ["update ''"],
      leading: false,
    },
    {
      name: 'past the lease, taken over meanwhile: loses without a single request',
      pauseMs: 20_000,
      takenMeanwhile: true,
      afterWaking: [],
      leading: false,
    },
    {
      name: 'past the lease, nobody took over: still not a single request',
      pauseMs: 20_000,
      takenMeanwhile: false,
      afterWaking: [],
      leading: false,
    },
  ])('a leader paused $pauseMs ms ($name)', async ({ pauseMs, takenMeanwhile, afterWaking, leading }) => {
    const { clock, server, since } = setup();
    const me = candidate(server, clock, 'me');
    const done = me.elector.run();
    await clock.runUntil(() => me.elector.isLeader());
    await clock.advance(2000); // one renewal, sent at 2000
    expect(server.callsOf('me')).toEqual(['get', 'create me', 'update me']);
    const from = server.calls.length;

    clock.jump(pauseMs); // frozen: no timer fires, no code runs
    if (takenMeanwhile) server.write(held('other', { leaseTransitions: 1 }));
    await clock.advance(0); // waking: the overdue timers fire, in order

    expect(server.callsOf('me', from)).toEqual(afterWaking);
    expect(me.elector.isLeader()).toBe(leading);
    if (!leading) {
      expect(me.seen.lost).toEqual([
        { at: 2000 + pauseMs, reason: 'no successful renewal within the renew deadline (10000 ms)' },
      ]);
      await done;
      expect(me.seen.stopped).toBe(1);
      expect(server.record?.holderIdentity).toBe(takenMeanwhile ? 'other' : afterWaking.length > 0 ? '' : 'me');
    } else {
      expect(since()).toBe(2000 + pauseMs);
      await me.elector.stop();
    }
    // However it ended: nothing more from it.
    const total = server.calls.length;
    await clock.advance(60_000);
    expect(server.calls.length).toBe(total);
  });

  test("woken past the renew deadline, code that runs before the elector's own timers (an election the controller had scheduled) finds no leadership: asking ends it, the signal aborted first", async () => {
    const { clock, server } = setup();
    const me = candidate(server, clock, 'me');
    void me.elector.run();
    await clock.runUntil(() => me.elector.isLeader());
    await clock.advance(2000); // renewed at 2000; the next renewal is due at 4000
    const seenByApp: string[] = [];
    // The application's own timer, due at 3000: it fires first on waking, before the renewal's and the watchdog's.
    clock.setTimeout(
      () => seenByApp.push(`leader ${me.elector.isLeader()}, signal aborted ${me.seen.signal!.aborted}`),
      1000,
    );
    clock.jump(20_000); // frozen past the lease: the other replica may lead by now
    const from = server.calls.length;
    await clock.advance(0);
    expect(seenByApp).toEqual(['leader false, signal aborted true']);
    expect(me.seen.lost).toEqual([
      { at: 22_000, reason: 'no successful renewal within the renew deadline (10000 ms)' },
    ]);
    expect(server.callsOf('me', from)).toEqual([]); // nothing sent: the lease ran out meanwhile
    await me.elector.stop();
  });

  test('an acquisition answered only after a pause past the renew deadline is not led on: it is renewed first', async () => {
    const { clock, server } = setup();
    const me = candidate(server, clock, 'me');
    server.intercept = (c) => (c.op === 'create' ? { pauseMs: 11_000 } : undefined);
    void me.elector.run();
    await clock.runUntil(() => me.elector.isLeader());
    server.intercept = undefined;
    expect(me.seen.started).toEqual([11_000]);
    expect(server.callsOf('me')).toEqual(['get', 'create me', 'get', 'update me']);
    expect(server.record).toMatchObject({ holderIdentity: 'me', leaseTransitions: 0, renewTime: wall(11_000) });
    // It leads with a deadline counted from that renewal.
    server.intercept = () => ({ fail: new ApiError(500, 'down') });
    await clock.runUntil(() => me.seen.lost.length > 0);
    expect(me.seen.lost[0]!.at).toBe(21_000);
  });

  test.each([
    { random: 0, attempts: [0, 2000, 4000, 6000, 8000, 10_000, 12_000, 14_000, 16_000] },
    { random: ALMOST_ONE, attempts: [0, 4400, 8800, 13_200, 17_600] },
  ])(
    'a dead leader is replaced at the first attempt 15 s after the follower first observed it (jitter factor $random)',
    async ({ random, attempts }) => {
      const { clock, server } = setup(held('dead'), () => random);
      const follower = candidate(server, clock, 'follower');
      void follower.elector.run();
      await clock.runUntil(() => follower.elector.isLeader());
      expect(server.calls.filter((c) => c.op === 'get').map((c) => Math.round(c.at - T0))).toEqual(attempts);
      expect(follower.seen.started.map(Math.round)).toEqual([attempts.at(-1)]);
      expect(follower.seen.leaders).toEqual(['dead', 'follower']);
      expect(server.record).toMatchObject({ holderIdentity: 'follower', leaseTransitions: 5 });
      // Every wait between attempts is within [retryPeriod, (1 + 1.2) × retryPeriod].
      for (const d of clock.delays.filter((d) => d !== 10_000)) expect(d >= 2000 && d <= 4400).toBe(true);
      await follower.elector.stop();
    },
  );

  test('two candidates: one leads and renews, the other never takes over; never two leaders at once; stop() hands over', async () => {
    const { clock, server, since } = setup(undefined, () => 0.5);
    const a = candidate(server, clock, 'a');
    const b = candidate(server, clock, 'b');
    const aDone = a.elector.run();
    void b.elector.run();
    let both = 0;
    await clock.runUntil(() => {
      if (a.elector.isLeader() && b.elector.isLeader()) both++;
      return since() >= 60_000;
    });
    expect([a.elector.isLeader(), b.elector.isLeader(), both]).toEqual([true, false, 0]);
    expect(b.elector.getLeader()).toBe('a');
    expect(server.callsOf('a').filter((c) => c === 'update a').length).toBeGreaterThanOrEqual(29); // every 2 s

    const stopping = a.elector.stop();
    expect(a.seen.signal?.aborted).toBe(true); // at once, before the release is sent
    expect(a.seen.signal?.reason).toBeInstanceOf(LeadershipLost);
    await clock.runUntil(() => b.elector.isLeader());
    await stopping;
    await aDone;
    expect(a.seen.stopped).toBe(1);
    // Released (holder cleared, 1 s): b takes it at its next attempt, not 15 s later.
    expect(server.callsOf('a').at(-1)).toBe("update ''");
    expect(b.seen.started[0]! - 60_000).toBeLessThanOrEqual(3200);
    expect(server.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    await b.elector.stop();
    expect(clock.pending).toBe(0);
  });
});
