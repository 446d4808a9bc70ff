/**
 * Leader election against the real kube-apiserver of the local control plane: Lease lock with
 * optimistic concurrency, observed-time expiry, release, takeover, and the leadership signal.
 *
 * The timing rules themselves (observed-time expiry whatever renewTime says, the renew deadline,
 * a paused leader, jitter, no write after leadership is lost) are unit-tested on a fake clock and
 * an in-memory lock (test/unit/leader_election_elector.test.ts). The cases here are the ones that need the
 * real thing: the Lease on the wire, 409 Conflict from kube-apiserver, a process killed without
 * release, a connection cut.
 *
 * Short timings (lease 3 s, renew deadline 2 s, retry 0.5 s) keep the suite fast. Durations are
 * measured where a property depends on them (a takeover must wait the lease duration by the
 * taker's own observation; a release must let the other take over well before that); the other
 * waits are hang guards.
 */
import { afterAll, afterEach, beforeAll, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RestConfig } from '../../src/kube/rest/config.ts';
import { loadRestConfig } from '../../src/kube/rest/kubeconfig.ts';
import { LeaderElector, LeadershipLost, type LeaderElectorSettings } from '../../src/kube/leaderelection/elector.ts';
import type { Lease } from '../../src/kube/objects.ts';
import { ApiError, kubeRequest } from '../../src/kube/rest/request.ts';
import { createLogger } from '../../src/log.ts';
import { KUBECONFIG } from '../cluster/paths.ts';
import { tcpRelay } from '../support/tcp_relay.ts';
import { eventually } from '../support/wait.ts';
import { kubectl, kubectlOk, sleep } from '../support/cluster_harness.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `e2e-leader-${RUN}`;
const FAST = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };
const MICROTIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

let kc: RestConfig;
const leases = (name = '') => `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases${name && `/${name}`}`;
const getLease = (name: string) => kubeRequest<Lease>(kc, 'GET', leases(name));
const leaseOrUndefined = (name: string) =>
  getLease(name).catch((err: unknown) =>
    err instanceof ApiError && err.status === 404 ? undefined : Promise.reject(err),
  );

/** Writes the Lease spec as another party would (a forced takeover, a reset); retries on 409 while an elector renews. */
async function forceLease(name: string, spec: NonNullable<Lease['spec']>): Promise<Lease> {
  for (let i = 0; ; i++) {
    const current = await getLease(name);
    try {
      return await kubeRequest<Lease>(kc, 'PUT', leases(name), {
        body: { ...current, spec: { ...current.spec, ...spec } },
      });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409) || i > 20) throw err;
    }
  }
}

/** Polls often, without blocking the event loop (the electors run in this process). */
const until = <T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> => eventually(what, probe, { timeoutMs, everyMs: 10 });

/** Waits until the holder has renewed the Lease `times` times (each renewal a new renewTime). */
async function renewals(name: string, times: number): Promise<Lease> {
  const seen = new Set<string>();
  let latest: Lease | undefined;
  await until(`${times} renewals of ${name}`, async () => {
    latest = await getLease(name);
    if (latest.spec?.renewTime) seen.add(latest.spec.renewTime);
    return seen.size > times;
  });
  return latest!;
}

/** One elector with everything its callbacks saw. */
class Candidate {
  readonly logs: string[] = [];
  readonly newLeaders: string[] = [];
  readonly elector: LeaderElector;
  started = 0;
  stopped = 0;
  signal: AbortSignal | undefined;
  /** performance.now() / Date.now() when onStartedLeading ran and when the signal was aborted. */
  startedAt = 0;
  startedAtWall = 0;
  abortedAt = 0;
  done: Promise<void> | undefined;
  onStarted: ((signal: AbortSignal) => void | Promise<void>) | undefined;

  constructor(
    readonly identity: string,
    readonly lease: string,
    options: Partial<LeaderElectorSettings> = {},
    client: RestConfig = kc,
  ) {
    const logger = createLogger('debug', { write: (line: string) => void this.logs.push(line) });
    this.elector = new LeaderElector({
      kc: client,
      namespace: NS,
      name: lease,
      identity,
      ...FAST,
      logger,
      onStartedLeading: (signal) => {
        this.started++;
        this.signal = signal;
        this.startedAt = performance.now();
        this.startedAtWall = Date.now();
        signal.addEventListener('abort', () => (this.abortedAt = performance.now()), { once: true });
        for (const other of all)
          if (other !== this && other.lease === this.lease && other.elector.isLeader())
            violations.push(`${this.identity} started leading while ${other.identity} leads`);
        return this.onStarted?.(signal);
      },
      onStoppedLeading: () => void this.stopped++,
      onNewLeader: (id) => void this.newLeaders.push(id),
      ...options,
    });
    all.push(this);
  }

