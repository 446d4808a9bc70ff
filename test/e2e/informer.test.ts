/**
 * The shared-informer layer against the real kube-apiserver of the local control plane:
 * ordered events, one watch shared by several consumers, 410 Gone and relist, bookmarks, and
 * kube-apiserver killed (SIGKILL) and restarted in the middle of a watch.
 *
 * ConfigMaps carry the test objects: no controller and no admission webhook acts on them.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { loadRestConfig } from '../../src/kube/rest/kubeconfig.ts';
import type { RestConfig } from '../../src/kube/rest/config.ts';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SharedInformerFactory } from '../../src/kube/cache/informer_factory.ts';
import { NAMESPACE_INDEX, namespaceIndex } from '../../src/kube/cache/indexers.ts';
import {
  KubeListerWatcher,
  type ListerWatcher,
  type ListOptions,
  type ListPageMeta,
  type WatchHandle,
  type WatchObject,
  type WatchOptions,
} from '../../src/kube/cache/listwatch.ts';
import type { KubeObject } from '../../src/kube/objects.ts';
import { kubeRequest } from '../../src/kube/rest/request.ts';
import { isTombstone, SharedInformer, type EventHandler } from '../../src/kube/cache/shared_informer.ts';
import { createLogger } from '../../src/log.ts';
import { KUBECONFIG, LOG_DIR, PID_DIR, STATE_FILE } from '../cluster/paths.ts';
import { eventually, kubectl, kubectlAsync, sleep } from '../support/cluster_harness.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `e2e-informer-${RUN}`;
const PATH = `/api/v1/namespaces/${NS}/configmaps`;
/** PodTemplates have no watch cache in the local cluster (see test/cluster/components.ts): the 410 test uses them. */
const PT_PATH = `/api/v1/namespaces/${NS}/podtemplates`;

type ConfigMap = KubeObject & { data?: Record<string, string> };

let kc: RestConfig;

// ---------------------------------------------------------------------------------------------
// Helpers

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

function testLogger() {
  const lines: LogLine[] = [];
  return { lines, logger: createLogger('debug', { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) }) };
}

const configMap = (name: string, set: string, v: string): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: NS, labels: { set } },
  data: { v },
});

const podTemplate = (name: string, set: string, v: string): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'PodTemplate',
  metadata: { name, namespace: NS, labels: { set }, annotations: { v } },
  template: { spec: { containers: [{ name: 'c', image: 'example/c:1' }] } },
});

const create = (cm: ConfigMap, path = PATH) => kubeRequest<ConfigMap>(kc, 'POST', path, { body: cm });
const change = (name: string, v: string, path = PATH) =>
  kubeRequest<ConfigMap>(kc, 'PATCH', `${path}/${name}`, {
    body: path === PATH ? { data: { v } } : { metadata: { annotations: { v } } },
  });
const remove = (name: string) => kubeRequest<unknown>(kc, 'DELETE', `${PATH}/${name}`);

/** name -> resourceVersion of a fresh list from the API server. */
async function freshList(set: string, path = PATH): Promise<Record<string, string>> {
  const list = await kubeRequest<{ items?: ConfigMap[] }>(kc, 'GET', path, { query: { labelSelector: `set=${set}` } });
  return Object.fromEntries(
    (list.items ?? []).map((o) => [o.metadata!.name!, String(o.metadata!.resourceVersion)]).sort(),
  );
}

function storeContent(informer: SharedInformer<ConfigMap>): Record<string, string> {
  return Object.fromEntries(
    informer.indexer
      .list()
      .map((o) => [o.metadata!.name!, String(o.metadata!.resourceVersion)])
      .sort(),
  );
}

const describeCm = (o: ConfigMap) => `${o.metadata?.name}=${o.data?.v ?? o.metadata?.annotations?.v}`;

