import { expect, test } from '@jest/globals';
import { Coalescer } from '../../src/controller/coalescer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function counting(taskMs: number, fail = () => false) {
  const starts: number[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const errors: number[] = [];
  const task = async () => {
    starts.push(performance.now());
    maxConcurrent = Math.max(maxConcurrent, ++concurrent);
    await sleep(taskMs);
    concurrent--;
    if (fail()) throw new Error('boom');
  };
  return { starts, errors, task, max: () => maxConcurrent };
}

async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !what(); i++) await sleep(25);
  expect(what()).toBe(true);
}

test('a burst of requests during a run collapses into one more run, never two at once', async () => {
  const t = counting(30);
  const c = new Coalescer(t.task, () => {});
  c.request();
  await until(() => t.starts.length === 1);
  for (let i = 0; i < 100; i++) c.request();
  await sleep(1);
  await c.whenIdle();
  expect(t.starts).toHaveLength(2);
  expect(t.max()).toBe(1);
  c.stop();
});

test('the first request after a quiet period runs without waiting for the interval', async () => {
  const t = counting(1);
  const c = new Coalescer(t.task, () => {}, 60_000);
  c.request();
  await until(() => t.starts.length === 1); // long before a minute
  c.request(); // within the interval: waits for it
  await sleep(300);
  expect(t.starts).toHaveLength(1);
  c.stop();
});

test('runs start at least minIntervalMs apart, by the performance clock', async () => {
  // Node fires timers on a whole-millisecond clock, often up to 1 ms before performance.now()
  // says they are due; the coalescer must not. 0.5 ms of slack covers the microseconds between
  // the coalescer reading the clock and the task recording its start.
  const t = counting(1);
  const c = new Coalescer(t.task, () => {}, 50);
  for (let runs = 1; runs <= 8; runs++) {
    c.request();
    c.request();
    await until(() => t.starts.length === runs);
  }
  await c.whenIdle();
  const gaps = t.starts.slice(1).map((s, i) => s - t.starts[i]!);
  expect(gaps).toHaveLength(7);
  expect(Math.min(...gaps)).toBeGreaterThanOrEqual(49.5);
  c.stop();
});

test('a failed run is retried with backoff and reported', async () => {
  let failing = 2;
  const t = counting(1, () => failing-- > 0);
  const delays: number[] = [];
  const c = new Coalescer(t.task, (_err, retryInMs) => delays.push(retryInMs));
  c.request();
  await until(() => t.starts.length === 3);
  await c.whenIdle();
  expect(delays).toEqual([250, 500]);
  expect(t.starts).toHaveLength(3);
  c.stop();
});

test('stop cancels a pending run and releases whenIdle', async () => {
  const t = counting(1);
  const c = new Coalescer(t.task, () => {}, 10_000);
  c.request();
  await sleep(10);
  c.request(); // pending for 10 s
  const idle = c.whenIdle();
  c.stop();
  await idle;
  expect(t.starts).toHaveLength(1);
});
