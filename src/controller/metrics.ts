/** The controller's Prometheus metrics (DESIGN §8). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { METRIC_PREFIX } from '../metric_prefix.ts';
import { POLICIES, type Policy } from '../policy/policy.ts';

export interface ControllerMetrics {
  registry: Registry;
  watcherElected: Gauge;
  transitions: Counter;
  candidates: Gauge<'policy' | 'eligible'>;
  electionDuration: Histogram;
  leader: Gauge;
  deprecatedEnvPods: Gauge;
  multipleWatchOnlyAgents: Gauge;
}

export function createControllerMetrics(): ControllerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    watcherElected: new Gauge({
      name: `${METRIC_PREFIX}watcher_elected`,
      help: '1 when an agent pod is elected Kubernetes watcher, 0 when none is eligible.',
      registers,
    }),
    transitions: new Counter({
      name: `${METRIC_PREFIX}watcher_transitions_total`,
      help: 'Changes of the elected watcher published by this replica.',
      registers,
    }),
    candidates: new Gauge({
      name: `${METRIC_PREFIX}candidates`,
      help: 'Agent pods considered by the election, by policy and eligibility.',
      labelNames: ['policy', 'eligible'],
      registers,
    }),
    electionDuration: new Histogram({
      name: `${METRIC_PREFIX}election_duration_seconds`,
      help: 'Time to run one election (computation and publication).',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    leader: new Gauge({
      name: `${METRIC_PREFIX}leader`,
      help: '1 on the controller replica that holds the leader Lease.',
      registers,
    }),
    multipleWatchOnlyAgents: new Gauge({
      name: `${METRIC_PREFIX}multiple_watch_only_agents`,
      help: '1 while more than one eligible agent has run watch-only for longer than the grace period (DeepFlow flaps between them).',
      registers,
    }),
    deprecatedEnvPods: new Gauge({
      name: `${METRIC_PREFIX}deprecated_env_pods`,
      help: 'Agent pods that still carry ONLY_WATCH_K8S_RESOURCE (their agent exits).',
      registers,
    }),
  };
}

/** `candidates{policy,eligible}`: the election's candidates, and the watch-disabled pods counted apart. */
export function setCandidateMetrics(
  metrics: ControllerMetrics,
  candidates: readonly { policy: Policy; eligible: boolean }[],
  watchDisabled: number,
): void {
  const counts = new Map<string, number>([['watch-disabled/false', watchDisabled]]);
  for (const c of candidates) {
    const key = `${c.policy}/${c.eligible}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  for (const policy of POLICIES)
    for (const eligible of [true, false])
      metrics.candidates.set({ policy, eligible: String(eligible) }, counts.get(`${policy}/${eligible}`) ?? 0);
}

/** `candidates{policy="watch-disabled",eligible="false"}` alone: a watch-disabled pod came or went, no election ran. */
export function setWatchDisabledMetric(metrics: ControllerMetrics, watchDisabled: number): void {
  metrics.candidates.set({ policy: 'watch-disabled', eligible: 'false' }, watchDisabled);
}
