/**
 * Leader election among controller replicas (client-go tools/leaderelection) on a resource lock
 * (a Lease by default: lease_lock.ts), with time read from a {@link Clock}.
 *
 * `run()` tries to acquire the Lease every retryPeriod (plus up to 1.2 × retryPeriod of jitter);
 * once it holds it, it calls `onStartedLeading(signal)` and renews every retryPeriod. What the
 * election guarantees rests on two rules:
 *
 * - Observed-time expiry. A candidate never compares the renewTime another process wrote with its
 *   own clock. It notes the local monotonic time (clock.monotonic()) at which it last observed a
 *   change of the record (resourceVersion, holder, renewTime, ...) and takes the lease over only
 *   when leaseDurationSeconds (the holder's promise) has passed since, by its own clock, without a
 *   further change.
 * - The leader stops first. The leader counts renewDeadline from the moment it SENT its last
 *   successful renewal (before the write was committed, so before any other candidate can have
 *   observed it); when no renewal has succeeded by then, it loses leadership on the spot, even with
 *   a request still hanging. renewDeadline < leaseDuration, so it has stopped before anyone else
 *   can see the lease expire. It also loses leadership at once when the Lease shows another holder
 *   (its optimistic update got 409 Conflict and a re-read shows the holder changed) or was deleted.
 *   A process that was paused (a long GC, a frozen VM) finds its deadline passed when it wakes:
 *   it checks the deadline before each renewal and after each answer, so it stops without sending
 *   anything, and it does not start leading on an acquisition answered after the deadline.
 *
 * Losing leadership aborts the AbortSignal handed to onStartedLeading in the same tick, before
 * anything else happens; every write of the controller passes that signal to kubeRequest, which
 * then refuses to send it. After that the elector releases the lease if it still holds it and
 * `releaseOnCancel` is set (client-go: holderIdentity cleared, leaseDurationSeconds 1), unless the
 * lease duration has run out since its last renewal (the lease is no longer its to write); then it
 * calls onStoppedLeading, and `run()` resolves: like client-go it does not try to acquire again
 * in the same run (the process exits, or calls `run()` again).
 *
 * Deviations from client-go, all on the safe side: the renew deadline is anchored on the last
 * successful renewal instead of the start of a renewal round; a deleted Lease or a re-read showing
 * another holder ends leadership immediately instead of after renewDeadline; the signal is aborted
 * before the release instead of after; onStoppedLeading is called only after onStartedLeading was
 * (client-go also calls it when stopped before ever leading); onNewLeader is not called for an
 * empty holder; a paused leader neither renews nor releases once its deadlines have passed.
 */
import type { RestConfig } from '../rest/config.ts';
import { errorMessage as message, type Logger } from '../../log.ts';
import { isConflict, isNotFound } from '../rest/request.ts';
import { formatMicroTime } from '../objects.ts';
import { systemClock, type Clock, type TimerHandle } from '../clock.ts';
import {
  LeaseLock,
  type LeaderElectionRecord,
  type LockRequestOptions,
  type LockSnapshot,
  type ResourceLock,
} from './lease_lock.ts';

/** The Lease the elector locks by default (a {@link LeaseLock} is made of it). */
export interface LeaseTarget {
  kc: RestConfig;
  /** Namespace and name of the Lease. */
  namespace: string;
  name: string;
  /** Unique per process (e.g. `<pod name>_<random>`): two processes with one identity would both lead. */
  identity: string;
  lock?: never;
}

/** Any other lock (client-go LeaderElectionConfig.Lock); the identity is the lock's. */
export interface LockTarget {
  lock: ResourceLock;
  kc?: never;
  namespace?: never;
  name?: never;
  identity?: never;
}

/** Everything but the lock. */
export interface LeaderElectorSettings {
  /** How long a non-leader waits, after it last observed a change of the lease, before taking it over (default 15 s). */
  leaseDurationMs?: number;
  /** How long the leader keeps leading without a successful renewal (default 10 s). */
  renewDeadlineMs?: number;
  /** Wait between attempts (default 2 s; acquisition adds up to 1.2 × this as jitter). */
  retryPeriodMs?: number;
  /** Release the lease when leadership ends while still holding it (default true). */
  releaseOnCancel?: boolean;
  logger: Logger;
  /** Called once leadership is acquired; `signal` is aborted the moment it is lost. A rejection ends leadership. */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called once leadership has ended (after the release, if any). */
  onStoppedLeading: () => void;
  /** Called when a new (non-empty) holder is observed, this elector included. */
  onNewLeader?: (identity: string) => void;
  /** Deadlines, waits, jitter and the times written to the lock (default: {@link systemClock}). */
  clock?: Clock;
}