/** Records every call as text, and the state the handler alone can rebuild from its events. */
function recorder() {
  const calls: string[] = [];
  const view = new Map<string, string>();
  const handler: EventHandler<ConfigMap> = {
    add: (o) => {
      calls.push(`add ${describeCm(o)}`);
      view.set(o.metadata!.name!, String(o.metadata!.resourceVersion));
    },
    update: (a, b) => {
      calls.push(`update ${describeCm(a)} -> ${describeCm(b)}`);
      view.set(b.metadata!.name!, String(b.metadata!.resourceVersion));
    },
    delete: (o) => {
      calls.push(isTombstone(o) ? `tombstone ${o.key} (last known ${describeCm(o.obj)})` : `delete ${describeCm(o)}`);
      view.delete((isTombstone(o) ? o.obj : o).metadata!.name!);
    },
  };
  return { calls, view, handler, viewContent: () => Object.fromEntries([...view].sort()) };
}

/** The value of one series of the API server's metrics. */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const r = await kubectlAsync(['get', '--raw', '/metrics']);
  if (r.status !== 0) throw new Error(`cannot read /metrics: ${r.stderr}`);
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

const namespacedConfigMapWatches = () =>
  metric('apiserver_longrunning_requests', { resource: 'configmaps', scope: 'namespace', verb: 'WATCH' });

/**
 * kube-apiserver of this cluster, killed and started again exactly as it ran: the binary, the
 * arguments and the environment are read from /proc before the kill; the new process is detached,
 * appends to the same log file, and replaces the pid in the pid file.
 */
class ApiServerProcess {
  private readonly pidFile = join(PID_DIR, 'kube-apiserver.pid');
  private argv: string[] = [];
  private env: NodeJS.ProcessEnv = {};
  private binary = '';

  kill(): void {
    const [pidLine, binary] = readFileSync(this.pidFile, 'utf8').split('\n');
    const pid = Number(pidLine);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
    if (!binary || argv[0] !== binary) throw new Error(`pid ${pid} is not ${binary}`);
    this.argv = argv;
    this.binary = binary;
    this.env = Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    process.kill(pid, 'SIGKILL');
    this.waitGone(pid);
  }

  private waitGone(pid: number): void {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const state = existsSync(`/proc/${pid}/stat`)
        ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0]
        : undefined;
      if (state === undefined || state === 'Z') return;
      if (Date.now() > deadline) throw new Error(`kube-apiserver (pid ${pid}) survived SIGKILL`);
    }
  }

  get killed(): boolean {
    return this.argv.length > 0;
  }

  async restart(): Promise<void> {
    const out = openSync(join(LOG_DIR, 'kube-apiserver.log'), 'a');
    const child = spawn(this.binary, this.argv.slice(1), {
      detached: true,
      stdio: ['ignore', out, out],
      env: this.env,
    });
    closeSync(out);
    if (child.pid === undefined) throw new Error('cannot start kube-apiserver again');
    child.unref();
    writeFileSync(this.pidFile, `${child.pid}\n${this.binary}\n`);
    this.argv = [];
    await eventually(
      'kube-apiserver /readyz after the restart',
      async () => (await kubectlAsync(['get', '--raw', '/readyz'])).status === 0,
      { timeoutMs: 120_000, everyMs: 100 },
    );
  }
}

/** Holds the reflector's requests while closed: the "disconnected" window is the test's to choose. */
class Gate implements ListerWatcher {
  readonly description: string;
  private opened: Promise<void> = Promise.resolve();
  private release: () => void = () => {};
  /** Requests waiting for the gate to open. */
  waiting = 0;

  constructor(private readonly inner: ListerWatcher) {
    this.description = `gated ${inner.description}`;
  }

  close(): void {
    this.opened = new Promise((resolve) => (this.release = resolve));
  }

  open(): void {
    this.release();
  }

  private async pass(): Promise<void> {
    this.waiting++;
    await this.opened;
    this.waiting--;
  }

