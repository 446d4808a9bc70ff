/** What the watcher-election controller is made with: its cluster, config, Leases, metrics and timings. */
import type { Config } from '../config/config.ts';
import type { RestConfig } from '../kube/rest/config.ts';
import type { Logger } from '../log.ts';
import type { ControllerMetrics } from './metrics.ts';

export interface ControllerOptions {
  kc: RestConfig;
  config: Config;
  /** The controller's own namespace: both Leases live there. */
  namespace: string;
  /** This replica (the pod name). */
  identity: string;
  /** The Lease the replicas elect their leader with. */
  leaderLeaseName: string;
  logger: Logger;
  metrics: ControllerMetrics;
  leaderElection?: { leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  /** Re-run the election this often even without events, to repair drift (default 30 s). */
  resyncMs?: number;
  /** Elections start at least this far apart (default 200 ms): see Coalescer. */
  minElectionIntervalMs?: number;
  /** Called when this replica loses leadership (the process should exit and restart). */
  onLostLeadership?: () => void;
  /** How long more than one eligible watch-only agent may run before `MultipleWatchOnlyAgents` (default 60 s). */
  multipleWatchOnlyGraceMs?: number;
  /** A monotonic clock in milliseconds (default `performance.now`); for the grace period. */
  now?: () => number;
}