export type LeaderElectorOptions = (LeaseTarget | LockTarget) & LeaderElectorSettings;

/** client-go wait.Jitter factor of the acquire loop. */
export const JITTER_FACTOR = 1.2;

/** The reason of the aborted leadership signal. */
export class LeadershipLost extends Error {
  constructor(readonly reason: string) {
    super(`leadership lost: ${reason}`);
    this.name = 'LeadershipLost';
  }
}

/** The wait before the next acquisition attempt: retryPeriod + up to JITTER_FACTOR × retryPeriod. */
export function jitteredPeriod(retryPeriodMs: number, random: () => number = Math.random): number {
  return retryPeriodMs + random() * JITTER_FACTOR * retryPeriodMs;
}

/** The timing constraints of client-go's NewLeaderElector; throws on violation. */
export function validateTimings(leaseDurationMs: number, renewDeadlineMs: number, retryPeriodMs: number): void {
  for (const [name, value] of Object.entries({ leaseDurationMs, renewDeadlineMs, retryPeriodMs })) {
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`leader election: ${name} must be a positive number, got ${value}`);
  }
  if (leaseDurationMs <= renewDeadlineMs)
    throw new Error(
      `leader election: leaseDurationMs (${leaseDurationMs}) must be greater than renewDeadlineMs (${renewDeadlineMs})`,
    );
  if (renewDeadlineMs <= JITTER_FACTOR * retryPeriodMs) {
    throw new Error(
      `leader election: renewDeadlineMs (${renewDeadlineMs}) must be greater than ${JITTER_FACTOR} × retryPeriodMs (${retryPeriodMs})`,
    );
  }
}

/** The lease duration written to the record: whole seconds, rounded up so that nobody waits less than configured. */
export function leaseDurationSeconds(leaseDurationMs: number): number {
  return Math.max(1, Math.ceil(leaseDurationMs / 1000));
}

/**
 * What a candidate knows of the lease by its own clock: the record it last observed and the local
 * monotonic time at which it observed it change. Pure: the caller passes `now` (clock.monotonic()).
 */
export class LeaseObservation {
  private key: string | undefined;
  private at = 0;
  snapshot: LockSnapshot | undefined;

  /** Records what was read or written; returns whether it differs from the previous observation. */
  observe(snapshot: LockSnapshot, now: number): boolean {
    const r = snapshot.record;
    const key = JSON.stringify([
      snapshot.resourceVersion,
      r.holderIdentity,
      r.renewTime,
      r.acquireTime,
      r.leaseDurationSeconds,
      r.leaseTransitions,
    ]);
    this.snapshot = snapshot;
    if (key === this.key) return false;
    this.key = key;
    this.at = now;
    return true;
  }

  /** The local time of the last observed change (undefined before the first observation). */
  get observedAt(): number | undefined {
    return this.key === undefined ? undefined : this.at;
  }

  get holder(): string {
    return this.snapshot?.record.holderIdentity ?? '';
  }

  /**
   * Whether the observed holder's promise has run out by the local clock: the record's
   * leaseDurationSeconds (or `fallbackMs` when it has none) since the last observed change. The
   * renewTime in the record is never looked at.
   */
  expired(now: number, fallbackMs: number): boolean {
    if (this.key === undefined) return false;
    const seconds = this.snapshot?.record.leaseDurationSeconds ?? 0;
    const durationMs = seconds > 0 ? seconds * 1000 : fallbackMs;
    return this.at + durationMs < now;
  }
}

/** The outcome of one {@link LeaderElector.tryAcquireOrRenew} round. */
export type Attempt =
  | { ok: true }
  /** Another holder whose lease has not expired (acquisition) or who took it over (renewal). */
  | { ok: false; kind: 'held'; holder: string }
  /** Leading, and the Lease no longer exists. */
  | { ok: false; kind: 'deleted' }
  /** Our conditional write lost to a concurrent one (409). */
  | { ok: false; kind: 'conflict' }
  | { ok: false; kind: 'error'; error: unknown };