  run(): this {
    this.done = this.elector.run();
    return this;
  }

  logged(text: string): boolean {
    return this.logs.some((l) => l.includes(text));
  }
}

/** Every candidate of the current test, sampled every few milliseconds: never two leaders of one lease at once. */
let all: Candidate[] = [];
let violations: string[] = [];
let samples = 0;
let sampler: NodeJS.Timeout | undefined;

function startSampling(): void {
  sampler = setInterval(() => {
    samples++;
    const leaders = all.filter((c) => c.elector.isLeader());
    for (const c of leaders) {
      const rivals = leaders.filter((o) => o !== c && o.lease === c.lease);
      if (rivals.length > 0)
        violations.push(`two leaders of ${c.lease} observed: ${[c, ...rivals].map((o) => o.identity).join(', ')}`);
    }
  }, 2);
}

beforeAll(async () => {
  const loaded = await loadRestConfig(KUBECONFIG);
  if (!loaded) throw new Error(`no kubeconfig at ${KUBECONFIG}`);
  kc = loaded;
  kubectlOk(['create', 'namespace', NS]);
});

afterEach(async () => {
  clearInterval(sampler);
  await Promise.all(all.map((c) => c.elector.stop()));
  const found = violations;
  const sampled = samples;
  all = [];
  violations = [];
  samples = 0;
  expect(found).toEqual([]);
  if (sampler) expect(sampled).toBeGreaterThan(100);
  sampler = undefined;
});

afterAll(() => {
  kubectl(['delete', 'namespace', NS, '--wait=false']);
});

test('of two candidates exactly one leads, keeps renewing, and the follower names it', async () => {
  startSampling();
  const a = new Candidate('a', 'two').run();
  const b = new Candidate('b', 'two').run();
  const leader = await until('a leader', () => all.find((c) => c.elector.isLeader()));
  const follower = leader === a ? b : a;
  await until('the follower to observe the leader', () => follower.elector.getLeader() === leader.identity);

  const first = await getLease('two');
  const later = await renewals('two', 2); // on the wire; that a follower waits on a renewed lease is a unit test

  expect([leader.elector.isLeader(), follower.elector.isLeader()]).toEqual([true, false]);
  expect([leader.started, follower.started, leader.stopped, follower.stopped]).toEqual([1, 0, 0, 0]);
  expect(leader.signal?.aborted).toBe(false);
  expect(follower.elector.getLeader()).toBe(leader.identity);
  expect(leader.elector.getLeader()).toBe(leader.identity);
  expect(follower.newLeaders).toEqual([leader.identity]);
  expect(leader.newLeaders).toEqual([leader.identity]);
  expect(later.spec).toMatchObject({
    holderIdentity: leader.identity,
    leaseDurationSeconds: 3,
    leaseTransitions: 0,
    acquireTime: first.spec?.acquireTime,
  });
  expect(later.spec?.renewTime).toMatch(MICROTIME);
  expect(later.spec?.acquireTime).toMatch(MICROTIME);
  expect(later.spec?.renewTime).not.toBe(first.spec?.renewTime);
  expect(Number(later.metadata.resourceVersion)).toBeGreaterThan(Number(first.metadata.resourceVersion));

  // Stopping a candidate that never led: no callback, no write, run() resolves.
  await follower.elector.stop();
  await follower.done;
  expect([follower.started, follower.stopped]).toEqual([0, 0]);
  expect((await getLease('two')).spec?.holderIdentity).toBe(leader.identity);
});

