/**
 * An in-memory API server for the informer layer's unit tests (a ListerWatcher of one collection:
 * list pages, watch streams with resourceVersions, bookmarks, compaction, disconnects), and the
 * helpers those tests share: a capturing logger, a recorder of handler calls, an informer on it.
 */
import { isTombstone } from '../../src/kube/cache/deltas.ts';
import { NAMESPACE_INDEX, namespaceIndex, NODE_NAME_INDEX, nodeNameIndex } from '../../src/kube/cache/indexers.ts';
import type {
  ListerWatcher,
  ListOptions,
  ListPageMeta,
  WatchHandle,
  WatchObject,
  WatchOptions,
} from '../../src/kube/cache/listwatch.ts';
import type { KubeObject, Pod } from '../../src/kube/objects.ts';
import { SharedInformer, type EventHandler } from '../../src/kube/cache/shared_informer.ts';
import { objectKey } from '../../src/kube/cache/store.ts';
import { createLogger } from '../../src/log.ts';
import { eventually as waitFor, sleep } from './wait.ts';

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export function testLogger() {
  const lines: LogLine[] = [];
  const logger = createLogger('trace', { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines, at: (level: number) => lines.filter((l) => l.level === level) };
}
export const WARN = 40;
export const ERROR = 50;

/** An in-process condition: polled every 2 ms, for at most 5 s. */
export function eventually(what: string, probe: () => boolean, timeoutMs = 5000): Promise<boolean> {
  return waitFor(what, probe, { timeoutMs, everyMs: 2 });
}

export const pod = (ns: string, name: string, nodeName?: string, extra: Record<string, unknown> = {}): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace: ns, name, ...extra },
  spec: nodeName ? { nodeName } : {},
});

type Event = { type: string; object: KubeObject };

/**
 * An in-memory API server for one collection: objects with resourceVersions from one counter,
 * paginated lists of a snapshot, watches that replay history after their resourceVersion, an
 * ERROR 410 for a compacted version, disconnects, failures on demand.
 */
export class FakeApiServer implements ListerWatcher {
  readonly description = 'fake /api/v1/pods';
  rv = 100;
  readonly objects = new Map<string, KubeObject>();
  private history: { rv: number; event: Event }[] = [];
  private compactedThrough = 0;
  private watchers = new Set<{
    from: number;
    onEvent: (type: string, object: WatchObject) => void;
    onDone: (err?: unknown) => void;
  }>();
  private snapshots = new Map<string, { rv: number; items: KubeObject[] }>();
  listFailures: unknown[] = [];
  watchFailures: unknown[] = [];
  lists = 0;
  watches = 0;
  listPages = 0;
  readonly watchRequests: WatchOptions[] = [];
  /** Where each list started (the first page's resourceVersion and match). */
  readonly listRequests: Pick<ListOptions, 'resourceVersion' | 'resourceVersionMatch'>[] = [];

  write(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: KubeObject): KubeObject {
    const rv = ++this.rv;
    const stored = structuredClone({ ...object, metadata: { ...object.metadata, resourceVersion: String(rv) } });
    const key = objectKey(stored);
    if (type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, stored);
    const event = { type, object: stored };
    this.history.push({ rv, event });
    for (const w of this.watchers) this.deliver(w, event);
    return stored;
  }

  create = (o: KubeObject) => this.write('ADDED', o);
  modify = (o: KubeObject) => this.write('MODIFIED', o);
  remove = (o: KubeObject) => this.write('DELETED', this.objects.get(objectKey(o)) ?? o);

  /** Forget the history: a watch from an older version gets 410. */
  compact(): void {
    this.compactedThrough = this.rv;
    this.history = [];
  }

  /** The connection breaks (an error for the client). */
  disconnect(): void {
    for (const w of this.watchers) queueMicrotask(() => w.onDone(new Error('socket hang up')));
    this.watchers.clear();
  }

  /** The server ends every watch normally (timeoutSeconds reached). */
  closeWatches(): void {
    for (const w of this.watchers) queueMicrotask(() => w.onDone());
    this.watchers.clear();
  }

