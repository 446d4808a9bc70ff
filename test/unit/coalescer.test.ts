/** The Coalescer on a fake clock: every time below is exact, nothing waits for real time. */
import { expect, test } from '@jest/globals';
import { Coalescer } from '../../src/controller/coalescer.ts';
import { FakeClock } from '../support/fake_clock.ts';

/** A task that takes `taskMs` of the clock's time (0: resolves at once), recording when each run starts. */
function counting(clock: FakeClock, taskMs: number, fail = () => false) {
  const starts: number[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const task = async () => {
    starts.push(clock.monotonic());
    maxConcurrent = Math.max(maxConcurrent, ++concurrent);
    if (taskMs > 0) await clock.sleep(taskMs);
    concurrent--;
    if (fail()) throw new Error('boom');
  };
  return { starts, task, max: () => maxConcurrent };
}

test('a burst of requests during a run collapses into one more run, never two at once', async () => {
  const clock = new FakeClock();
  const t = counting(clock, 30);
  const c = new Coalescer(t.task, () => {}, 0, clock);
  const t0 = clock.monotonic();
  c.request();
  await clock.advance(0);
  expect(t.starts).toEqual([t0]);
  for (let i = 0; i < 100; i++) c.request();
  await clock.advance(30); // the first run ends; the burst is one more run, at once
  expect(t.starts).toEqual([t0, t0 + 30]);
  const idle = c.whenIdle();
  await clock.advance(30);
  await idle;
  expect(t.starts).toHaveLength(2);
  expect(t.max()).toBe(1);
  expect(clock.pending).toBe(0);
  c.stop();
});

test('the first request after a quiet period runs at once; the next waits for the interval from the last start', async () => {
  const clock = new FakeClock();
  const t = counting(clock, 1);
  const c = new Coalescer(t.task, () => {}, 60_000, clock);
  const t0 = clock.monotonic();
  c.request();
  await clock.advance(0);
  expect(t.starts).toEqual([t0]);
  await clock.advance(10);
  c.request(); // within the interval
  await clock.advance(59_989);
  expect(t.starts).toEqual([t0]);
  await clock.advance(1);
  expect(t.starts).toEqual([t0, t0 + 60_000]);
  await clock.advance(120_000); // quiet
  c.request();
  await clock.advance(0);
  expect(t.starts).toEqual([t0, t0 + 60_000, t0 + 180_000]);
  c.stop();
});

test('runs start at least minIntervalMs apart by the monotonic clock, though Node timers fire early', async () => {
  // Node runs a timer when the loop's whole-millisecond time reaches it; the callback then reads
  // the monotonic clock a fraction later. With the callback reading 0.7 ms late one time and
  // 0.1 ms the next, a 50 ms timer set 0.7 ms into a millisecond runs 0.6 ms early: the coalescer
  // must read the clock again and wait for what is left.
  let n = 0;
  const clock = new FakeClock({ monotonic: 1_000_000.7, nodeTimers: { latency: () => (n++ % 2 === 0 ? 0.7 : 0.1) } });
  const t = counting(clock, 0);
  const c = new Coalescer(t.task, () => {}, 50, clock);
  for (let runs = 1; runs <= 8; runs++) {
    c.request();
    c.request();
    await clock.runUntil(() => t.starts.length === runs);
  }
  await clock.runUntil(() => clock.pending === 0);
  const gaps = t.starts.slice(1).map((s, i) => s - t.starts[i]!);
  expect(gaps).toHaveLength(7);
  expect(Math.min(...gaps)).toBeGreaterThanOrEqual(50);
  expect(clock.early).toBeGreaterThan(0); // the early case did happen
  c.stop();
});

test('a failed run is retried with backoff (250 ms doubling) and reported', async () => {
  const clock = new FakeClock();
  let failing = 3;
  const t = counting(clock, 0, () => failing-- > 0);
  const delays: number[] = [];
  const c = new Coalescer(t.task, (_err, retryInMs) => delays.push(retryInMs), 0, clock);
  const t0 = clock.monotonic();
  c.request();
  await clock.runUntil(() => t.starts.length === 4);
  await c.whenIdle();
  expect(delays).toEqual([250, 500, 1000]);
  expect(t.starts.map((s) => s - t0)).toEqual([0, 250, 750, 1750]);
  c.stop();
});

test('stop cancels a pending run and releases whenIdle', async () => {
  const clock = new FakeClock();
  const t = counting(clock, 1);
  const c = new Coalescer(t.task, () => {}, 10_000, clock);
  c.request();
  await clock.advance(10);
  c.request(); // pending for 10 s
  expect(clock.pending).toBe(1);
  const idle = c.whenIdle();
  c.stop();
  await idle;
  expect(clock.pending).toBe(0);
  await clock.advance(60_000);
  expect(t.starts).toHaveLength(1);
});
