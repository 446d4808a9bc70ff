/**
 * The real Reflector and SharedInformer (and the factory) fed by an in-memory API server
 * (test/support/in_memory_api.ts): list pages, watch streams with resourceVersions, bookmarks,
 * compaction, disconnects, failures.
 */
import { describe, expect, test } from '@jest/globals';
import { RestConfig } from '../../src/kube/rest/config.ts';
import { isTombstone } from '../../src/kube/cache/deltas.ts';
import { SharedInformerFactory } from '../../src/kube/cache/informer_factory.ts';
import { NAMESPACE_INDEX, namespaceIndex, NODE_NAME_INDEX, nodeNameIndex } from '../../src/kube/cache/indexers.ts';
import type { KubeObject, Pod } from '../../src/kube/objects.ts';
import { Reflector } from '../../src/kube/cache/reflector.ts';
import { ApiError } from '../../src/kube/rest/request.ts';
import { SharedInformer, stripManagedFields } from '../../src/kube/cache/shared_informer.ts';
import { objectKey, Store } from '../../src/kube/cache/store.ts';
import {
  testLogger,
  WARN,
  ERROR,
  eventually,
  pod,
  FakeApiServer,
  recorder,
  informerOn,
  storeMatches,
} from '../support/in_memory_api.ts';

/** An informer synced with a server holding one pod, its watch open. */
async function watchingOnePod() {
  const server = new FakeApiServer();
  server.create(pod('ns', 'a'));
  const informer = informerOn(server);
  informer.start();
  await informer.waitForSync();
  await eventually('the watch', () => server.openWatches === 1);
  return { server, informer };
}

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
      update: () =>
        Promise.reject(new Error('async boom')).then(
          () => void thrown++,
          (e) => (thrown++, Promise.reject(e)),
        ),
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
    // A witness registered after the removal: once it has been told of c, every listener has been.
    const witness = recorder<Pod>();
    const witnessing = informer.addEventHandler(witness.handler);
    server.create(pod('ns', 'c'));
    await eventually('the witness told of c', () => witness.calls.some((c) => c.startsWith('add ns/c@')));
    await witnessing.whenIdle();
    expect(late.calls).toHaveLength(3); // removed: nothing more
    await informer.stop();
  });

  test('after a disconnect and a compaction, the relist yields updates, adds and tombstones, nothing for the unchanged', async () => {
    const server = new FakeApiServer();
    const [, b] = ['a', 'b', 'c'].map((n) => server.create(pod('ns', n)));
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
    expect(calls).toEqual([
      'add ns/a@101',
      'add ns/b@102',
      'add ns/c@103',
      'update ns/c@103->105',
      'add ns/d@106',
      'tombstone ns/b@102',
    ]);
    expect(storeMatches(informer, server)()).toBe(true);
    expect(
      lines.some(
        (l) => l.msg === 'watch expired (410 Gone); relisting' && /too old resource version/.test(String(l.err)),
      ),
    ).toBe(true);
    expect(lines.filter((l) => l.level === WARN && l.msg === 'list/watch failed; retrying').map((l) => l.err)).toEqual([
      'socket hang up',
      'connect ECONNREFUSED',
      'connect ECONNREFUSED',
    ]);
    await informer.stop();
  });

  test('an HTTP 410 on the watch request relists too', async () => {
    const { server, informer } = await watchingOnePod();
    server.create(pod('ns', 'b'));
    await eventually('the event', () => informer.indexer.size === 2);
    server.watchFailures.push(Object.assign(new Error('Gone'), { statusCode: 410 }));
    server.closeWatches();
    await eventually('the relist', () => informer.reflector.stats.lists === 2);
    expect(informer.reflector.stats.failures).toBe(0);
    await informer.stop();
  });

  test('lists start from the cache, then from what the store has seen, then consistently after a gone version', async () => {
    const { server, informer } = await watchingOnePod();
    const seen = informer.lastSyncResourceVersion;
    server.listFailures.push(Object.assign(new Error('Expired: too old resource version'), { statusCode: 410 }));
    server.watchFailures.push(Object.assign(new Error('Gone'), { statusCode: 410 }));
    server.closeWatches(); // the re-watch gets 410: relist from `seen`, which fails with 410 too
    await eventually('the consistent relist', () => informer.reflector.stats.lists === 2);
    expect(server.listRequests).toEqual([
      { resourceVersion: '0' },
      { resourceVersion: seen, resourceVersionMatch: 'NotOlderThan' },
      {},
    ]);
    await informer.stop();
  });

  test('errors back off and retry, forever, each one logged; bookmarks advance the resourceVersion', async () => {
    const server = new FakeApiServer();
    server.create(pod('ns', 'a'));
    for (let i = 0; i < 4; i++)
      server.listFailures.push(new ApiError(500, `GET /api/v1/pods: 500 etcd unavailable ${i}`));
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
    // An event after the bookmark, through the new watch: when it has arrived, the bookmark would have too.
    server.create(pod('ns', 'z'));
    await eventually('the next event', () => calls.length === 2);
    expect(calls).toEqual(['add ns/a@101', 'add ns/z@152']); // a bookmark is no event
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
    const stuck = new SharedInformer<Pod>({
      listerWatcher: failing,
      logger: testLogger().logger,
      backoff: { initialMs: 60_000 },
    });
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
    expect(stripped.indexer.get('ns/a')?.metadata).toEqual({
      namespace: 'ns',
      name: 'a',
      labels: { app: 'x' },
      resourceVersion: '101',
    });
    expect(slim.indexer.get('ns/a')).toEqual({ key: 'ns/a', node: 'n1' });
    expect(stripManagedFields({ metadata: { name: 'x', managedFields: [] } })).toEqual({ metadata: { name: 'x' } });
    await Promise.all([stripped.stop(), slim.stop()]);
  });

  test('a Reflector writing to a plain Store (the node cache) ends equal to the server after a relist', async () => {
    const server = new FakeApiServer();
    server.create(pod('ns', 'a'));
    server.create(pod('ns', 'b'));
    const store = new Store<string>();
    const reflector = new Reflector<string>({
      listerWatcher: server,
      store,
      transform: (o) => String(o.metadata?.resourceVersion),
      logger: testLogger().logger,
      backoff: { initialMs: 1 },
    });
    const run = reflector.run();
    expect(await reflector.waitForSync()).toBe(true);
    await eventually('the watch', () => server.openWatches === 1);
    server.disconnect();
    server.remove(pod('ns', 'a'));
    server.create(pod('ns', 'c'));
    server.compact();
    await eventually('the relist', () => reflector.stats.lists === 2);
    expect([...store.entries()]).toEqual([
      ['ns/b', '102'],
      ['ns/c', '104'],
    ]);
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
    expect(factory.informer({ path: '/api/v1/nodes', transform: slim })).toBe(
      factory.informer({ path: '/api/v1/nodes' }),
    );
    expect(() => factory.informer({ path: '/api/v1/nodes', transform: (o: KubeObject) => o.metadata?.uid })).toThrow(
      /another transform/,
    );
    await factory.stop();
    expect(() => factory.informer({ path: '/api/v1/pods' })).toThrow(/stopped/);
    expect(await factory.waitForCacheSync()).toBe(false);
  });
});
