/**
 * Where a reflector lists and watches (client-go tools/cache listwatch.go): one collection of
 * the API server, optionally narrowed by label and field selectors.
 *
 * {@link KubeListerWatcher} is the real one (listRequest for the list pages, each item handed over
 * as it arrives; openWatch for the stream). The interface exists so that the reflector's state machine runs unchanged
 * against any source of list pages and watch events.
 */
import type { KubeObject } from '../objects.ts';
import { listRequest, type ListMeta } from '../rest/list_request.ts';
import type { RestConfig } from '../rest/config.ts';
import { openWatch } from '../rest/watch.ts';

export interface ListOptions {
  limit?: number;
  continue?: string;
  /** Of the first page: "0" for any version (the API server's watch cache), a version with NotOlderThan, or none (consistent). */
  resourceVersion?: string;
  resourceVersionMatch?: 'NotOlderThan';
  /** Items wait until this resolves (the page before is read: rest/list_pager.ts). */
  ready?: Promise<void>;
  /** Told the continue token as soon as it is known, before the items (rest/list_pager.ts); may never be called. */
  onContinue?: (token: string | undefined) => void;
}

export interface WatchOptions {
  resourceVersion: string;
  allowWatchBookmarks: boolean;
  timeoutSeconds: number;
}

/** What a page of a list says besides its items. */
export type ListPageMeta = ListMeta;

/** A watch event's object: a Kubernetes object, or a Status for `ERROR`. */
export type WatchObject = KubeObject & { code?: number; reason?: string; message?: string };

export interface WatchHandle {
  abort(): void;
}

export interface ListerWatcher {
  /** For logs: what is listed and watched. */
  readonly description: string;
  /**
   * One page of the list: `onItem` gets each item in order (as it arrives, so that the caller's
   * reduction of it is all that stays in memory), then the promise resolves with the page's
   * metadata; rejects with an ApiError (or any error, also one `onItem` threw) on failure.
   */
  list(options: ListOptions, signal: AbortSignal, onItem: (item: KubeObject) => void): Promise<ListPageMeta>;
  /**
   * Opens a watch. `onEvent` gets each event in order; `onDone` is called at most once when the
   * stream ends: without an argument for a normal close, with the error otherwise (an HTTP
   * error carries `statusCode`). After `abort()`, `onDone` may never be called.
   */
  watch(
    options: WatchOptions,
    onEvent: (type: string, object: WatchObject) => void,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle>;
}

export interface ResourceSelector {
  /** Collection path, e.g. `/api/v1/nodes` or `/api/v1/namespaces/x/pods`. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export function describeSelector({ path, labelSelector, fieldSelector }: ResourceSelector): string {
  return [path, labelSelector && `labelSelector=${labelSelector}`, fieldSelector && `fieldSelector=${fieldSelector}`]
    .filter(Boolean)
    .join(' ');
}

/**
 * A watch that received nothing for a while is ended client-side (its connection may have died
 * silently). kube-apiserver sends nothing at all on a quiet watch: a bookmark only goes out when
 * the collection's version moved past the watch's start (about once a minute, and 2 s before
 * the watch's timeout). So the client-side limit is the server-side timeout plus this margin: a
 * healthy watch is always ended by the server, and a connection that died silently is still
 * noticed.
 */
export const WATCH_IDLE_MARGIN_MS = 30_000;

export class KubeListerWatcher implements ListerWatcher {
  readonly description: string;

  constructor(
    private readonly kc: RestConfig,
    private readonly selector: ResourceSelector,
  ) {
    this.description = describeSelector(selector);
  }

  list(
    { limit, continue: cont, resourceVersion, resourceVersionMatch, ready, onContinue }: ListOptions,
    signal: AbortSignal,
    onItem: (item: KubeObject) => void,
  ): Promise<ListPageMeta> {
    const { path, labelSelector, fieldSelector } = this.selector;
    const query = { labelSelector, fieldSelector, limit, continue: cont, resourceVersion, resourceVersionMatch };
    const hooks = { ...(ready && { ready }), ...(onContinue && { onContinue }) };
    return listRequest(this.kc, path, { query, timeoutMs: 60_000, signal, ...hooks }, onItem);
  }

  async watch(
    options: WatchOptions,
    onEvent: (type: string, object: WatchObject) => void,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle> {
    const { path, labelSelector, fieldSelector } = this.selector;
    const query = { ...options, labelSelector, fieldSelector };
    const idleMs = options.timeoutSeconds * 1000 + WATCH_IDLE_MARGIN_MS;
    return openWatch(this.kc, path, query, idleMs, (type, object) => onEvent(type, object as WatchObject), onDone);
  }
}
