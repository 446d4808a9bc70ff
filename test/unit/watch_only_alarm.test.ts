import { describe, expect, test } from '@jest/globals';
import { QUIET, stepWatchOnlyAlarm, type WatchOnlyAlarmState } from '../../src/controller/watch_only_alarm.ts';

/** Runs the alarm over (time, watch-only agents) observations; returns what each step raised and when it asked to re-check. */
function run(observations: [number, number][], graceMs = 60_000) {
  let state: WatchOnlyAlarmState = QUIET;
  return observations.map(([now, count]) => {
    const step = stepWatchOnlyAlarm(state, count, now, graceMs);
    state = step.state;
    return { now, raise: step.raise, dueInMs: step.dueInMs, raised: step.state.raised };
  });
}

describe('MultipleWatchOnlyAgents (DESIGN §6 rule 6)', () => {
  test('one or no watch-only agent never raises', () => {
    expect(
      run([
        [0, 0],
        [100_000, 1],
        [200_000, 1],
      ]).map((s) => s.raise),
    ).toEqual([false, false, false]);
  });

  test('two agents raise once, when the grace period has passed, and ask to be re-checked then', () => {
    expect(
      run([
        [1_000, 2],
        [31_000, 2],
        [61_000, 2],
        [90_000, 3],
        [500_000, 2],
      ]),
    ).toEqual([
      { now: 1_000, raise: false, dueInMs: 60_000, raised: false },
      { now: 31_000, raise: false, dueInMs: 30_000, raised: false },
      { now: 61_000, raise: true, dueInMs: undefined, raised: true },
      { now: 90_000, raise: false, dueInMs: undefined, raised: true },
      { now: 500_000, raise: false, dueInMs: undefined, raised: true },
    ]);
  });

  test('a surge rollout shorter than the grace period does not raise', () => {
    expect(
      run([
        [0, 1],
        [10_000, 2],
        [40_000, 1],
        [69_000, 1],
      ]).map((s) => s.raise),
    ).toEqual([false, false, false, false]);
  });

  test('the grace period starts again after the count dropped: a new occurrence raises again', () => {
    const steps = run([
      [0, 2],
      [60_000, 2],
      [70_000, 1],
      [80_000, 2],
      [139_999, 2],
      [140_000, 2],
    ]);
    expect(steps.map((s) => s.raise)).toEqual([false, true, false, false, false, true]);
    expect(steps[4]!.dueInMs).toBe(1);
  });
});
