/**
 * Waiting for a condition, the one way every suite does it: poll a probe until it gives a value.
 * No test waits for time to pass instead (a sleep is only the poll interval here).
 */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface EventuallyOptions {
  /** Give up after this long (default 60 s): a hang guard, not a speed assertion. */
  timeoutMs?: number;
  /** How often to probe (default 250 ms). */
  everyMs?: number;
  /** On timeout, what to say about the state (JSON). */
  explain?: () => unknown;
}

/**
 * Resolves with the probe's first truthy value; a probe that throws counts as not yet (the last
 * error is in the timeout's message).
 */
export async function eventually<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: number | EventuallyOptions = {},
): Promise<T> {
  const { timeoutMs = 60_000, everyMs = 250, explain } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = [last ? String(last) : '', explain ? JSON.stringify(explain()) : ''].filter(Boolean).join('; ');
      throw new Error(`timed out waiting for ${what}${why ? `: ${why}` : ''}`);
    }
    await sleep(everyMs);
  }
}