  async list(options: ListOptions, signal: AbortSignal, onItem: (item: KubeObject) => void): Promise<ListPageMeta> {
    await this.pass();
    return this.inner.list(options, signal, onItem);
  }

  async watch(
    options: WatchOptions,
    onEvent: (type: string, object: WatchObject) => void,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle> {
    await this.pass();
    return this.inner.watch(options, onEvent, onDone);
  }
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  kc = (await loadRestConfig(KUBECONFIG))!;
  await kubeRequest(kc, 'POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
  });
});

afterAll(() => {
  kubectl(['delete', 'namespace', NS, '--wait=false']);
});

describe('a factory informer on a real kube-apiserver', () => {
  test('handlers see creates, updates and deletes in order; the store equals a fresh list', async () => {
    const factory = new SharedInformerFactory(kc, testLogger().logger);
    try {
      const informer = factory.informer<ConfigMap>({
        path: PATH,
        labelSelector: 'set=order',
        indexers: { [NAMESPACE_INDEX]: namespaceIndex },
      });
      await create(configMap('before', 'order', '0'));
      const { calls, handler, viewContent } = recorder();
      informer.addEventHandler(handler);
      factory.start();
      expect(await factory.waitForCacheSync()).toBe(true);
      await eventually('the watch', () => informer.reflector.stats.watches === 1, { everyMs: 100 });

      await create(configMap('a', 'order', '1'));
      await create(configMap('b', 'order', '1'));
      await change('a', '2');
      await remove('b');
      await change('a', '3');
      await create(configMap('c', 'order', '1'));
      await remove('before');
      await create(configMap('not-selected', 'other', '1')); // outside the label selector
      await eventually('all events', () => calls.length === 8, { everyMs: 100 });
      expect(calls).toEqual([
        'add before=0',
        'add a=1',
        'add b=1',
        'update a=1 -> a=2',
        'delete b=1',
        'update a=2 -> a=3',
        'add c=1',
        'delete before=0',
      ]);
      expect(storeContent(informer)).toEqual(await freshList('order'));
      expect(viewContent()).toEqual(await freshList('order'));
      expect(informer.indexer.byIndex(NAMESPACE_INDEX, NS).map(describeCm).sort()).toEqual(['a=3', 'c=1']);
      // No managedFields kept (the default transform).
      expect(informer.indexer.get(`${NS}/a`)?.metadata?.managedFields).toBeUndefined();
    } finally {
      await factory.stop();
    }
  });

  test('two consumers of one factory informer share one watch, and both get every event', async () => {
    const baseline = await namespacedConfigMapWatches();
    const factory = new SharedInformerFactory(kc, testLogger().logger);
    try {
      const first = factory.informer<ConfigMap>({ path: PATH, labelSelector: 'set=shared' });
      const second = factory.informer<ConfigMap>({
        path: PATH,
        labelSelector: 'set=shared',
        indexers: { [NAMESPACE_INDEX]: namespaceIndex },
      });
      expect(second).toBe(first);
      const one = recorder();
      const two = recorder();
      first.addEventHandler(one.handler);
      factory.start();
      second.addEventHandler(two.handler);
      expect(await factory.waitForCacheSync()).toBe(true);
      // The API server sees one more watch of namespaced ConfigMaps, not two.
      await eventually(
        'the watch on the API server',
        async () => (await namespacedConfigMapWatches()) === baseline + 1,
        { everyMs: 100 },
      );

      await create(configMap('s1', 'shared', '1'));
      await create(configMap('s2', 'shared', '1'));
      await change('s1', '2');
      await remove('s2');
      await eventually('both handlers', () => one.calls.length === 4 && two.calls.length === 4, { everyMs: 100 });
      expect(one.calls).toEqual(['add s1=1', 'add s2=1', 'update s1=1 -> s1=2', 'delete s2=1']);
      expect(two.calls).toEqual(one.calls);
      expect(first.reflector.stats).toMatchObject({ lists: 1, watches: 1, events: 4 });
      expect(await namespacedConfigMapWatches()).toBe(baseline + 1);
      expect(second.indexer.byIndex(NAMESPACE_INDEX, NS).map(describeCm)).toEqual(['s1=2']);
    } finally {
      await factory.stop();
    }
    await eventually(
      'the watch to end on the API server',
      async () => (await namespacedConfigMapWatches()) === baseline,
      { everyMs: 100 },
    );
  });

  /** Compacts etcd at its current revision, through etcd's HTTP gateway. */
  async function compactEtcd(): Promise<void> {
    const { ports } = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as { ports: { etcd: number } };
    const etcd = (path: string, body: unknown) =>
      fetch(`http://127.0.0.1:${ports.etcd}${path}`, { method: 'POST', body: JSON.stringify(body) }).then(
        (r) => r.json() as Promise<any>,
      );
    const { header } = await etcd('/v3/kv/range', { key: Buffer.from('/').toString('base64') });
    const compacted = await etcd('/v3/kv/compaction', { revision: header.revision, physical: true });
    expect(compacted.header).toBeDefined();
  }

  test('a watch from a compacted resourceVersion gets 410 and relists; unchanged objects raise no event', async () => {
    const { logger, lines } = testLogger();
    const factory = new SharedInformerFactory(kc, logger);
    try {
      await create(podTemplate('g1', 'gone', '1'), PT_PATH);
      await create(podTemplate('g2', 'gone', '1'), PT_PATH);
      const informer = factory.informer<ConfigMap>({ path: PT_PATH, labelSelector: 'set=gone' });
      const { calls, handler, viewContent } = recorder();
      const registration = informer.addEventHandler(handler);
      factory.start();
      await factory.waitForCacheSync();
      await eventually(
        'the watch and the initial adds',
        () => informer.reflector.stats.watches === 1 && calls.length === 2,
        { everyMs: 100 },
      );
      expect(calls).toEqual(['add g1=1', 'add g2=1']);

      // Compact etcd up to now, so that resourceVersion 1 is gone whether the API server answers the
      // watch from its cache or from etcd (on a young cluster etcd has not compacted anything yet).
      await compactEtcd();
      informer.reflector.rewatchFrom('1'); // the next watch starts far behind the server's window
      await eventually(
        'the relist and a new watch',
        () => informer.reflector.stats.relists > 0 && informer.reflector.stats.watches > 2,
        { timeoutMs: 60_000, everyMs: 100, explain: () => ({ stats: informer.reflector.stats, calls, lines }) },
      );
      expect(informer.reflector.stats).toMatchObject({ lists: 2, relists: 1, failures: 0 });
      const gone = lines.find((l) => l.msg === 'watch expired (410 Gone); relisting');
      expect(String(gone?.err)).toMatch(
        /too old resource version: 1 \(\d+\)|The resourceVersion for the provided watch is too old/,
      );
      expect(BigInt(informer.lastSyncResourceVersion)).toBeGreaterThan(1n);
      await registration.whenIdle(); // everything the relist handed to the handler has been handled
      expect(calls).toEqual(['add g1=1', 'add g2=1']); // the relist found nothing new

      await change('g2', '2', PT_PATH); // and the new watch works
      await eventually('the update', () => calls.length === 3, { everyMs: 100 });
      expect(calls[2]).toBe('update g2=1 -> g2=2');
      expect(storeContent(informer)).toEqual(await freshList('gone', PT_PATH));
      expect(viewContent()).toEqual(await freshList('gone', PT_PATH));
    } finally {
      await factory.stop();
    }
  });

  test('the first list comes from the watch cache in one answer; where the server pages, one page ahead', async () => {
    // ConfigMaps have a watch cache: resourceVersion=0 is served from it whole, the limit ignored.
    // PodTemplates have none here (test/cluster/components.ts): the list is paged from etcd.
    await Promise.all(
      Array.from({ length: 23 }, (_, i) => [
        create(configMap(`paged-${i}`, 'paged', String(i))),
        create(podTemplate(`paged-${i}`, 'paged', String(i)), PT_PATH),
      ]).flat(),
    );
    // A list at resourceVersion=0 may trail etcd by the cache's delay: wait until the cache has them.
    await eventually('the watch cache holds the 23 ConfigMaps', async () => {
      const query = { labelSelector: 'set=paged', resourceVersion: '0' };
      const cached = await kubeRequest<{ items?: unknown[] }>(kc, 'GET', PATH, { query });
      return cached.items?.length === 23;
    });
    for (const [path, pages] of [
      [PATH, 1],
      [PT_PATH, 6],
    ] as const) {
      const { logger, lines } = testLogger();
      const informer = new SharedInformer<ConfigMap>({ kc, path, labelSelector: 'set=paged', logger, pageSize: 4 });
      try {
        informer.start();
        expect(await informer.waitForSync()).toBe(true);
        expect(storeContent(informer)).toEqual(await freshList('paged', path));
        expect(Object.keys(storeContent(informer))).toHaveLength(23);
        expect(lines.find((l) => l.msg === 'listed')).toMatchObject({ items: 23, pages });
      } finally {
        await informer.stop();
      }
    }
  });

  test('bookmarks advance the resourceVersion while nothing selected changes', async () => {
    // kube-apiserver sends a bookmark 2 s before a watch's timeout (and about once a minute),
    // when the collection's version has moved past the watch's start. A short timeout makes it
    // come within seconds; changes to ConfigMaps the informer does not select move the version.
    const informer = new SharedInformer<ConfigMap>({
      kc,
      path: PATH,
      labelSelector: 'set=bookmark',
      logger: testLogger().logger,
      watchTimeoutSeconds: 4,
    });
    try {
      const { calls, handler } = recorder();
      informer.addEventHandler(handler);
      informer.start();
      await informer.waitForSync();
      const listed = BigInt(informer.lastSyncResourceVersion);
      let unselected = 0n;
      for (let i = 0; i < 10 && informer.reflector.stats.bookmarks === 0; i++) {
        await sleep(500); // let the watch start: a change before it is replayed, not bookmarked
        const other = await create(configMap(`unselected-${i}`, 'not-bookmark', '1'));
        unselected = BigInt(String(other.metadata?.resourceVersion));
        const deadline = Date.now() + 4500;
        while (informer.reflector.stats.bookmarks === 0 && Date.now() < deadline) await sleep(100);
      }
      expect(informer.reflector.stats.bookmarks).toBeGreaterThan(0);
      expect(unselected).toBeGreaterThan(listed);
      await eventually(
        'the version of the unselected change',
        () => BigInt(informer.lastSyncResourceVersion) >= unselected,
        { timeoutMs: 10_000, everyMs: 100 },
      );
      expect(informer.reflector.stats).toMatchObject({ lists: 1, events: 0, failures: 0 });
      expect(calls).toEqual([]);
    } finally {
      await informer.stop();
    }
  });
});

