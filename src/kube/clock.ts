/**
 * Time as the time-dependent parts see it (k8s.io/utils/clock): the reflector's backoff, the
 * leader elector's deadlines and the coalescer's interval read the time, wait and draw jitter
 * through a {@link Clock}, so that tests can drive them with a fake one instead of sleeping.
 *
 * Two readings of the time, for two uses: {@link Clock.monotonic} measures every duration (it
 * never jumps when the wall clock is set); {@link Clock.now} only stamps what is written for
 * others to read (a Lease's renewTime), never compared with anything.
 */

/** What `setTimeout` returned: only ever handed back to `clearTimeout`. */
export type TimerHandle = object;

export interface Clock {
  /** Wall-clock milliseconds since the epoch (Date.now()): timestamps written to objects. */
  now(): number;
  /** Monotonic milliseconds (performance.now()): every duration, deadline and interval. */
  monotonic(): number;
  /** Calls `fn` once, `ms` from now (by this clock's timers, which may fire a little early: see {@link systemClock}). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(timer: TimerHandle | undefined): void;
  /** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Uniform in [0, 1): jitter. */
  random(): number;
}

/** The one abortable sleep, on any clock's timers: resolves after `ms`, or as soon as `signal` aborts. */
export function sleepOn(
  clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The process's clock: Date.now, performance.now, Node's timers and Math.random.
 *
 * Node keeps its timers on the event loop's whole-millisecond time, taken at the start of the
 * loop iteration: a timer can fire up to a millisecond (more after a long iteration) before
 * `monotonic()` says it is due. Code that must not act early reads `monotonic()` again in the
 * callback (see Coalescer).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
  sleep: (ms, signal) => sleepOn(systemClock, ms, signal),
  random: () => Math.random(),
};
