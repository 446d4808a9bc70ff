/**
 * The reflector's retry timing on a fake clock: which failures back off and for how long, what
 * resets the count, the cap, the jitter. A scripted lister-watcher fails or succeeds on cue and
 * records when each request was made; the waits between requests are exact.
 */
import { describe, expect, test } from '@jest/globals';
import type {
  ListerWatcher,
  ListOptions,
  ListPageMeta,
  WatchHandle,
  WatchObject,
  WatchOptions,
} from '../../src/kube/cache/listwatch.ts';
import { HEALTHY_WATCH_MS, Reflector } from '../../src/kube/cache/reflector.ts';
import { backoffDelay, type BackoffOptions } from '../../src/kube/cache/reflector_options.ts';
import { ApiError } from '../../src/kube/rest/request.ts';
import { Store } from '../../src/kube/cache/store.ts';
import { createLogger } from '../../src/log.ts';
import { FakeClock } from '../support/fake_clock.ts';

/** One answer of the script: a list, or a watch that ends (`afterMs` later, by the fake clock). */
type Step =
  | { list: 'ok' | 'fail' }
  | { watch: 'fail' | 'gone'; afterMs?: number }
  /** A normal close, after `events` events. */
  | { watch: 'close'; afterMs: number; events?: number };

/** Answers list and watch requests from a script; once the script is done, every request hangs until aborted. */
class ScriptedListerWatcher implements ListerWatcher {
  readonly description = 'scripted';
  /** Each request: what it was, when it was made, when it ended (by the clock). */
  readonly requests: { op: 'list' | 'watch'; at: number; end: number }[] = [];
  readonly watchTimeouts: number[] = [];
  private rv = 100;

  constructor(
    private readonly clock: FakeClock,
    private readonly script: Step[],
  ) {}

  /** The script is played out and the reflector has sent the request after it (which hangs). */
  get done(): boolean {
    return this.script.length === 0 && this.hung;
  }
  private hung = false;

  private take(op: 'list' | 'watch'): Step | undefined {
    const step = this.script.shift();
    if (!step) this.hung = true;
    if (step && !(op in step)) throw new Error(`the script expected ${Object.keys(step)[0]}, the reflector sent ${op}`);
    return step;
  }

  list(_options: ListOptions, signal: AbortSignal): Promise<ListPageMeta> {
    const at = this.clock.monotonic();
    const step = this.take('list') as { list: 'ok' | 'fail' } | undefined;
    this.requests.push({ op: 'list', at, end: at });
    if (!step)
      return new Promise((_resolve, reject) =>
        signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
      );
    if (step.list === 'fail') return Promise.reject(new Error('connect ECONNREFUSED'));
    return Promise.resolve({ resourceVersion: String(this.rv) });
  }

