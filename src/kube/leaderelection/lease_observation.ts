/**
 * The pure parts of leader election: the timing rules of client-go's NewLeaderElector, the
 * jittered retry, the lease duration as written, what a candidate observed of the lease by its own
 * clock (observed-time expiry), and the reason a leadership ends.
 */
import type { LockSnapshot } from './lease_lock.ts';

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