export class LeaderElector {
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly releaseOnCancel: boolean;
  private readonly lock: ResourceLock;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly observation = new LeaseObservation();
  /** Aborted by stop(): wakes the loops; permanent. */
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  /** The leadership of the current run: its signal is the one handed to onStartedLeading. */
  private leading: AbortController | undefined;
  /** Aborted when the renew deadline passes: ends renew requests still in flight. */
  private renewing: AbortController | undefined;
  private watchdog: TimerHandle | undefined;
  /** clock.monotonic() at which the last successful acquisition or renewal was sent. */
  private lastRenewSentAt = 0;
  private reportedLeader = '';

  constructor(private readonly options: LeaderElectorOptions) {
    const {
      leaseDurationMs = 15_000,
      renewDeadlineMs = 10_000,
      retryPeriodMs = 2_000,
      releaseOnCancel = true,
    } = options;
    const lock =
      options.lock ??
      new LeaseLock({ kc: options.kc, namespace: options.namespace, name: options.name, identity: options.identity });
    if (!lock.identity()) throw new Error('leader election: identity must not be empty');
    validateTimings(leaseDurationMs, renewDeadlineMs, retryPeriodMs);
    this.identity = lock.identity();
    this.leaseDurationMs = leaseDurationMs;
    this.renewDeadlineMs = renewDeadlineMs;
    this.retryPeriodMs = retryPeriodMs;
    this.releaseOnCancel = releaseOnCancel;
    this.lock = lock;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger.child({ lease: this.lock.describe(), identity: this.identity });
  }

  /**
   * Whether this elector leads right now (false from the instant leadership is lost). A process
   * woken from a pause past its renew deadline may run other code (its application's timers, due
   * earlier) before the watchdog fires: leadership ends here then, the signal aborted first, so a
   * caller that asks before it writes never writes past the deadline.
   */
  isLeader(): boolean {
    if (this.leading !== undefined && !this.leading.signal.aborted && this.deadlinePassed()) this.deadlineExceeded();
    return this.leading !== undefined && !this.leading.signal.aborted;
  }

  /** The holder last observed (this elector when it leads); undefined when none or not observed yet. */
  getLeader(): string | undefined {
    return this.observation.holder || undefined;
  }