test('stop() of the leader aborts its signal, releases the lease, and the other takes over well within the lease duration', async () => {
  // A longer lease than FAST, so that "well within" has room on a busy machine; retry stays short.
  const timings = { leaseDurationMs: 6000, renewDeadlineMs: 4000, retryPeriodMs: 500 };
  startSampling();
  const a = new Candidate('a', 'release', timings).run();
  const b = new Candidate('b', 'release', timings).run();
  const leader = await until('a leader', () => all.find((c) => c.elector.isLeader()));
  const follower = leader === a ? b : a;
  await until('the follower to observe the leader', () => follower.elector.getLeader() === leader.identity);
  const before = (await getLease('release')).spec!;

  const stoppedAt = performance.now();
  const stopping = leader.elector.stop();
  expect(leader.signal?.aborted).toBe(true); // at once, before the release request is even sent
  await stopping;
  expect(leader.signal?.reason).toBeInstanceOf(LeadershipLost);
  await leader.done;
  expect([leader.started, leader.stopped, leader.elector.isLeader()]).toEqual([1, 1, false]);
  expect(leader.elector.getLeader()).toBeUndefined(); // it observed its own release
  expect(leader.logged('released the leader lease')).toBe(true);
  const right = (await getLease('release')).spec!;
  // Released (holder cleared, 1 s) unless the follower was already quicker than this read.
  if (right.holderIdentity !== follower.identity)
    expect(right).toMatchObject({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      leaseTransitions: before.leaseTransitions,
    });

  await until('the follower to take over', () => follower.elector.isLeader(), 10_000);
  const tookMs = follower.startedAt - stoppedAt;
  expect(tookMs).toBeLessThan(timings.leaseDurationMs / 2);
  const after = (await getLease('release')).spec!;
  expect(after).toMatchObject({
    holderIdentity: follower.identity,
    leaseDurationSeconds: 6,
    leaseTransitions: (before.leaseTransitions ?? 0) + 1,
  });
  expect(after.acquireTime).not.toBe(before.acquireTime);
  expect(follower.newLeaders).toEqual([leader.identity, follower.identity]);
  // The stopped elector does not run again.
  await leader.elector.run();
  expect(leader.started).toBe(1);
});

/** An elector in a child process, so that it can die without releasing anything (SIGKILL). */
function childElector(
  lease: string,
  identity: string,
): { child: ChildProcess; leading: Promise<void>; output: () => string } {
  const src = (p: string) => fileURLToPath(new URL(`../../src/${p}`, import.meta.url));
  const code = `
    import { registerHooks } from 'node:module';
    import { existsSync } from 'node:fs';
    import { fileURLToPath } from 'node:url';
    registerHooks({ resolve(spec, ctx, next) {
      if (spec.startsWith('.') && spec.endsWith('.js') && ctx.parentURL?.endsWith('.ts')) {
        const ts = new URL(spec.slice(0, -3) + '.ts', ctx.parentURL);
        if (existsSync(fileURLToPath(ts))) return next(ts.href, ctx);
      }
      return next(spec, ctx);
    }});
    const { LeaderElector } = await import(${JSON.stringify(src('kube/leaderelection/elector.ts'))});
    const { loadRestConfig } = await import(${JSON.stringify(src('kube/rest/kubeconfig.ts'))});
    const { createLogger } = await import(${JSON.stringify(src('log.ts'))});
    const elector = new LeaderElector({
      kc: await loadRestConfig(${JSON.stringify(KUBECONFIG)}), namespace: ${JSON.stringify(NS)}, name: ${JSON.stringify(lease)},
      identity: ${JSON.stringify(identity)}, ...${JSON.stringify(FAST)}, logger: createLogger('debug', process.stderr),
      onStartedLeading: () => process.stdout.write('LEADING\\n'), onStoppedLeading: () => process.stdout.write('STOPPED\\n'),
    });
    await elector.run();
  `;
  const child = spawn(
    process.execPath,
    ['--experimental-transform-types', '--no-warnings', '--input-type=module', '-e', code],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    },
  );
  children.push(child);
  let out = '';
  const leading = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => ((out += c), out.includes('LEADING') && resolve()));
    child.stderr.on('data', (c: Buffer) => (out += c));
    child.on('exit', (code) => reject(new Error(`the child elector exited (${code}) before leading:\n${out}`)));
  });
  return { child, leading, output: () => out };
}
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

