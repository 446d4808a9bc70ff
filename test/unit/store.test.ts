/**
 * The shared-informer layer without a cluster: the indexed store, the deltas of a relist, and
 * the real Reflector + SharedInformer fed by an in-memory API server (list pages, watch streams
 * with resourceVersions, bookmarks, compaction, disconnects).
 */
import { describe, expect, test } from '@jest/globals';
import { RestConfig } from '../../src/kube/rest_config.js';
import { DeletedFinalStateUnknown, isTombstone, replaceDeltas, sameVersion } from '../../src/kube/delta_fifo.js';
import { SharedInformerFactory } from '../../src/kube/informer_factory.js';
import { NAMESPACE_INDEX, namespaceIndex, NODE_NAME_INDEX, nodeNameIndex } from '../../src/kube/indexers.js';
import type { ListerWatcher, ListOptions, ListPage, WatchHandle, WatchObject, WatchOptions } from '../../src/kube/listwatch.js';
import type { KubeObject, Pod } from '../../src/kube/objects.js';
import { Reflector } from '../../src/kube/reflector.js';
import { ApiError } from '../../src/kube/rest.js';
import { SharedInformer, stripManagedFields, type EventHandler } from '../../src/kube/shared_informer.js';
import { objectKey, Store } from '../../src/kube/store.js';
import { createLogger } from '../../src/log.js';

// ---------------------------------------------------------------------------------------------
// Helpers

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