  /**
   * Acquires the lease, leads until leadership is lost or `stop()`, then resolves (after the
   * release and onStoppedLeading). Does not reject: failures are retried and logged.
   */
  run(): Promise<void> {
    if (this.running) return Promise.reject(new Error('leader election: run() is already in progress'));
    if (this.stopping.signal.aborted) return Promise.resolve();
    this.running = this.runOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Stops: ends leadership at once (releasing the lease when `releaseOnCancel`); resolves when run() has finished. */
  async stop(): Promise<void> {
    if (!this.stopping.signal.aborted) {
      this.logger.info('stopping leader election');
      this.stopping.abort();
      this.loseLeadership('stopped');
    }
    await this.running;
  }

  private async runOnce(): Promise<void> {
    this.leading = undefined;
    this.logger.info(
      {
        leaseDurationMs: this.leaseDurationMs,
        renewDeadlineMs: this.renewDeadlineMs,
        retryPeriodMs: this.retryPeriodMs,
      },
      'attempting to acquire the leader lease',
    );
    if (!(await this.acquire())) return;

    const leading = new AbortController();
    this.leading = leading;
    this.renewing = new AbortController();
    this.armWatchdog();
    this.logger.info('acquired the leader lease: leading');
    const started = Promise.resolve().then(() => this.options.onStartedLeading(leading.signal));
    started.then(
      () => this.logger.debug('onStartedLeading returned'),
      (err: unknown) => {
        if (leading.signal.aborted)
          return this.logger.debug({ err: message(err) }, 'onStartedLeading ended after leadership was lost');
        this.logger.error({ err: message(err) }, 'onStartedLeading failed: giving up leadership');
        this.loseLeadership('onStartedLeading failed');
      },
    );

    await this.renewLoop(leading);

    this.clock.clearTimeout(this.watchdog);
    if (this.releaseOnCancel) await this.release();
    try {
      this.options.onStoppedLeading();
    } catch (err) {
      this.logger.error({ err: message(err) }, 'onStoppedLeading threw');
    }
  }

  /** Tries until it holds the lease (true), or until stop() (false). */
  private async acquire(): Promise<boolean> {
    const stopping = this.stopping.signal;
    while (!stopping.aborted) {
      const sentAt = this.clock.monotonic();
      // Not aborted by stop(): an acquisition in flight completes, so that it can be released.
      const attempt = await this.tryAcquireOrRenew(false, { timeoutMs: this.renewDeadlineMs });
      if (attempt.ok) {
        this.lastRenewSentAt = sentAt;
        if (stopping.aborted) {
          if (this.releaseOnCancel) await this.release();
          return false;
        }
        if (this.deadlinePassed()) {
          // Only a pause (the request itself times out by then) answers this late: leading now
          // would act past the deadline. Renew the lease at once instead, with a fresh deadline.
          this.logger.warn(
            { renewDeadlineMs: this.renewDeadlineMs },
            'acquired the lease only after the renew deadline (process paused?): acquiring again before leading',
          );
          continue;
        }
        return true;
      }
      if (attempt.kind === 'held')
        this.logger.debug({ holder: attempt.holder }, 'the lease is held by another candidate and has not expired');
      else if (attempt.kind === 'conflict')
        this.logger.info('lost the race for the lease (409 Conflict): somebody else wrote it first');
      else if (attempt.kind === 'error')
        this.logger.warn({ err: message(attempt.error) }, 'failed to acquire the lease');
      await this.clock.sleep(
        jitteredPeriod(this.retryPeriodMs, () => this.clock.random()),
        stopping,
      );
    }
    return false;
  }

  /** Renews every retryPeriod until leadership is lost (by the watchdog, a takeover, a deletion or stop()). */
  private async renewLoop(leading: AbortController): Promise<void> {
    const renewing = this.renewing!;
    while (!leading.signal.aborted) {
      await this.clock.sleep(this.retryPeriodMs, leading.signal);
      if (leading.signal.aborted) break;
      const sentAt = this.clock.monotonic();
      const remaining = this.lastRenewSentAt + this.renewDeadlineMs - sentAt;
      // Woken past the deadline (the watchdog has not fired yet: the process was paused): the
      // lease may be someone else's by now, so not a single request more.
      if (remaining <= 0) {
        this.deadlineExceeded();
        break;
      }
      const attempt = await this.tryAcquireOrRenew(true, { signal: renewing.signal, timeoutMs: remaining });
      if (attempt.ok) {
        if (leading.signal.aborted) break;
        this.lastRenewSentAt = sentAt;
        this.armWatchdog();
        this.logger.trace('renewed the lease');
      } else if (attempt.kind === 'held') {
        this.loseLeadership(`the lease is now held by ${JSON.stringify(attempt.holder)}`);
      } else if (attempt.kind === 'deleted') {
        this.loseLeadership('the lease was deleted');
      } else if (!leading.signal.aborted) {
        const err = attempt.kind === 'error' ? message(attempt.error) : '409 Conflict';
        this.logger.warn(
          { err, msLeft: Math.round(this.lastRenewSentAt + this.renewDeadlineMs - this.clock.monotonic()) },
          'failed to renew the lease; retrying until the renew deadline',
        );
      }
    }
  }

  /** Ends leadership now, if leading: aborts the leadership signal first of all. */
  private loseLeadership(reason: string): void {
    const leading = this.leading;
    if (!leading || leading.signal.aborted) return;
    leading.abort(new LeadershipLost(reason));
    this.clock.clearTimeout(this.watchdog);
    if (reason === 'stopped') this.logger.info('leadership ended: stopped');
    else this.logger.warn({ reason }, 'lost leadership');
  }

  /** Whether lastRenewSentAt + renewDeadline has passed by the local clock. */
  private deadlinePassed(): boolean {
    return this.clock.monotonic() >= this.lastRenewSentAt + this.renewDeadlineMs;
  }

  /**
   * Leadership ends when no renewal sent after lastRenewSentAt has succeeded by lastRenewSentAt +
   * renewDeadline: at once if that has passed already (an answer that came after a pause).
   */
  private armWatchdog(): void {
    this.clock.clearTimeout(this.watchdog);
    const delay = this.lastRenewSentAt + this.renewDeadlineMs - this.clock.monotonic();
    if (delay <= 0) return this.deadlineExceeded();
    this.watchdog = this.clock.setTimeout(() => this.deadlineExceeded(), delay);
  }

  private deadlineExceeded(): void {
    this.loseLeadership(`no successful renewal within the renew deadline (${this.renewDeadlineMs} ms)`);
    this.renewing?.abort(new LeadershipLost('renew deadline exceeded'));
  }

  private observe(snapshot: LockSnapshot): void {
    this.observation.observe(snapshot, this.clock.monotonic());
    const holder = snapshot.record.holderIdentity;
    if (holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    if (!holder) return;
    this.logger.info({ leader: holder }, 'new leader observed');
    try {
      this.options.onNewLeader?.(holder);
    } catch (err) {
      this.logger.error({ err: message(err) }, 'onNewLeader threw');
    }
  }

  /**
   * client-go tryAcquireOrRenew: one round of reads and conditional writes, as a candidate
   * (`leading` false: take the lock if it is free, ours, or expired by our own observation) or as
   * the leader (renew it). run() calls it; public so that tests can drive single rounds.
   */
  async tryAcquireOrRenew(leading: boolean, request: LockRequestOptions = {}): Promise<Attempt> {
    const now = formatMicroTime(new Date(this.clock.now()));
    const duration = leaseDurationSeconds(this.leaseDurationMs);
    const known = this.observation.snapshot;

    // 1. The leader's fast path: update the version it wrote last.
    if (leading && known) {
      try {
        this.observe(
          await this.lock.update(
            known,
            { ...known.record, holderIdentity: this.identity, leaseDurationSeconds: duration, renewTime: now },
            request,
          ),
        );
        return { ok: true };
      } catch (err) {
        if (isNotFound(err)) return { ok: false, kind: 'deleted' };
        if (!isConflict(err)) return { ok: false, kind: 'error', error: err };
        this.logger.debug('the lease changed since the last renewal (409 Conflict): reading it again');
      }
    }

    // 2. Read the lease, or create it.
    let current: LockSnapshot | undefined;
    try {
      current = await this.lock.get(request);
    } catch (err) {
      return { ok: false, kind: 'error', error: err };
    }
    if (!current) {
      if (leading) return { ok: false, kind: 'deleted' };
      try {
        this.observe(
          await this.lock.create(
            {
              holderIdentity: this.identity,
              leaseDurationSeconds: duration,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: 0,
            },
            request,
          ),
        );
        return { ok: true };
      } catch (err) {
        return isConflict(err) ? { ok: false, kind: 'conflict' } : { ok: false, kind: 'error', error: err };
      }
    }
    this.observe(current);

    // 3. Decide from the record and the local time of its last observed change.
    const record = current.record;
    let next: LeaderElectionRecord;
    if (leading) {
      if (record.holderIdentity !== this.identity) return { ok: false, kind: 'held', holder: record.holderIdentity };
      next = { ...record, leaseDurationSeconds: duration, renewTime: now };
    } else {
      const holder = record.holderIdentity;
      if (holder && holder !== this.identity && !this.observation.expired(this.clock.monotonic(), this.leaseDurationMs))
        return { ok: false, kind: 'held', holder };
      if (holder && holder !== this.identity)
        this.logger.info({ holder }, 'the lease has expired by local observation: taking it over');
      next = {
        holderIdentity: this.identity,
        leaseDurationSeconds: duration,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: holder === this.identity ? record.leaseTransitions : record.leaseTransitions + 1,
      };
    }

    // 4. The conditional write: 409 means somebody wrote the lease after we read it.
    try {
      this.observe(await this.lock.update(current, next, request));
      return { ok: true };
    } catch (err) {
      if (isConflict(err)) return { ok: false, kind: 'conflict' };
      if (leading && isNotFound(err)) return { ok: false, kind: 'deleted' };
      return { ok: false, kind: 'error', error: err };
    }
  }

  /**
   * client-go release(): clears the holder (leaseDurationSeconds 1) if the lease is still ours as
   * last observed, and still ours by the local clock: once leaseDuration has passed since the last
   * successful renewal was sent (a process paused that long), others may hold it, and it is left
   * to expire.
   */
  private async release(): Promise<void> {
    const known = this.observation.snapshot;
    if (!known || known.record.holderIdentity !== this.identity) return;
    if (this.clock.monotonic() >= this.lastRenewSentAt + this.leaseDurationMs) {
      this.logger.warn(
        'not releasing the leader lease: its duration has run out since the last renewal (it expires on its own)',
      );
      return;
    }
    const now = formatMicroTime(new Date(this.clock.now()));
    try {
      this.observe(
        await this.lock.update(
          known,
          {
            holderIdentity: '',
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: known.record.leaseTransitions,
          },
          { timeoutMs: this.renewDeadlineMs },
        ),
      );
      this.logger.info('released the leader lease');
    } catch (err) {
      this.logger.warn({ err: message(err) }, 'failed to release the leader lease (it expires on its own)');
    }
  }
}