test('a leader killed without release is replaced only after the lease duration has passed by the follower’s own observation', async () => {
  const dead = childElector('killed', 'doomed');
  await dead.leading;
  const follower = new Candidate('survivor', 'killed').run();
  await until('the follower to observe the child leader', () => follower.elector.getLeader() === 'doomed');
  await renewals('killed', 2); // the follower keeps observing changes
  expect(follower.elector.isLeader()).toBe(false);

  const exited = new Promise((resolve) => dead.child.once('exit', resolve));
  dead.child.kill('SIGKILL');
  const killedAt = Date.now();
  await exited;
  await sleep(300); // any write the child had in flight has landed
  const last = (await getLease('killed')).spec!;
  expect(last.holderIdentity).toBe('doomed');
  expect(dead.output()).not.toContain('STOPPED');

  await until('the follower to take over', () => follower.elector.isLeader(), 15_000);
  // The child stamped renewTime before sending its last renewal; the follower can only have
  // observed that write after it was committed, and must then wait the full lease by its clock.
  const sinceLastRenewal = follower.startedAtWall - Date.parse(last.renewTime!);
  expect(sinceLastRenewal).toBeGreaterThanOrEqual(FAST.leaseDurationMs - 5);
  // ... and not much longer: it notices within about one retry period (plus jitter) after that.
  expect(follower.startedAtWall - killedAt).toBeLessThan(FAST.leaseDurationMs + 2 * 1.2 * FAST.retryPeriodMs + 2000);
  expect(follower.logged('expired by local observation')).toBe(true);
  expect((await getLease('killed')).spec).toMatchObject({
    holderIdentity: 'survivor',
    leaseTransitions: (last.leaseTransitions ?? 0) + 1,
  });
});

test('candidates racing for a free lease: losers get 409 Conflict, exactly one leads, never two at any instant', async () => {
  startSampling();
  await kubeRequest(kc, 'POST', leases(), {
    body: {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'race' },
      spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 },
    },
  });
  let conflicts = 0;
  for (let round = 0; round < 6 && conflicts === 0; round++) {
    const before = (await getLease('race')).spec!;
    expect(before.holderIdentity).toBe(''); // free: every candidate may take it at once
    const racers = [0, 1, 2].map((i) => new Candidate(`r${round}-${i}`, 'race'));
    for (const r of racers) r.run(); // same tick: their reads see the same resourceVersion
    const winner = await until('a leader', () => racers.find((r) => r.elector.isLeader()));
    // The losers retry and find the lease held (a loser that took it would be a second leader: the sampler).
    await until('every racer to observe the winner', () =>
      racers.every((r) => r.elector.getLeader() === winner.identity),
    );
    expect(racers.filter((r) => r.started > 0).map((r) => r.identity)).toEqual([winner.identity]);
    expect(winner.elector.isLeader()).toBe(true);
    expect((await getLease('race')).spec).toMatchObject({
      holderIdentity: winner.identity,
      leaseTransitions: (before.leaseTransitions ?? 0) + 1,
    });
    conflicts += racers.filter((r) => r.logged('409 Conflict')).length;
    // The winner releases on stop: the lease is free again for the next round.
    await Promise.all(racers.map((r) => r.elector.stop()));
    expect(winner.stopped).toBe(1);
  }
  expect(conflicts).toBeGreaterThan(0);
});

