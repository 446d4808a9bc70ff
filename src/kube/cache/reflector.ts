/**
 * A reflector (client-go tools/cache reflector.go): keeps a store in step with one collection of
 * the API server.
 *
 * List (where from: listFrom; pages: list_pager.ts), hand the whole list to the store (`replace`),
 * then watch from the list's resourceVersion with bookmarks, which advance the resourceVersion
 * without any object change. A normal close of the watch re-watches from the last resourceVersion
 * seen; 410 Gone (an ERROR event with code 410, or an HTTP 410: the version was compacted away)
 * relists; every other error retries with exponential backoff and jitter, forever. It never stops
 * silently: every failure is logged, and `stop()` is the only way out.
 */
import { errorMessage, type Logger } from '../../log.ts';
import type { ListerWatcher, WatchHandle, WatchObject } from './listwatch.ts';
import {
  backoffDelay,
  listerWatcherOf,
  listFrom,
  type ReflectorOptions,
  type ReflectorStats,
} from './reflector_options.ts';
import { Gone, statusCodeOf, versionUnavailable, WatchFailure, watchEnding } from './watch_errors.ts';
import { systemClock, type Clock } from '../clock.ts';
import { objectKey } from './store.ts';
import type { KubeObject } from '../objects.ts';
import { readPages } from '../rest/list_pager.ts';

/** A watch that ran at least this long before it failed resets the backoff. */
export const HEALTHY_WATCH_MS = 10_000;

export class Reflector<T> {
  readonly listerWatcher: ListerWatcher;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly stopping = new AbortController();
  private watchHandle: WatchHandle | undefined;
  /** Ends the watch in progress (an aborted watch calls no `onDone`). */
  private endWatch: (() => void) | undefined;
  private resourceVersion = '';
  /** The last list failed because its version was gone: list consistently. */
  private listFromNow = false;
  private synced = false;
  private syncWaiters: ((synced: boolean) => void)[] = [];
  private running: Promise<void> | undefined;
  private readonly counters: ReflectorStats = {
    lists: 0,
    relists: 0,
    watches: 0,
    events: 0,
    bookmarks: 0,
    failures: 0,
  };

  constructor(private readonly options: ReflectorOptions<T>) {
    this.listerWatcher = listerWatcherOf(options);
    this.clock = options.clock ?? systemClock;
    this.log = options.logger.child({ reflector: this.listerWatcher.description });
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  get lastSyncResourceVersion(): string {
    return this.resourceVersion;
  }

  get stats(): Readonly<ReflectorStats> {
    return { ...this.counters };
  }

  get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /** Resolves with true once the first list is in the store, with false if stopped (or `signal` aborts) first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.stopped || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (synced: boolean) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(synced);
      };
      const onAbort = () => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== done);
        resolve(false);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(done);
    });
  }

  /** Runs until `stop()` (calling it again returns the same run). */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Ends the run promptly: the request in flight is aborted, a backoff wait is cut short. */
  stop(): void {
    if (this.stopped) return;
    this.stopping.abort();
    this.watchHandle?.abort();
    this.endWatch?.();
    for (const resolve of this.syncWaiters.splice(0)) resolve(false);
  }

  /**
   * Ends the current watch as if the server had closed it, so that the next one starts from
   * `resourceVersion`. A test and diagnostic hook: with a version older than the server's
   * window (e.g. "1"), the next watch gets 410 Gone and the reflector relists.
   */
  rewatchFrom(resourceVersion: string): void {
    this.resourceVersion = resourceVersion;
    this.watchHandle?.abort();
    this.endWatch?.();
  }

  private async loop(): Promise<void> {
    let failures = 0; // consecutive, since the last watch that went well
    let needList = true;
    while (!this.stopped) {
      let watchStarted: number | undefined;
      const listing = needList;
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        if (this.stopped) break;
        watchStarted = this.clock.monotonic();
        await this.watch();
        failures = 0; // a watch that ended normally: re-watch from the last version at once
      } catch (err) {
        if (this.stopped) break;
        if (watchStarted !== undefined && this.clock.monotonic() - watchStarted >= HEALTHY_WATCH_MS) failures = 0;
        if (err instanceof Gone) {
          needList = true;
          this.log.info(
            { resourceVersion: this.resourceVersion, err: err.message },
            'watch expired (410 Gone); relisting',
          );
          // Relist at once, unless the version of a list just made is already gone (no hot loop).
          if (!listing) continue;
          this.counters.failures++;
          failures++;
        } else {
          this.counters.failures++;
          failures++;
          if (err instanceof WatchFailure && err.relist) needList = true;
          if (statusCodeOf(err) === 410) needList = true;
        }
        const delay = backoffDelay(failures, this.options.backoff, () => this.clock.random());
        this.log.warn(
          {
            err: errorMessage(err),
            status: statusCodeOf(err),
            phase: needList ? 'list' : 'watch',
            resourceVersion: this.resourceVersion,
            retryInMs: delay,
            failures,
          },
          'list/watch failed; retrying',
        );
        await this.clock.sleep(delay, this.stopping.signal);
      }
    }
    this.log.debug('reflector stopped');
  }

