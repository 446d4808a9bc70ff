/**
 * DESIGN §6 rule 6: more than one eligible watch-only agent for longer than a grace period.
 *
 * The DeepFlow server hands the watch to any `watch-only` agent at its next sync, so two of them
 * take it from each other every minute. A surge rollout of a one-replica watcher briefly runs two;
 * the grace period (60 s by default) keeps that from raising the alarm. The alarm is raised once
 * per occurrence: when the count has stayed above one for the whole grace period; it clears
 * as soon as the count drops to one or none.
 *
 * Pure: the caller passes the time (any monotonic clock in milliseconds) and keeps the state.
 */
export interface WatchOnlyAlarmState {
  /** When the count last rose above one; undefined while it is one or less. */
  since?: number;
  /** Whether this occurrence has been raised. */
  raised: boolean;
}

export interface WatchOnlyAlarmStep {
  state: WatchOnlyAlarmState;
  /** True exactly once per occurrence: record the Event and the log line now. */
  raise: boolean;
  /** While counting down: how long until the alarm is due (re-check then). */
  dueInMs?: number;
}

export const QUIET: WatchOnlyAlarmState = { raised: false };

export function stepWatchOnlyAlarm(
  state: WatchOnlyAlarmState,
  watchOnlyAgents: number,
  now: number,
  graceMs: number,
): WatchOnlyAlarmStep {
  if (watchOnlyAgents <= 1) return { state: QUIET, raise: false };
  const since = state.since ?? now;
  const elapsed = now - since;
  if (elapsed < graceMs) return { state: { since, raised: false }, raise: false, dueInMs: graceMs - elapsed };
  return { state: { since, raised: true }, raise: !state.raised };
}