  watch(
    options: WatchOptions,
    onEvent: (type: string, object: WatchObject) => void,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle> {
    const at = this.clock.monotonic();
    this.watchTimeouts.push(options.timeoutSeconds);
    const step = this.take('watch') as Extract<Step, { watch: unknown }> | undefined;
    const request = { op: 'watch' as const, at, end: Number.POSITIVE_INFINITY };
    this.requests.push(request);
    if (!step) return Promise.resolve({ abort: () => {} });
    const end = () => {
      request.end = this.clock.monotonic();
      if (step.watch === 'fail') onDone(new Error('stream reset'));
      else if (step.watch === 'gone') onDone(new ApiError(410, 'too old resource version'));
      else {
        for (let i = 0; i < ('events' in step ? (step.events ?? 0) : 0); i++) {
          const rv = String(++this.rv);
          onEvent('ADDED', { metadata: { namespace: 'ns', name: `o${rv}`, resourceVersion: rv } });
        }
        onDone();
      }
    };
    const timer = this.clock.setTimeout(end, step.afterMs ?? 0);
    return Promise.resolve({ abort: () => this.clock.clearTimeout(timer) });
  }

  /** The wait before each request: from the end of the previous one (the first: 0). */
  waits(): string[] {
    return this.requests.map((r, i) => `${r.op} after ${i === 0 ? 0 : r.at - this.requests[i - 1]!.end}`);
  }
}

const ALMOST_ONE = 0.999_999_99;

async function runScript(
  script: Step[],
  { backoff, random = () => ALMOST_ONE }: { backoff?: BackoffOptions; random?: () => number } = {},
) {
  const clock = new FakeClock({ random });
  const lw = new ScriptedListerWatcher(clock, script);
  const lines: { msg: string; retryInMs?: number }[] = [];
  const logger = createLogger('debug', { write: (s: string) => void lines.push(JSON.parse(s)) });
  const reflector = new Reflector<unknown>({
    listerWatcher: lw,
    store: new Store(),
    transform: (o) => o,
    logger,
    clock,
    ...(backoff && { backoff }),
  });
  const run = reflector.run();
  await clock.runUntil(() => lw.done);
  await clock.settle();
  reflector.stop();
  await run;
  const logged = lines.filter((l) => l.msg === 'list/watch failed; retrying').map((l) => l.retryInMs);
  return { lw, reflector, clock, logged };
}

const fail = { list: 'fail' } as const;
const listOk = { list: 'ok' } as const;

describe('the reflector backs off on a fake clock', () => {
  test.each<{ name: string; script: Step[]; backoff?: BackoffOptions; random?: () => number; waits: string[] }>([
    {
      name: 'failed lists: 500 ms doubling, capped at 30 s',
      script: [...Array<Step>(9).fill(fail), listOk],
      waits: [
        'list after 0',
        ...[500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000].map((w) => `list after ${w}`),
        'watch after 0',
      ],
    },
    {
      name: 'a list that works does not reset the count: a watch failing at once goes on doubling',
      script: [fail, fail, listOk, { watch: 'fail' }],
      waits: ['list after 0', 'list after 500', 'list after 1000', 'watch after 0', 'watch after 2000'],
    },
    {
      name: `a watch that ran ${HEALTHY_WATCH_MS} ms before failing resets the count`,
      script: [fail, fail, listOk, { watch: 'fail', afterMs: HEALTHY_WATCH_MS }],
      waits: ['list after 0', 'list after 500', 'list after 1000', 'watch after 0', 'watch after 500'],
    },
    {
      name: 'a watch that failed 1 ms sooner does not',
      script: [fail, fail, listOk, { watch: 'fail', afterMs: HEALTHY_WATCH_MS - 1 }],
      waits: ['list after 0', 'list after 500', 'list after 1000', 'watch after 0', 'watch after 2000'],
    },
    {
      name: 'a watch closed normally re-watches at once and resets the count',
      script: [fail, fail, listOk, { watch: 'close', afterMs: 2000, events: 1 }, { watch: 'fail' }],
      waits: ['list after 0', 'list after 500', 'list after 1000', 'watch after 0', 'watch after 0', 'watch after 500'],
    },
    {
      name: 'a watch closed within a second without any event is a failure',
      script: [
        listOk,
        { watch: 'close', afterMs: 999 },
        { watch: 'close', afterMs: 999 },
        { watch: 'close', afterMs: 1000 },
      ],
      waits: ['list after 0', 'watch after 0', 'watch after 500', 'watch after 1000', 'watch after 0'],
    },
    {
      name: '410 Gone relists at once; a 410 on the watch right after that list backs off',
      script: [
        listOk,
        { watch: 'close', afterMs: 2000, events: 1 },
        { watch: 'gone' },
        listOk,
        { watch: 'gone' },
        listOk,
      ],
      waits: [
        'list after 0',
        'watch after 0',
        'watch after 0',
        'list after 0',
        'watch after 0',
        'list after 500',
        'watch after 0',
      ],
    },
    {
      name: 'jitter: each wait is scaled by 0.5 + random/2 (random 0: half)',
      script: [fail, fail, fail, listOk],
      random: () => 0,
      waits: ['list after 0', 'list after 250', 'list after 500', 'list after 1000', 'watch after 0'],
    },
    {
      name: 'the initial wait and the cap are options',
      script: [...Array<Step>(6).fill(fail), listOk],
      backoff: { initialMs: 100, maxMs: 1000 },
      waits: ['list after 0', ...[100, 200, 400, 800, 1000, 1000].map((w) => `list after ${w}`), 'watch after 0'],
    },
  ])('$name', async ({ script, backoff, random, waits }) => {
    const { lw, logged } = await runScript(script, { ...(backoff && { backoff }), ...(random && { random }) });
    expect(lw.waits()).toEqual(waits);
    // Every wait is logged with the failure, as retryInMs.
    const expectedWaits = waits.map((w) => Number(w.split(' after ')[1])).filter((w) => w > 0);
    expect(logged).toEqual(expectedWaits);
  });

  test('stop() ends a backoff wait at once: no time passes, no timer is left', async () => {
    const clock = new FakeClock({ random: () => ALMOST_ONE });
    const lw = new ScriptedListerWatcher(clock, [fail]);
    const reflector = new Reflector<unknown>({
      listerWatcher: lw,
      store: new Store(),
      transform: (o) => o,
      logger: createLogger('silent', { write: () => {} }),
      clock,
      backoff: { initialMs: 60_000 },
    });
    const run = reflector.run();
    const synced = reflector.waitForSync();
    await clock.settle();
    expect(clock.pending).toBe(1); // the 60 s wait
    const before = clock.monotonic();
    reflector.stop();
    await run;
    expect(await synced).toBe(false);
    expect([clock.pending, clock.monotonic() - before, reflector.stats.failures]).toEqual([0, 0, 1]);
  });

  test('the server-side watch timeout is drawn from [300, 600) s by the clock', async () => {
    for (const [random, seconds] of [
      [0, 300],
      [0.5, 450],
      [ALMOST_ONE, 599],
    ] as const) {
      const { lw } = await runScript([listOk, { watch: 'close', afterMs: 5000, events: 1 }], { random: () => random });
      expect(lw.watchTimeouts).toEqual([seconds, seconds]);
    }
  });
});

describe('backoffDelay', () => {
  test.each([
    { failures: 1, base: 500 },
    { failures: 2, base: 1000 },
    { failures: 3, base: 2000 },
    { failures: 6, base: 16_000 },
    { failures: 7, base: 30_000 },
    { failures: 1000, base: 30_000 },
  ])('failure $failures: within [$base / 2, $base], by the random factor', ({ failures, base }) => {
    for (const random of [0, 0.25, 0.5, 0.75, ALMOST_ONE]) {
      const delay = backoffDelay(failures, {}, () => random);
      expect(delay).toBe(Math.round(base * (0.5 + random / 2)));
      expect(delay).toBeGreaterThanOrEqual(base / 2);
      expect(delay).toBeLessThanOrEqual(base);
    }
  });
});
