/**
 * One round of leader election (client-go tryAcquireOrRenew): reads and conditional writes of the
 * lock, as a candidate (take it if it is free, ours, or expired by our own observation) or as the
 * leader (renew it). The elector runs rounds; tests drive single ones.
 */
import type { Clock } from '../clock.ts';
import { formatMicroTime } from '../objects.ts';
import { isConflict, isNotFound } from '../rest/request.ts';
import { errorMessage, type Logger } from '../../log.ts';
import type { LeaderElectionRecord, LockRequestOptions, LockSnapshot, ResourceLock } from './lease_lock.ts';
import { leaseDurationSeconds, type LeaseObservation } from './lease_observation.ts';

/** The outcome of one round. */
export type Attempt =
  | { ok: true }
  /** Another holder whose lease has not expired (acquisition) or who took it over (renewal). */
  | { ok: false; kind: 'held'; holder: string }
  /** Leading, and the Lease no longer exists. */
  | { ok: false; kind: 'deleted' }
  /** Our conditional write lost to a concurrent one (409). */
  | { ok: false; kind: 'conflict' }
  | { ok: false; kind: 'error'; error: unknown };

/** What a round reads and records: the elector's lock, identity, timing, clock and observation. */
export interface RoundContext {
  lock: ResourceLock;
  identity: string;
  leaseDurationMs: number;
  clock: Clock;
  logger: Logger;
  observation: LeaseObservation;
  /** Records a snapshot read or written (the elector also reports a new leader). */
  observe(snapshot: LockSnapshot): void;
}

const failed = (error: unknown): Attempt => ({ ok: false, kind: 'error', error });

export async function tryAcquireOrRenew(
  ctx: RoundContext,
  leading: boolean,
  request: LockRequestOptions = {},
): Promise<Attempt> {
  const stamp = {
    duration: leaseDurationSeconds(ctx.leaseDurationMs),
    now: formatMicroTime(new Date(ctx.clock.now())),
  };
  const known = ctx.observation.snapshot;
  // 1. The leader's fast path: update the version it wrote last.
  if (leading && known) {
    const renewed = await renewKnown(ctx, known, stamp, request);
    if (renewed) return renewed;
  }
  // 2. Read the lease, or create it.
  const current = await read(ctx, request);
  if (current === undefined) return leading ? { ok: false, kind: 'deleted' } : create(ctx, stamp, request);
  if ('ok' in current) return current;
  ctx.observe(current);
  // 3. Decide from the record and the local time of its last observed change.
  const next = nextRecord(ctx, current.record, leading, stamp);
  if ('ok' in next) return next;
  // 4. The conditional write: 409 means somebody wrote the lease after we read it.
  return write(ctx, current, next, leading, request);
}

/** The lock as it is now: undefined when there is none, a failed attempt when it cannot be read. */
async function read(ctx: RoundContext, request: LockRequestOptions): Promise<LockSnapshot | Attempt | undefined> {
  try {
    return await ctx.lock.get(request);
  } catch (err) {
    return failed(err);
  }
}

async function write(
  ctx: RoundContext,
  current: LockSnapshot,
  next: LeaderElectionRecord,
  leading: boolean,
  request: LockRequestOptions,
): Promise<Attempt> {
  try {
    ctx.observe(await ctx.lock.update(current, next, request));
    return { ok: true };
  } catch (err) {
    if (isConflict(err)) return { ok: false, kind: 'conflict' };
    if (leading && isNotFound(err)) return { ok: false, kind: 'deleted' };
    return failed(err);
  }
}

interface Stamp {
  /** leaseDurationSeconds to write. */
  duration: number;
  /** The wall-clock time to write, as a MicroTime. */
  now: string;
}

/** The renewal of the version last written; undefined on 409 (the caller reads the lease again). */
async function renewKnown(
  ctx: RoundContext,
  known: LockSnapshot,
  { duration, now }: Stamp,
  request: LockRequestOptions,
): Promise<Attempt | undefined> {
  try {
    const record = { ...known.record, holderIdentity: ctx.identity, leaseDurationSeconds: duration, renewTime: now };
    ctx.observe(await ctx.lock.update(known, record, request));
    return { ok: true };
  } catch (err) {
    if (isNotFound(err)) return { ok: false, kind: 'deleted' };
    if (!isConflict(err)) return failed(err);
    ctx.logger.debug('the lease changed since the last renewal (409 Conflict): reading it again');
    return undefined;
  }
}

/** The lease does not exist yet: create it as ours. */
async function create(ctx: RoundContext, { duration, now }: Stamp, request: LockRequestOptions): Promise<Attempt> {
  try {
    const record = {
      holderIdentity: ctx.identity,
      leaseDurationSeconds: duration,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    ctx.observe(await ctx.lock.create(record, request));
    return { ok: true };
  } catch (err) {
    return isConflict(err) ? { ok: false, kind: 'conflict' } : failed(err);
  }
}

/** The record to write: renewed (leading), or taken over when free, ours, or expired by our observation. */
function nextRecord(
  ctx: RoundContext,
  record: LeaderElectionRecord,
  leading: boolean,
  { duration, now }: Stamp,
): LeaderElectionRecord | Attempt {
  const holder = record.holderIdentity;
  if (leading) {
    if (holder !== ctx.identity) return { ok: false, kind: 'held', holder };
    return { ...record, leaseDurationSeconds: duration, renewTime: now };
  }
  const other = holder && holder !== ctx.identity;
  if (other && !ctx.observation.expired(ctx.clock.monotonic(), ctx.leaseDurationMs))
    return { ok: false, kind: 'held', holder };
  if (other) ctx.logger.info({ holder }, 'the lease has expired by local observation: taking it over');
  return {
    holderIdentity: ctx.identity,
    leaseDurationSeconds: duration,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: holder === ctx.identity ? record.leaseTransitions : record.leaseTransitions + 1,
  };
}

/**
 * client-go release(): clears the holder (leaseDurationSeconds 1) if the lease is still ours as
 * last observed, and still ours by the local clock: once leaseDuration has passed since the last
 * successful renewal was sent (`lastRenewSentAt`, a process paused that long), others may hold it,
 * and it is left to expire.
 */
export async function releaseLock(ctx: RoundContext, lastRenewSentAt: number, renewDeadlineMs: number): Promise<void> {
  const known = ctx.observation.snapshot;
  if (!known || known.record.holderIdentity !== ctx.identity) return;
  if (ctx.clock.monotonic() >= lastRenewSentAt + ctx.leaseDurationMs) {
    ctx.logger.warn(
      'not releasing the leader lease: its duration has run out since the last renewal (it expires on its own)',
    );
    return;
  }
  const now = formatMicroTime(new Date(ctx.clock.now()));
  const cleared = {
    holderIdentity: '',
    leaseDurationSeconds: 1,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: known.record.leaseTransitions,
  };
  try {
    ctx.observe(await ctx.lock.update(known, cleared, { timeoutMs: renewDeadlineMs }));
    ctx.logger.info('released the leader lease');
  } catch (err) {
    ctx.logger.warn({ err: errorMessage(err) }, 'failed to release the leader lease (it expires on its own)');
  }
}