  private async list(): Promise<void> {
    const { transform, store, pageSize = 500 } = this.options;
    const items: [string, T][] = [];
    const keep = (item: KubeObject) => items.push([objectKey(item), transform(item)]);
    const from = listFrom(this.resourceVersion, this.listFromNow);
    const { last, pages } = await readPages(
      (cont, { ready, onContinue, signal }) =>
        this.listerWatcher.list(
          { limit: pageSize, ...(cont ? { continue: cont } : from), ready, onContinue },
          signal,
          keep,
        ),
      this.stopping.signal,
    ).catch((err: unknown) => {
      // The version is compacted away, or newer than this server has: the next list is a consistent one.
      if (versionUnavailable(err)) this.listFromNow = true;
      throw err;
    });
    this.listFromNow = false;
    if (this.stopped) return;
    const resourceVersion = last.resourceVersion ?? '';
    store.replace(items, resourceVersion);
    this.resourceVersion = resourceVersion;
    if (this.counters.lists++ > 0) this.counters.relists++;
    this.log.debug({ items: items.length, pages, resourceVersion }, 'listed');
    this.options.onChange?.();
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve(true);
    }
  }

  /** One watch: resolves on a normal close, rejects with Gone, WatchFailure or the transport's error. */
  private watch(): Promise<void> {
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 300 + Math.floor(this.clock.random() * 300);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let established = false;
      let received = 0;
      const started = this.clock.monotonic();
      let handle: WatchHandle | undefined;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        if (this.endWatch === end) this.endWatch = undefined;
        if (this.watchHandle === handle) this.watchHandle = undefined;
        handle?.abort();
        if (err) reject(err instanceof Error ? err : new Error(errorMessage(err)));
        else resolve();
      };
      const end = () => finish();
      this.endWatch = end;
      this.counters.watches++;
      const onEvent = (type: string, object: WatchObject) => {
        if (settled) return;
        received++;
        try {
          this.apply(type, object);
        } catch (err) {
          // The event may be half applied: relist to be sure of the store.
          finish(
            err instanceof Gone || err instanceof WatchFailure
              ? err
              : new WatchFailure(`processing a ${type} event failed: ${errorMessage(err)}`, true),
          );
        }
      };
      const onDone = (err?: unknown) => {
        if (settled) return;
        const failure = this.watchEnded(err, received, this.clock.monotonic() - started, established);
        finish(failure);
      };
      const { resourceVersion } = this;
      this.listerWatcher.watch({ resourceVersion, allowWatchBookmarks: true, timeoutSeconds }, onEvent, onDone).then(
        (h) => {
          handle = h;
          established = true;
          if (settled || this.stopped) {
            h.abort();
            finish(); // no `done` will come for an aborted watch
          } else this.watchHandle = h;
        },
        (err: unknown) => finish(err),
      );
    });
  }

  /** How a watch that ended is taken: undefined to re-watch from the last resourceVersion, else the failure (Gone: relist). */
  private watchEnded(err: unknown, received: number, elapsedMs: number, established: boolean): unknown {
    const ending = watchEnding(err, received, elapsedMs, established);
    if ('failure' in ending) return ending.failure;
    const { resourceVersion } = this;
    if (ending.rewatch === 'closed') this.log.debug({ resourceVersion, events: received }, 'watch closed; re-watching');
    else this.log.warn({ resourceVersion }, 'watch silent past its timeout (connection lost?); re-watching');
    return undefined;
  }

  private apply(type: string, object: WatchObject): void {
    const { store, transform, onChange } = this.options;
    if (type === 'ERROR') {
      const detail = object.message ?? JSON.stringify(object);
      if (object.code === 410 || object.reason === 'Expired' || object.reason === 'Gone') throw new Gone(detail);
      // e.g. "Too large resource version" after the server restarted from an older etcd: relist.
      throw new WatchFailure(
        `watch ERROR event (${object.code ?? '?'} ${object.reason ?? ''}): ${detail}`,
        /too large resource version/i.test(detail),
      );
    }
    const version: unknown = object.metadata?.resourceVersion;
    const rv = typeof version === 'string' || typeof version === 'number' ? String(version) : '';
    if (type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      this.counters.bookmarks++;
      this.log.trace({ resourceVersion: this.resourceVersion }, 'bookmark');
      return;
    }
    if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') {
      this.log.warn({ type }, 'unknown watch event type; ignored');
      return;
    }
    const key = objectKey(object);
    const obj = transform(object);
    if (type === 'ADDED') store.add(key, obj);
    else if (type === 'MODIFIED') store.update(key, obj);
    else store.delete(key, obj);
    if (rv) this.resourceVersion = rv;
    this.counters.events++;
    onChange?.();
  }
}
