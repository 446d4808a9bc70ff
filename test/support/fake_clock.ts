/**
 * A {@link Clock} whose time moves only when the test says (k8s.io/utils/clock/testing FakeClock).
 *
 * Timers fire from `advance()` / `next()`, one at a time in the order they come due, at their own
 * time, and every promise chain they start runs to where it waits again (`settle()`) before the
 * next one fires: the code under test runs as it would, only without waiting. `jump()` moves the
 * time without firing anything, as a paused process (a long GC, a frozen VM) sees it.
 */
import { sleepOn, type Clock, type TimerHandle } from '../../src/kube/clock.ts';

interface FakeTimer {
  readonly seq: number;
  readonly at: number;
  readonly fn: () => void;
}

export interface FakeClockOptions {
  /** Monotonic time at the start (default 1,000,000 ms: "since boot", not 0). */
  monotonic?: number;
  /** Wall-clock time at the start (default 2024-01-01T00:00:00Z). */
  wall?: number;
  /** What `random()` returns (default 0.5). */
  random?: () => number;
  /**
   * Fire timers as Node does: on the event loop's whole-millisecond clock (the time a timer is set
   * truncated, its delay rounded up to at least 1 ms), the callback then reading `monotonic()` a
   * fraction later (`latency()`, in [0, 1)). A timer can so run before `monotonic()` says it is due.
   */
  nodeTimers?: { latency: () => number };
}

export class FakeClock implements Clock {
  private t: number;
  private readonly wallOffset: number;
  private readonly nodeTimers: { latency: () => number } | undefined;
  private timers: FakeTimer[] = [];
  private seq = 0;
  /** The delay asked of every `setTimeout` so far, in order (sleeps included). */
  readonly delays: number[] = [];
  /** Timers that ran while `monotonic()` said they were not due yet (nodeTimers only). */
  early = 0;
  random: () => number;

  constructor({
    monotonic = 1_000_000,
    wall = Date.UTC(2024, 0, 1),
    random = () => 0.5,
    nodeTimers,
  }: FakeClockOptions = {}) {
    this.t = monotonic;
    this.wallOffset = wall - monotonic;
    this.random = random;
    this.nodeTimers = nodeTimers;
  }

  now(): number {
    return this.wallOffset + this.t;
  }

  monotonic(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    this.delays.push(ms);
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const at = this.nodeTimers ? Math.floor(this.t) + Math.ceil(Math.max(1, delay)) : this.t + delay;
    const due = this.t + delay;
    const timer: FakeTimer = {
      seq: this.seq++,
      at,
      fn: () => {
        if (this.t < due) this.early++;
        fn();
      },
    };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(timer: TimerHandle | undefined): void {
    this.timers = this.timers.filter((t) => t !== timer);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.timers.length;
  }

  /** Lets every promise chain run until it waits for a timer (or for nothing); no time passes. */
  async settle(): Promise<void> {
    // The microtask queue drains completely before a macrotask runs; two rounds for good measure.
    for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
  }

  /** Fires the timer that comes due first (moving the time to it, never back) and settles; false when there is none. */
  async next(): Promise<boolean> {
    await this.settle();
    const timer = this.first();
    if (!timer) return false;
    this.fire(timer);
    await this.settle();
    return true;
  }

  /** Moves the time forward by `ms`, firing each timer due on the way at its own time. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await this.settle();
    for (let timer = this.first(); timer && timer.at <= end; timer = this.first()) {
      this.fire(timer);
      await this.settle();
    }
    this.t = Math.max(this.t, end);
    await this.settle();
  }

  /** Fires timers (and settles) until `done()` holds; throws when there is no timer left or after `limit` of them. */
  async runUntil(done: () => boolean, limit = 10_000): Promise<void> {
    await this.settle();
    for (let fired = 0; !done(); fired++) {
      if (fired >= limit) throw new Error(`still not done after ${limit} timers (time ${this.t})`);
      if (!(await this.next())) throw new Error(`not done, and no timer left (time ${this.t})`);
    }
  }

  /** Moves the time forward without firing anything: the process was paused; overdue timers fire at the next advance()/next(). */
  jump(ms: number): void {
    this.t += ms;
  }

  private first(): FakeTimer | undefined {
    let first: FakeTimer | undefined;
    for (const t of this.timers) if (!first || t.at < first.at || (t.at === first.at && t.seq < first.seq)) first = t;
    return first;
  }

  private fire(timer: FakeTimer): void {
    this.timers = this.timers.filter((t) => t !== timer);
    this.t = Math.max(this.t, timer.at) + (this.nodeTimers?.latency() ?? 0);
    timer.fn();
  }
}