  /** A bookmark at the current resourceVersion to every watch (kube-apiserver does this about once a minute). */
  bookmark(): void {
    for (const w of this.watchers)
      this.deliver(w, {
        type: 'BOOKMARK',
        object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } },
      });
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  private deliver(w: { onEvent: (type: string, object: WatchObject) => void }, event: Event): void {
    const copy = structuredClone(event.object);
    queueMicrotask(() => w.onEvent(event.type, copy));
  }

  async list(
    { limit, continue: cont, resourceVersion, resourceVersionMatch }: ListOptions,
    signal: AbortSignal,
    onItem: (item: KubeObject) => void,
  ): Promise<ListPageMeta> {
    signal.throwIfAborted();
    await sleep(1);
    if (!cont)
      this.listRequests.push({
        ...(resourceVersion !== undefined && { resourceVersion }),
        ...(resourceVersionMatch && { resourceVersionMatch }),
      });
    const failure = this.listFailures.shift();
    if (failure) throw failure;
    this.listPages++;
    let snapshot: { rv: number; items: KubeObject[] };
    let offset = 0;
    if (cont) {
      const [id, at] = cont.split(':');
      snapshot = this.snapshots.get(id!)!;
      offset = Number(at);
    } else {
      this.lists++;
      snapshot = {
        rv: this.rv,
        items: [...this.objects.keys()].sort().map((k) => structuredClone(this.objects.get(k)!)),
      };
      this.snapshots.set(String(this.lists), snapshot);
    }
    const end = limit ? offset + limit : snapshot.items.length;
    const items = snapshot.items.slice(offset, end);
    const more = end < snapshot.items.length;
    for (const item of items) onItem(item);
    return {
      resourceVersion: String(snapshot.rv),
      ...(more && { continue: `${cont?.split(':')[0] ?? this.lists}:${end}` }),
    };
  }

  async watch(
    options: WatchOptions,
    onEvent: (type: string, object: WatchObject) => void,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle> {
    this.watches++;
    this.watchRequests.push(options);
    await sleep(1);
    const failure = this.watchFailures.shift();
    if (failure) {
      onDone(failure);
      return { abort: () => {} };
    }
    const from = Number(options.resourceVersion);
    const w = { from, onEvent, onDone };
    if (from < this.compactedThrough) {
      queueMicrotask(() =>
        onEvent('ERROR', {
          kind: 'Status',
          code: 410,
          reason: 'Expired',
          message: `too old resource version: ${from} (${this.compactedThrough})`,
        }),
      );
      return { abort: () => {} };
    }
    for (const { rv, event } of this.history) if (rv > from) this.deliver(w, event);
    this.watchers.add(w);
    return { abort: () => void this.watchers.delete(w) };
  }
}

/** Records what a handler was told, as readable strings. */
export function recorder<T extends KubeObject>() {
  const calls: string[] = [];
  const handler: EventHandler<T> = {
    add: (o) => void calls.push(`add ${objectKey(o)}@${o.metadata?.resourceVersion}`),
    update: (a, b) =>
      void calls.push(`update ${objectKey(b)}@${a.metadata?.resourceVersion}->${b.metadata?.resourceVersion}`),
    delete: (o) =>
      void calls.push(
        isTombstone(o)
          ? `tombstone ${o.key}@${o.obj.metadata?.resourceVersion}`
          : `delete ${objectKey(o)}@${o.metadata?.resourceVersion}`,
      ),
  };
  return { calls, handler };
}

export function informerOn(
  server: FakeApiServer,
  logger = testLogger().logger,
  extra: Partial<{ resyncMs: number; pageSize: number }> = {},
) {
  return new SharedInformer<Pod>({
    listerWatcher: server,
    logger,
    backoff: { initialMs: 2, maxMs: 20 },
    indexers: { [NAMESPACE_INDEX]: namespaceIndex, [NODE_NAME_INDEX]: nodeNameIndex },
    ...extra,
  });
}

export const storeMatches = (informer: SharedInformer<Pod>, server: FakeApiServer) => () =>
  JSON.stringify(
    informer.indexer
      .listKeys()
      .sort()
      .map((k) => [k, informer.indexer.get(k)?.metadata?.resourceVersion]),
  ) ===
  JSON.stringify([...server.objects.keys()].sort().map((k) => [k, server.objects.get(k)?.metadata?.resourceVersion]));
