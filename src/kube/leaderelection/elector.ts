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
 * Where it departs from client-go, always on the safe side: docs/reliability.md (Leader election).
 */
import { errorMessage as message, type Logger } from '../../log.ts';
import { systemClock, type Clock, type TimerHandle } from '../clock.ts';
import { LeaseLock, type LockRequestOptions, type LockSnapshot, type ResourceLock } from './lease_lock.ts';
import { jitteredPeriod, LeadershipLost, LeaseObservation, validateTimings } from './lease_observation.ts';
import { releaseLock, tryAcquireOrRenew, type Attempt, type RoundContext } from './lease_round.ts';
import type { LeaderElectorOptions } from './elector_options.ts';

export { LeadershipLost } from './lease_observation.ts';
export type { Attempt } from './lease_round.ts';
export type { LeaderElectorOptions, LeaderElectorSettings } from './elector_options.ts';

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
  /** What a round of {@link tryAcquireOrRenew} reads and records. */
  private readonly round: RoundContext;

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
    this.round = {
      lock,
      identity: this.identity,
      leaseDurationMs,
      clock: this.clock,
      logger: this.logger,
      observation: this.observation,
      observe: (snapshot) => this.observe(snapshot),
    };
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
    const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = this;
    this.logger.info({ leaseDurationMs, renewDeadlineMs, retryPeriodMs }, 'attempting to acquire the leader lease');
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
    return tryAcquireOrRenew(this.round, leading, request);
  }

  /** client-go release(): see {@link releaseLock}. */
  private release(): Promise<void> {
    return releaseLock(this.round, this.lastRenewSentAt, this.renewDeadlineMs);
  }
}
