/** What a LeaderElector is made with: the lock it takes (a Lease, or any other), its timings and callbacks. */
import type { Logger } from '../../log.ts';
import type { Clock } from '../clock.ts';
import type { RestConfig } from '../rest/config.ts';
import type { ResourceLock } from './lease_lock.ts';

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