test('a takeover by another holder aborts the leader’s signal at its next renewal; its writes stop, it does not come back', async () => {
  const cm = `/api/v1/namespaces/${NS}/configmaps/guarded`;
  await kubeRequest(kc, 'POST', `/api/v1/namespaces/${NS}/configmaps`, {
    body: { metadata: { name: 'guarded' }, data: { n: '0' } },
  });
  const leader = new Candidate('a', 'taken');
  // The "controller": writes as fast as it can, every write guarded by the leadership signal.
  let lastCalledWhileLeading = 0;
  let calledAfterAbort = 0;
  let refused = 0;
  let writes: Promise<void> | undefined;
  leader.onStarted = (signal) => {
    writes = (async () => {
      for (let n = 1; ; n++) {
        if (signal.aborted) calledAfterAbort++;
        else lastCalledWhileLeading = n;
        try {
          await kubeRequest(kc, 'PATCH', cm, { body: { data: { n: String(n) } }, signal });
        } catch (err) {
          if (!signal.aborted) throw err;
          refused++;
          return;
        }
        await sleep(20);
      }
    })();
  };
  leader.run();
  await until('leading', () => leader.elector.isLeader());
  await until('some guarded writes', () => lastCalledWhileLeading > 5);

  const forced = await forceLease('taken', {
    holderIdentity: 'intruder',
    leaseTransitions: 1,
    leaseDurationSeconds: 3,
    renewTime: new Date().toISOString().replace('Z', '000Z'),
  });
  const forcedAt = performance.now();
  await until('the signal to be aborted', () => leader.signal?.aborted, 5000);
  expect(leader.abortedAt - forcedAt).toBeLessThan(FAST.renewDeadlineMs); // at the next renewal, not by the deadline
  expect(leader.elector.isLeader()).toBe(false);
  const reason = leader.signal!.reason as LeadershipLost;
  expect(reason).toBeInstanceOf(LeadershipLost);
  expect(reason.message).toContain('"intruder"');
  await leader.done;
  expect([leader.started, leader.stopped]).toEqual([1, 1]);
  expect(leader.elector.getLeader()).toBe('intruder');
  await writes; // the loop ended through a refused (or cut) write, not an API error
  expect(refused).toBe(1);
  expect(calledAfterAbort).toBeLessThanOrEqual(1);
  expect(lastCalledWhileLeading).toBeGreaterThan(5);

  // No renewal, no release: the forced version is untouched. The run has ended (nothing more is
  // sent after leadership is lost: unit-tested on a fake clock), so there is nothing to wait for.
  const cmAfter = await kubeRequest<{ data: { n: string }; metadata: { resourceVersion: string } }>(kc, 'GET', cm);
  expect(Number(cmAfter.data.n)).toBeLessThanOrEqual(lastCalledWhileLeading);
  const lease = await getLease('taken');
  expect(lease.metadata.resourceVersion).toBe(forced.metadata.resourceVersion);
  // The signal refuses any later write before it leaves the process.
  await expect(
    kubeRequest(kc, 'PATCH', cm, { body: { data: { n: 'late' } }, signal: leader.signal! }),
  ).rejects.toBeInstanceOf(LeadershipLost);
});

test('deleting the Lease ends leadership at the next renewal; the elector does not recreate it', async () => {
  const leader = new Candidate('a', 'deleted').run();
  await until('leading', () => leader.elector.isLeader());
  await kubeRequest(kc, 'DELETE', leases('deleted'));
  const deletedAt = performance.now();
  await leader.done;
  expect(leader.signal?.aborted).toBe(true);
  expect(String((leader.signal?.reason as Error).message)).toContain('deleted');
  expect(leader.abortedAt - deletedAt).toBeLessThan(FAST.renewDeadlineMs);
  expect([leader.started, leader.stopped, leader.elector.isLeader()]).toEqual([1, 1, false]);
  expect(await leaseOrUndefined('deleted')).toBeUndefined(); // its run has ended without recreating it
});

/** A TCP relay to kube-apiserver that can be cut (data dropped both ways, connections left hanging). */
test('a leader cut off from the API server loses leadership at its renew deadline, before the other can take over', async () => {
  const proxy = await tcpRelay(kc.server);
  try {
    // The proxy forwards TLS as is: the API server's certificate must still verify for its name.
    const viaProxy = kc.withServer(proxy.url);
    startSampling();
    const cutOff = new Candidate('cut-off', 'partition', {}, viaProxy).run();
    await until('the proxied candidate to lead', () => cutOff.elector.isLeader());
    const other = new Candidate('other', 'partition').run();
    await until('the other to observe the leader', () => other.elector.getLeader() === 'cut-off');
    await renewals('partition', 2); // through the relay

    proxy.cut();
    const cutAt = performance.now();
    await until('the cut-off leader to lose leadership', () => cutOff.signal?.aborted, 10_000);
    // The deadline counts from the last renewal sent, which was before the cut.
    expect(cutOff.abortedAt - cutAt).toBeLessThanOrEqual(FAST.renewDeadlineMs + 250);
    expect((cutOff.signal!.reason as Error).message).toContain('renew deadline');
    expect(other.elector.isLeader()).toBe(false);

    await until('the other to take over', () => other.elector.isLeader(), 15_000);
    expect(other.startedAt).toBeGreaterThan(cutOff.abortedAt);
    // It waited a full lease after its last observation of a renewal, which came before the cut.
    expect(other.startedAt - cutAt).toBeGreaterThan(FAST.leaseDurationMs - FAST.retryPeriodMs - 200);
    await cutOff.done; // its release attempt goes nowhere and times out
    expect([cutOff.started, cutOff.stopped]).toEqual([1, 1]);
    expect(cutOff.logged('failed to release')).toBe(true);
    expect((await getLease('partition')).spec?.holderIdentity).toBe('other');
  } finally {
    await proxy.close();
  }
});
