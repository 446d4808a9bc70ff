import { systemClock, type Clock, type TimerHandle } from '../kube/clock.ts';

/**
 * Runs an async task at most once at a time; requests that arrive while it runs (a burst of
 * informer events) collapse into one more run. A failed run is retried with backoff. Runs start
 * at least `minIntervalMs` apart, so that a storm of events (nodes flapping in a large cluster)
 * costs a bounded share of the CPU; a request after a quiet period runs at once.
 */
export class Coalescer {
  private running = false;
  private again = false;
  private timer: TimerHandle | undefined;
  private failures = 0;
  private stopped = false;
  private idle: (() => void)[] = [];
  private lastStart = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly onError: (err: unknown, retryInMs: number) => void,
    private readonly minIntervalMs = 0,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Asks for a run as soon as possible (after the current one, if any). */
  request(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return; // a run is already pending (soon, or after a failure's backoff)
    this.arm(0);
  }

  /**
   * Schedules a run in `delayMs`, never sooner than `minIntervalMs` after the last start. A
   * timer may fire before `clock.monotonic()` says it is due (Node measures timers on the event
   * loop's whole-millisecond time: see systemClock): the callback checks again and re-arms for
   * what is left.
   */
  private arm(delayMs: number): void {
    const due = Math.max(this.clock.monotonic() + delayMs, this.lastStart + this.minIntervalMs);
    const fire = () => {
      const left = due - this.clock.monotonic();
      if (left > 0) this.timer = this.clock.setTimeout(fire, left);
      else void this.run();
    };
    this.timer = this.clock.setTimeout(fire, Math.max(0, due - this.clock.monotonic()));
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    this.lastStart = this.clock.monotonic();
    this.running = true;
    this.again = false;
    try {
      await this.task();
      this.failures = 0;
    } catch (err) {
      this.failures++;
      const delay = Math.min(30_000, 250 * 2 ** Math.min(this.failures - 1, 7));
      this.onError(err, delay);
      if (!this.stopped) this.arm(delay);
    } finally {
      this.running = false;
    }
    if (this.again) this.request();
    else if (!this.timer) for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Resolves when no run is in progress or pending. */
  whenIdle(): Promise<void> {
    return !this.running && !this.timer ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