describe('kube-apiserver killed (SIGKILL) and restarted in the middle of a watch', () => {
  const apiserver = new ApiServerProcess();

  afterAll(async () => {
    if (apiserver.killed) await apiserver.restart(); // never leave the cluster without its API server
  });

  test('no lost or phantom object; what was deleted unseen comes as a tombstone', async () => {
    const gatedLog = testLogger();
    const freeLog = testLogger();
    const gate = new Gate(new KubeListerWatcher(kc, { path: PATH, labelSelector: 'set=restart' }));
    // One informer whose reconnection the test holds until the changes are made ...
    const held = new SharedInformer<ConfigMap>({
      listerWatcher: gate,
      logger: gatedLog.logger,
      backoff: { initialMs: 200, maxMs: 2000 },
    });
    // ... and one that reconnects on its own, whenever it can.
    const factory = new SharedInformerFactory(kc, freeLog.logger, { backoff: { initialMs: 200, maxMs: 2000 } });
    const free = factory.informer<ConfigMap>({ path: PATH, labelSelector: 'set=restart' });
    const heldEvents = recorder();
    const freeEvents = recorder();
    try {
      for (const name of ['ra', 'rb', 'rc']) await create(configMap(name, 'restart', '1'));
      held.addEventHandler(heldEvents.handler);
      free.addEventHandler(freeEvents.handler);
      held.start();
      factory.start();
      expect(await held.waitForSync()).toBe(true);
      expect(await factory.waitForCacheSync()).toBe(true);
      await eventually('both watches', () => held.reflector.stats.watches === 1 && free.reflector.stats.watches === 1, {
        everyMs: 100,
      });
      // Another object moves the store's revision past what the informers saw.
      await create(configMap(`unrelated-${RUN}`, 'unrelated', '1'));

      gate.close();
      apiserver.kill();
      // `held` tries again (held at the gate); `free` fails to reconnect while the server is down.
      await eventually('both watches to end', () => gate.waiting === 1 && free.reflector.stats.failures > 0, {
        timeoutMs: 30_000,
        everyMs: 100,
      });
      await apiserver.restart();

      // While `held` cannot see it: one deletion, one change, one creation.
      await remove('rb');
      await change('rc', '2');
      await create(configMap('rd', 'restart', '1'));
      gate.open();

      const expected = await freshList('restart');
      expect(Object.keys(expected)).toEqual(['ra', 'rc', 'rd']);
      await eventually(
        'both stores to match the API server',
        () =>
          JSON.stringify(storeContent(held)) === JSON.stringify(expected) &&
          JSON.stringify(storeContent(free)) === JSON.stringify(expected),
        { timeoutMs: 60_000, everyMs: 100 },
      );
      await eventually(
        'the handlers',
        () => heldEvents.calls.length === 6 && JSON.stringify(freeEvents.viewContent()) === JSON.stringify(expected),
        { timeoutMs: 10_000, everyMs: 100 },
      );

      // The restarted server's watch cache starts after the informers' version: 410, relist.
      expect(held.reflector.stats.relists).toBe(1);
      expect(heldEvents.calls).toEqual([
        'add ra=1',
        'add rb=1',
        'add rc=1',
        'update rc=1 -> rc=2',
        'add rd=1',
        `tombstone ${NS}/rb (last known rb=1)`,
      ]);
      expect(heldEvents.viewContent()).toEqual(expected);
      // The free informer saw rb's deletion once, as an event or as a tombstone.
      expect(
        freeEvents.calls.filter((c) => c.startsWith('delete rb=') || c.startsWith(`tombstone ${NS}/rb `)),
      ).toHaveLength(1);
      expect(freeEvents.calls.filter((c) => c.includes('rd='))).toEqual(['add rd=1']);

      // Every failure was logged, with its backoff.
      for (const { lines } of [gatedLog, freeLog]) {
        const warnings = lines.filter((l) => l.msg === 'list/watch failed; retrying');
        expect(warnings.length).toBeGreaterThan(0);
        expect(
          warnings.every((l) => l.level === 40 && typeof l.retryInMs === 'number' && typeof l.err === 'string'),
        ).toBe(true);
      }
      expect(gatedLog.lines.some((l) => l.msg === 'watch expired (410 Gone); relisting')).toBe(true);

      // And both keep watching.
      await change('ra', '2');
      await eventually(
        'the update after the restart',
        () => heldEvents.calls.at(-1) === 'update ra=1 -> ra=2' && freeEvents.calls.at(-1) === 'update ra=1 -> ra=2',
        { timeoutMs: 20_000, everyMs: 100 },
      );
    } finally {
      gate.open();
      await held.stop();
      await factory.stop();
    }
  });
});
