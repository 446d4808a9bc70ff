/**
 * What a reflector is made with and reports: the store it writes to, the collection it lists and
 * watches, its page size, watch timeout and backoff (and the backoff's delays), its counters.
 */
import type { RestConfig } from '../rest/config.ts';
import type { Logger } from '../../log.ts';
import type { Clock } from '../clock.ts';
import type { KubeObject } from '../objects.ts';
import { KubeListerWatcher, type ListerWatcher, type ListOptions, type ResourceSelector } from './listwatch.ts';

/**
 * What a reflector writes to (client-go's Store as a reflector sees it). `Store` is one (it
 * simply applies the writes); a SharedInformer is another (it turns them into events).
 */
export interface ReflectorStore<T> {
  add(key: string, obj: T): void;
  update(key: string, obj: T): void;
  /** `obj` is the object's final state, from the DELETED event. */
  delete(key: string, obj: T): void;
  /** The complete content after a (re)list, in list order. */
  replace(items: [string, T][], resourceVersion: string): void;
}

/** The API server collection to list and watch, or any other {@link ListerWatcher}. */
export type ListWatchSource = ({ kc: RestConfig } & ResourceSelector) | { listerWatcher: ListerWatcher };

export function listerWatcherOf(source: ListWatchSource): ListerWatcher {
  if ('listerWatcher' in source && source.listerWatcher) return source.listerWatcher;
  const { kc, path, labelSelector, fieldSelector } = source as { kc: RestConfig } & ResourceSelector;
  return new KubeListerWatcher(kc, {
    path,
    ...(labelSelector && { labelSelector }),
    ...(fieldSelector && { fieldSelector }),
  });
}

export interface BackoffOptions {
  /** The first delay (default 500 ms); doubled on each consecutive failure ... */
  initialMs?: number;
  /** ... up to this (default 30 s). Each delay is then scaled by a random factor in [0.5, 1). */
  maxMs?: number;
}

/**
 * The wait after the `failures`-th consecutive failure (1 for the first):
 * min(maxMs, initialMs × 2^(failures-1)) scaled by 0.5 + random/2, rounded to the millisecond.
 */
export function backoffDelay(
  failures: number,
  { initialMs = 500, maxMs = 30_000 }: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(failures, 1) - 1, 30));
  return Math.round(base * (0.5 + random() / 2));
}

export interface ReflectorTuning {
  /** Items per list page (default 500). */
  pageSize?: number;
  /** Server-side timeout of each watch; default random in [300, 600) s, like client-go. */
  watchTimeoutSeconds?: number;
  backoff?: BackoffOptions;
  /** Backoff waits, jitter and watch durations (default: {@link systemClock}). */
  clock?: Clock;
}

export type ReflectorOptions<T> = ListWatchSource &
  ReflectorTuning & {
    store: ReflectorStore<T>;
    /** Applied to every object before it is stored (keep only what is read). */
    transform: (object: KubeObject) => T;
    logger: Logger;
    /** Called after each change to the store (list, add, update, delete). */
    onChange?: () => void;
  };

/** Counters, for logs, metrics and tests. */
export interface ReflectorStats {
  /** Complete lists (the first one included). */
  lists: number;
  /** Complete lists after the first one (after a 410, or a watch error that calls for one). */
  relists: number;
  /** Watch requests sent. */
  watches: number;
  /** ADDED, MODIFIED and DELETED events applied. */
  events: number;
  bookmarks: number;
  /** Failures (each one logged as a warning); a 410 that simply relists is not one. */
  failures: number;
}

/**
 * Where a list starts (client-go's relistResourceVersion): the first from any version the API
 * server's watch cache holds ("0": served from memory in one answer, not paged from etcd; the
 * watch then brings it up to date), a relist from no older than what the store has seen, and
 * after a list that found its version gone (`versionGone`), a consistent list.
 */
export function listFrom(
  lastVersion: string,
  versionGone: boolean,
): Pick<ListOptions, 'resourceVersion' | 'resourceVersionMatch'> {
  if (versionGone) return {};
  if (!lastVersion) return { resourceVersion: '0' };
  return { resourceVersion: lastVersion, resourceVersionMatch: 'NotOlderThan' };
}