function testLogger() {
  const lines: LogLine[] = [];
  const logger = createLogger('trace', { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines, at: (level: number) => lines.filter((l) => l.level === level) };
}
const WARN = 40;
const ERROR = 50;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(what: string, probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

const pod = (ns: string, name: string, nodeName?: string, extra: Record<string, unknown> = {}): Pod => ({
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
class FakeApiServer implements ListerWatcher {
  readonly description = 'fake /api/v1/pods';
  rv = 100;
  readonly objects = new Map<string, KubeObject>();
  private history: { rv: number; event: Event }[] = [];
  private compactedThrough = 0;
  private watchers = new Set<{ from: number; onEvent: (type: string, object: WatchObject) => void; onDone: (err?: unknown) => void }>();
  private snapshots = new Map<string, { rv: number; items: KubeObject[] }>();
  listFailures: unknown[] = [];
  watchFailures: unknown[] = [];
  lists = 0;
  watches = 0;
  listPages = 0;
  readonly watchRequests: WatchOptions[] = [];

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
    for (const w of this.watchers) this.deliver(w, { type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } } });
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  private deliver(w: { onEvent: (type: string, object: WatchObject) => void }, event: Event): void {
    const copy = structuredClone(event.object);
    queueMicrotask(() => w.onEvent(event.type, copy));
  }

  async list({ limit, continue: cont }: ListOptions, signal: AbortSignal): Promise<ListPage> {
    signal.throwIfAborted();
    await sleep(1);
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
      snapshot = { rv: this.rv, items: [...this.objects.keys()].sort().map((k) => structuredClone(this.objects.get(k)!)) };
      this.snapshots.set(String(this.lists), snapshot);
    }
    const end = limit ? offset + limit : snapshot.items.length;
    const items = snapshot.items.slice(offset, end);
    const more = end < snapshot.items.length;
    return { metadata: { resourceVersion: String(snapshot.rv), ...(more && { continue: `${cont?.split(':')[0] ?? this.lists}:${end}` }) }, items };
  }

  async watch(options: WatchOptions, onEvent: (type: string, object: WatchObject) => void, onDone: (err?: unknown) => void): Promise<WatchHandle> {
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
      queueMicrotask(() => onEvent('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: `too old resource version: ${from} (${this.compactedThrough})` }));
      return { abort: () => {} };
    }
    for (const { rv, event } of this.history) if (rv > from) this.deliver(w, event);
    this.watchers.add(w);
    return { abort: () => void this.watchers.delete(w) };
  }
}

/** Records what a handler was told, as readable strings. */
function recorder<T extends KubeObject>() {
  const calls: string[] = [];
  const handler: EventHandler<T> = {
    add: (o) => void calls.push(`add ${objectKey(o)}@${o.metadata?.resourceVersion}`),
    update: (a, b) => void calls.push(`update ${objectKey(b)}@${a.metadata?.resourceVersion}->${b.metadata?.resourceVersion}`),
    delete: (o) => void calls.push(isTombstone(o) ? `tombstone ${o.key}@${o.obj.metadata?.resourceVersion}` : `delete ${objectKey(o)}@${o.metadata?.resourceVersion}`),
  };
  return { calls, handler };
}

function informerOn(server: FakeApiServer, logger = testLogger().logger, extra: Partial<{ resyncMs: number; pageSize: number }> = {}) {
  return new SharedInformer<Pod>({
    listerWatcher: server,
    logger,
    backoff: { initialMs: 2, maxMs: 20 },
    indexers: { [NAMESPACE_INDEX]: namespaceIndex, [NODE_NAME_INDEX]: nodeNameIndex },
    ...extra,
  });
}

const storeMatches = (informer: SharedInformer<Pod>, server: FakeApiServer) => () =>
  JSON.stringify(informer.indexer.listKeys().sort().map((k) => [k, informer.indexer.get(k)?.metadata?.resourceVersion])) ===
  JSON.stringify([...server.objects.keys()].sort().map((k) => [k, server.objects.get(k)?.metadata?.resourceVersion]));

// ---------------------------------------------------------------------------------------------

describe('Store: an indexer', () => {
  test('get, list, listKeys, size, set replaces, delete removes', () => {
    const store = new Store<Pod>();
    store.set('a/x', pod('a', 'x'));
    store.set('a/y', pod('a', 'y'));
    store.set('a/x', pod('a', 'x', 'n1'));
    expect(store.size).toBe(2);
    expect(store.listKeys()).toEqual(['a/x', 'a/y']);
    expect(store.get('a/x')?.spec?.nodeName).toBe('n1');
    store.delete('a/x');
    store.delete('never/there');
    expect(store.list()).toEqual([pod('a', 'y')]);
    expect(store.get('a/x')).toBeUndefined();
  });

  test('the built-in namespace and nodeName indexes follow every write', () => {
    const store = new Store<Pod>({ [NAMESPACE_INDEX]: namespaceIndex, [NODE_NAME_INDEX]: nodeNameIndex });
    store.set('a/x', pod('a', 'x', 'n1'));
    store.set('a/y', pod('a', 'y'));
    store.set('b/z', pod('b', 'z', 'n1'));
    expect(store.indexKeys(NAMESPACE_INDEX, 'a')).toEqual(['a/x', 'a/y']);
    expect(store.byIndex(NODE_NAME_INDEX, 'n1').map(objectKey)).toEqual(['a/x', 'b/z']);
    expect(store.byIndex(NODE_NAME_INDEX, '')).toEqual([]); // a pending pod is not filed

    store.set('a/y', pod('a', 'y', 'n2')); // bound
    store.set('a/x', pod('a', 'x', 'n2')); // moved (recreated on another node)
    expect(store.indexKeys(NODE_NAME_INDEX, 'n1')).toEqual(['b/z']);
    expect(store.indexKeys(NODE_NAME_INDEX, 'n2').sort()).toEqual(['a/x', 'a/y']);

    store.delete('b/z');
    expect(store.listIndexValues(NODE_NAME_INDEX)).toEqual(['n2']); // an emptied value disappears
    expect(store.listIndexValues(NAMESPACE_INDEX)).toEqual(['a']);
  });

  test('addIndexers files what is already stored; custom multi-valued indexes; one meaning per name', () => {
    const store = new Store<Pod>();
    store.set('a/x', pod('a', 'x', undefined, { labels: { app: 'web', tier: 'front' } }));
    store.set('a/y', pod('a', 'y', undefined, { labels: { app: 'db' } }));
    const byLabelValue = (p: Pod) => Object.entries(p.metadata?.labels ?? {}).map(([k, v]) => `${k}=${v}`);
    store.addIndexers({ labels: byLabelValue });
    expect(store.indexKeys('labels', 'app=web')).toEqual(['a/x']);
    expect(store.indexKeys('labels', 'tier=front')).toEqual(['a/x']);
    store.set('a/x', pod('a', 'x', undefined, { labels: { app: 'db' } }));
    expect(store.indexKeys('labels', 'app=db')).toEqual(['a/y', 'a/x']);
    expect(store.indexKeys('labels', 'tier=front')).toEqual([]);

    expect(() => store.addIndexers({ labels: byLabelValue })).not.toThrow(); // the same function: shared, fine
    expect(() => store.addIndexers({ labels: (p: Pod) => [p.metadata?.name ?? ''] })).toThrow(/already exists/);
    expect(() => store.byIndex('nope', 'x')).toThrow(/index "nope" does not exist/);
  });

  test('replace rebuilds the content and the indexes', () => {
    const store = new Store<Pod>({ [NODE_NAME_INDEX]: nodeNameIndex });
    store.set('a/x', pod('a', 'x', 'n1'));
    store.replace([['a/y', pod('a', 'y', 'n2')]]);
    expect(store.listKeys()).toEqual(['a/y']);
    expect(store.indexKeys(NODE_NAME_INDEX, 'n1')).toEqual([]);
    expect(store.indexKeys(NODE_NAME_INDEX, 'n2')).toEqual(['a/y']);
  });
});

describe('replaceDeltas: what a relist means for the handlers', () => {
  const v = (name: string, rv: string, extra: Record<string, unknown> = {}) => pod('ns', name, undefined, { resourceVersion: rv, ...extra });

  test('adds for new keys, updates for changed objects only, tombstones for the vanished', () => {
    const known = new Store<Pod>();
    known.set('ns/same', v('same', '5'));
    known.set('ns/changed', v('changed', '6'));
    known.set('ns/gone-b', v('gone-b', '7'));
    known.set('ns/gone-a', v('gone-a', '8'));
    const listed: [string, Pod][] = [
      ['ns/changed', v('changed', '20')],
      ['ns/new', v('new', '21')],
      ['ns/same', v('same', '5')],
    ];
    const deltas = replaceDeltas(known, listed);
    expect(deltas.map((d) => `${d.type} ${d.key}`)).toEqual(['updated ns/changed', 'added ns/new', 'deleted ns/gone-a', 'deleted ns/gone-b']);
    const update = deltas[0]!;
    expect(update.type === 'updated' && [update.oldObj.metadata?.resourceVersion, update.obj.metadata?.resourceVersion]).toEqual(['6', '20']);
    const tombstone = deltas[2]!.obj;
    expect(tombstone).toBeInstanceOf(DeletedFinalStateUnknown);
    expect(tombstone).toEqual({ key: 'ns/gone-a', obj: v('gone-a', '8'), tombstone: true }); // the last state known
    expect(isTombstone(tombstone)).toBe(true);
    expect(isTombstone(v('x', '1'))).toBe(false);
  });

  test('the same list again changes nothing; an empty list deletes everything', () => {
    const known = new Store<Pod>();
    known.set('ns/a', v('a', '1'));
    expect(replaceDeltas(known, [['ns/a', v('a', '1')]])).toEqual([]);
    expect(replaceDeltas(known, []).map((d) => d.type)).toEqual(['deleted']);
  });

  test('objects whose transform dropped resourceVersion are compared by content', () => {
    expect(sameVersion({ name: 'a', labels: { x: '1' } }, { name: 'a', labels: { x: '1' } })).toBe(true);
    expect(sameVersion({ name: 'a', labels: { x: '1' } }, { name: 'a', labels: { x: '2' } })).toBe(false);
    // A resourceVersion names one state: differing fields elsewhere cannot make them different.
    expect(sameVersion(v('a', '3'), v('a', '3'))).toBe(true);
    expect(sameVersion(v('a', '3'), v('a', '4'))).toBe(false);
    const known = new Store<{ name: string }>();
    known.set('a', { name: 'a' });
    expect(replaceDeltas(known, [['a', { name: 'a' }]])).toEqual([]);
  });
});

describe('SharedInformer on an in-memory API server', () => {
  test('paginated initial list, then watch events in order; the store follows', async () => {
    const server = new FakeApiServer();
    for (const n of ['p1', 'p2', 'p3', 'p4', 'p5']) server.create(pod('ns', n, 'n1'));
    const informer = informerOn(server, undefined, { pageSize: 2 });
    const { calls, handler } = recorder<Pod>();
    const registration = informer.addEventHandler(handler);
    expect(registration.hasSynced()).toBe(false);
    informer.start();
    expect(await informer.waitForSync()).toBe(true);
    expect(server.listPages).toBe(3);
    expect(informer.indexer.byIndex(NODE_NAME_INDEX, 'n1')).toHaveLength(5);
    expect(informer.lastSyncResourceVersion).toBe('105');
    await eventually('the watch', () => server.openWatches === 1);
    expect(server.watchRequests[0]).toMatchObject({ resourceVersion: '105', allowWatchBookmarks: true });
    server.modify(pod('ns', 'p1', 'n2'));
    server.remove(pod('ns', 'p2'));
    server.create(pod('other', 'p6'));
    server.modify(pod('ns', 'p1', 'n3'));
    await eventually('the events', () => informer.lastSyncResourceVersion === '109');
    await registration.whenIdle();
    expect(registration.hasSynced()).toBe(true);
    expect(calls).toEqual([
      'add ns/p1@101',
      'add ns/p2@102',
      'add ns/p3@103',
      'add ns/p4@104',
      'add ns/p5@105',
      'update ns/p1@101->106',
      'delete ns/p2@107',
      'add other/p6@108',
      'update ns/p1@106->109',
    ]);
    expect(informer.indexer.indexKeys(NODE_NAME_INDEX, 'n3')).toEqual(['ns/p1']);
    expect(informer.indexer.indexKeys(NAMESPACE_INDEX, 'other')).toEqual(['other/p6']);
    expect(storeMatches(informer, server)()).toBe(true);
    await informer.stop();
  });

  test('a handler that throws is logged and skipped; the other handlers and the informer go on', async () => {
    const server = new FakeApiServer();
    server.create(pod('ns', 'a'));
    const { logger, at } = testLogger();
    const informer = informerOn(server, logger);
    let thrown = 0;
    const throwing = informer.addEventHandler({
      add: () => {
        thrown++;
        throw new Error('boom');
      },
      update: () => Promise.reject(new Error('async boom')).then(() => void thrown++, (e) => (thrown++, Promise.reject(e))),
      delete: () => {
        thrown++;
        throw new Error('boom');
      },
    });
    const { calls, handler } = recorder<Pod>();
    const good = informer.addEventHandler(handler);
    informer.start();
    await informer.waitForSync();
    await eventually('the watch', () => server.openWatches === 1);
    server.create(pod('ns', 'b'));
    server.modify(pod('ns', 'a', 'n1'));
    server.remove(pod('ns', 'b'));
    await eventually('all events', () => calls.length === 4);
    await throwing.whenIdle();
    await good.whenIdle();
    expect(calls).toEqual(['add ns/a@101', 'add ns/b@102', 'update ns/a@101->103', 'delete ns/b@104']);
    expect(thrown).toBe(4); // called for every event despite throwing on each
    const errors = at(ERROR);
    expect(errors.map((l) => [l.msg, l.event, l.key])).toEqual([
      ['event handler failed; continuing with the next event', 'add', 'ns/a'],
      ['event handler failed; continuing with the next event', 'add', 'ns/b'],
      ['event handler failed; continuing with the next event', 'update', 'ns/a'],
      ['event handler failed; continuing with the next event', 'delete', 'ns/b'],
    ]);
    expect(storeMatches(informer, server)()).toBe(true);
    await informer.stop();
  });

  test('a slow (async) handler delays only itself, and still gets every event in order', async () => {
    const server = new FakeApiServer();
    const informer = informerOn(server);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slowCalls: string[] = [];
    informer.addEventHandler({
      add: async (o) => {
        slowCalls.push(`add ${objectKey(o)}`);
        await gate;
      },
      delete: async (o) => void slowCalls.push(`delete ${objectKey(isTombstone(o) ? o.obj : o)}`),
    });
    const fast = recorder<Pod>();
    informer.addEventHandler(fast.handler);
    informer.start();
    await informer.waitForSync();
    await eventually('the watch', () => server.openWatches === 1);
    server.create(pod('ns', 'a'));
    server.create(pod('ns', 'b'));
    server.remove(pod('ns', 'a'));
    await eventually('the fast handler', () => fast.calls.length === 3);
    expect(slowCalls).toEqual(['add ns/a']); // still busy with the first
    expect(informer.indexer.listKeys()).toEqual(['ns/b']);
    release();
    await eventually('the slow handler', () => slowCalls.length === 3);
    expect(slowCalls).toEqual(['add ns/a', 'add ns/b', 'delete ns/a']);
    await informer.stop();
  });

  test('a handler added after sync gets synthetic adds for the content, then the changes', async () => {
    const server = new FakeApiServer();
    server.create(pod('ns', 'a'));
    server.create(pod('ns', 'b'));
    const informer = informerOn(server);
    informer.start();
    await informer.waitForSync();
    await eventually('the watch', () => server.openWatches === 1);
    const late = recorder<Pod>();
    const registration = informer.addEventHandler(late.handler);
    server.modify(pod('ns', 'b', 'n1'));
    await eventually('the update', () => late.calls.length === 3);
    expect(late.calls).toEqual(['add ns/a@101', 'add ns/b@102', 'update ns/b@102->103']);
    expect(registration.hasSynced()).toBe(true);
    registration.remove();
    server.create(pod('ns', 'c'));
    await eventually('the store', () => informer.indexer.size === 3);
    await sleep(10);
    expect(late.calls).toHaveLength(3); // removed: nothing more
    await informer.stop();
  });

  test('after a disconnect and a compaction, the relist yields updates, adds and tombstones, nothing for the unchanged', async () => {
    const server = new FakeApiServer();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => server.create(pod('ns', n)));
    const { logger, lines } = testLogger();
    const informer = informerOn(server, logger);
    const { calls, handler } = recorder<Pod>();
    informer.addEventHandler(handler);
    informer.start();
    await informer.waitForSync();
    await eventually('the watch', () => server.openWatches === 1);

    server.watchFailures.push(new Error('connect ECONNREFUSED'), new Error('connect ECONNREFUSED'));
    server.disconnect();
    server.remove(b!); // unseen: the watch is down
    server.modify(pod('ns', 'c', 'n9'));
    server.create(pod('ns', 'd'));
    server.compact(); // and the history is gone: the re-watch gets 410
    await eventually('the relist', () => informer.reflector.stats.relists === 1 && server.openWatches === 1);
    await eventually('the events', () => calls.length === 6);
    expect(calls).toEqual(['add ns/a@101', 'add ns/b@102', 'add ns/c@103', 'update ns/c@103->105', 'add ns/d@106', 'tombstone ns/b@102']);
    expect(a).toBeDefined();
    expect(storeMatches(informer, server)()).toBe(true);
    expect(lines.some((l) => l.msg === 'watch expired (410 Gone); relisting' && /too old resource version/.test(String(l.err)))).toBe(true);
    expect(lines.filter((l) => l.level === WARN && l.msg === 'list/watch failed; retrying').map((l) => l.err)).toEqual(['socket hang up', 'connect ECONNREFUSED', 'connect ECONNREFUSED']);
    expect(c).toBeDefined();
    await informer.stop();
  });

  test('an HTTP 410 on the watch request relists too', async () => {
    const server = new FakeApiServer();
    server.create(pod('ns', 'a'));
    const informer = informerOn(server);
    informer.start();
    await informer.waitForSync();
    await eventually('the watch', () => server.openWatches === 1);
    server.create(pod('ns', 'b'));
    await eventually('the event', () => informer.indexer.size === 2);
    server.watchFailures.push(Object.assign(new Error('Gone'), { statusCode: 410 }));
    server.closeWatches();
    await eventually('the relist', () => informer.reflector.stats.lists === 2);
    expect(informer.reflector.stats.failures).toBe(0);
    await informer.stop();
  });

  test('errors back off and retry, forever, each one logged; bookmarks advance the resourceVersion', async () => {
    const server = new FakeApiServer();
    server.create(pod('ns', 'a'));
    for (let i = 0; i < 4; i++) server.listFailures.push(new ApiError(500, `GET /api/v1/pods: 500 etcd unavailable ${i}`));
    const { logger, at } = testLogger();
    const informer = informerOn(server, logger);
    const { calls, handler } = recorder<Pod>();
    informer.addEventHandler(handler);
    informer.start();
    expect(await informer.waitForSync()).toBe(true);
    const warnings = at(WARN).filter((l) => l.msg === 'list/watch failed; retrying');
    expect(warnings.map((l) => [l.status, l.phase, l.failures])).toEqual([
      [500, 'list', 1],
      [500, 'list', 2],
      [500, 'list', 3],
      [500, 'list', 4],
    ]);
    expect(warnings.every((l) => typeof l.retryInMs === 'number' && l.retryInMs >= 1 && l.retryInMs <= 20)).toBe(true);
    expect(informer.reflector.stats).toMatchObject({ lists: 1, failures: 4 });

    await eventually('the watch', () => server.openWatches === 1);
    server.rv += 50; // other collections changed: the server's version moves on
    server.bookmark();
    await eventually('the bookmark', () => informer.reflector.stats.bookmarks === 1);
    expect(informer.lastSyncResourceVersion).toBe('151');
    server.closeWatches(); // a normal close (after an event: not a "very short watch")
    await eventually('the re-watch', () => server.watches === 2);
    expect(server.watchRequests[1]?.resourceVersion).toBe('151');
    await informer.reflector.waitForSync();
    await sleep(5);
    expect(calls).toEqual(['add ns/a@101']); // a bookmark is no event
    await informer.stop();
  });

  test('stop() ends the run promptly, in a watch and in a backoff; waitForSync then says false', async () => {
    const server = new FakeApiServer();
    const informer = informerOn(server);
    informer.start();
    await informer.waitForSync();
    await eventually('the watch', () => server.openWatches === 1);
    const started = Date.now();
    await informer.stop();
    expect(Date.now() - started).toBeLessThan(4_000); // the watch would otherwise stay open for good
    expect(server.openWatches).toBe(0);

    // Stopped while its list is in flight (and the list then completes): no watch is opened.
    const racing = new FakeApiServer();
    const early = informerOn(racing);
    early.start();
    await early.stop();
    expect([racing.watches, early.hasSynced()]).toEqual([0, false]);

    const failing = new FakeApiServer();
    failing.listFailures.push(...Array.from({ length: 1000 }, () => new Error('ECONNREFUSED')));
    const stuck = new SharedInformer<Pod>({ listerWatcher: failing, logger: testLogger().logger, backoff: { initialMs: 60_000 } });
    stuck.start();
    const synced = stuck.waitForSync();
    await eventually('a failure', () => stuck.reflector.stats.failures === 1);
    const t = Date.now();
    await stuck.stop();
    expect(Date.now() - t).toBeLessThan(4_000); // not the 60 s backoff (a loose bound: CI machines are noisy)
    expect(await synced).toBe(false);
    expect(stuck.hasSynced()).toBe(false);
  });

  test('resync re-delivers update(obj, obj) to the handlers that asked for it', async () => {
    const server = new FakeApiServer();
    server.create(pod('ns', 'a'));
    const informer = informerOn(server);
    const resynced = recorder<Pod>();
    const plain = recorder<Pod>();
    informer.addEventHandler(resynced.handler, { resyncMs: 20 });
    informer.addEventHandler(plain.handler);
    informer.start();
    await informer.waitForSync();
    await eventually('two resyncs', () => resynced.calls.filter((c) => c === 'update ns/a@101->101').length >= 2);
    expect(plain.calls).toEqual(['add ns/a@101']);
    await informer.stop();
  });

  test('the default transform drops managedFields; a caller transform keeps only what is read', async () => {
    const server = new FakeApiServer();
    server.create(pod('ns', 'a', 'n1', { managedFields: [{ manager: 'kubectl' }], labels: { app: 'x' } }));
    const stripped = informerOn(server);
    const slim = new SharedInformer({
      listerWatcher: server,
      logger: testLogger().logger,
      transform: (o) => ({ key: objectKey(o), node: (o as Pod).spec?.nodeName }),
    });
    stripped.start();
    slim.start();
    await Promise.all([stripped.waitForSync(), slim.waitForSync()]);
    expect(stripped.indexer.get('ns/a')?.metadata).toEqual({ namespace: 'ns', name: 'a', labels: { app: 'x' }, resourceVersion: '101' });
    expect(slim.indexer.get('ns/a')).toEqual({ key: 'ns/a', node: 'n1' });
    expect(stripManagedFields({ metadata: { name: 'x', managedFields: [] } })).toEqual({ metadata: { name: 'x' } });
    await Promise.all([stripped.stop(), slim.stop()]);
  });

  test('a Reflector writing to a plain Store (the node cache) ends equal to the server after a relist', async () => {
    const server = new FakeApiServer();
    server.create(pod('ns', 'a'));
    server.create(pod('ns', 'b'));
    const store = new Store<string>();
    const reflector = new Reflector<string>({ listerWatcher: server, store, transform: (o) => String(o.metadata?.resourceVersion), logger: testLogger().logger, backoff: { initialMs: 1 } });
    const run = reflector.run();
    expect(await reflector.waitForSync()).toBe(true);
    await eventually('the watch', () => server.openWatches === 1);
    server.disconnect();
    server.remove(pod('ns', 'a'));
    server.create(pod('ns', 'c'));
    server.compact();
    await eventually('the relist', () => reflector.stats.lists === 2);
    expect([...store.entries()]).toEqual([['ns/b', '102'], ['ns/c', '104']]);
    reflector.stop();
    await run;
  });
});

describe('SharedInformerFactory', () => {
  const kc = new RestConfig({ server: 'https://127.0.0.1:1', insecureSkipTLSVerify: true, token: 't' });

  test('one informer per (path, labelSelector, fieldSelector), whoever asks', async () => {
    const factory = new SharedInformerFactory(kc, testLogger().logger);
    const a = factory.informer<Pod>({ path: '/api/v1/pods', indexers: { [NAMESPACE_INDEX]: namespaceIndex } });
    const b = factory.informer<Pod>({ path: '/api/v1/pods', indexers: { [NODE_NAME_INDEX]: nodeNameIndex } });
    const selected = factory.informer<Pod>({ path: '/api/v1/pods', labelSelector: 'app=x' });
    const fields = factory.informer<Pod>({ path: '/api/v1/pods', fieldSelector: 'spec.nodeName=n1' });
    expect(b).toBe(a);
    expect(selected).not.toBe(a);
    expect(fields).not.toBe(selected);
    expect(factory.list()).toHaveLength(3);
    // Both consumers' indexes are on the one shared store.
    expect(a.indexer.byIndex(NAMESPACE_INDEX, 'x')).toEqual([]);
    expect(a.indexer.byIndex(NODE_NAME_INDEX, 'x')).toEqual([]);
    const slim = (o: KubeObject) => o.metadata?.name;
    factory.informer({ path: '/api/v1/nodes', transform: slim });
    expect(factory.informer({ path: '/api/v1/nodes', transform: slim })).toBe(factory.informer({ path: '/api/v1/nodes' }));
    expect(() => factory.informer({ path: '/api/v1/nodes', transform: (o: KubeObject) => o.metadata?.uid })).toThrow(/another transform/);
    await factory.stop();
    expect(() => factory.informer({ path: '/api/v1/pods' })).toThrow(/stopped/);
    expect(await factory.waitForCacheSync()).toBe(false);
  });
});
