/**
 * The controller's informers and their handlers (AgentPodCache) on the in-memory API server: the
 * index is complete once `whenFiled` resolves, and follows pod and node events.
 */
import { afterEach, expect, test } from '@jest/globals';
import { AgentPodCache } from '../../src/controller/agent_pod_cache.ts';
import { SharedInformer } from '../../src/kube/cache/shared_informer.ts';
import type { KubeObject } from '../../src/kube/objects.ts';
import { cfg, kubeNode, runningPod } from '../support/fixtures.ts';
import { eventually, FakeApiServer, testLogger } from '../support/in_memory_api.ts';

const informers: SharedInformer<unknown>[] = [];
afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
});

function cacheOn(pods: FakeApiServer, nodes: FakeApiServer) {
  let changes = 0;
  let counts = 0;
  const factory = {
    informer<T>({ path, transform }: { path: string; transform?: (o: KubeObject) => T }): SharedInformer<T> {
      const informer = new SharedInformer<T>({
        listerWatcher: path === '/api/v1/nodes' ? nodes : pods,
        logger: testLogger().logger,
        pageSize: 500,
        ...(transform && { transform }),
      });
      informers.push(informer as SharedInformer<unknown>);
      return informer;
    },
  };
  const cache = new AgentPodCache(factory, cfg(), { changed: () => changes++, counted: () => counts++ });
  return { cache, changes: () => changes, counts: () => counts };
}

test('whenFiled: after the first lists, every agent pod is in the index before the first election', async () => {
  const pods = new FakeApiServer();
  const nodes = new FakeApiServer();
  nodes.create(kubeNode('node-1') as KubeObject);
  for (let i = 0; i < 3000; i++)
    pods.create(runningPod({ name: `shop-${i}`, policy: i === 7 ? 'watch-only' : 'watch-disabled' }));
  const { cache, changes, counts } = cacheOn(pods, nodes);
  for (const i of informers) i.start();
  await Promise.all(informers.map((i) => i.waitForSync()));
  await cache.whenFiled();
  expect(cache.index.size).toBe(3000);
  expect(cache.index.watchDisabled).toBe(2999);
  expect(cache.index.elect(undefined).watcher?.name).toBe('shop-7');
  expect(changes()).toBe(2); // the watch-only pod and the node
  expect(counts()).toBe(2999); // the watch-disabled pods
  expect([...cache.watchDisabledRows()]).toHaveLength(2999);
});

test('pod and node events reach the index: a deleted watcher, its node NotReady', async () => {
  const pods = new FakeApiServer();
  const nodes = new FakeApiServer();
  nodes.create(kubeNode('node-1') as KubeObject);
  nodes.create(kubeNode('node-2') as KubeObject);
  pods.create(runningPod({ name: 'watcher', policy: 'watch-only' }));
  pods.create(runningPod({ name: 'ds', node: 'node-2' }));
  const { cache } = cacheOn(pods, nodes);
  for (const i of informers) i.start();
  await Promise.all(informers.map((i) => i.waitForSync()));
  await cache.whenFiled();
  expect(cache.index.elect(undefined).watcher?.name).toBe('watcher');
  pods.remove(runningPod({ name: 'watcher', policy: 'watch-only' }));
  await eventually('the deletion filed', () => cache.index.elect(undefined).watcher?.name === 'ds');
  nodes.modify(kubeNode('node-2', 'False') as KubeObject);
  await eventually('the node filed', () => cache.index.elect(undefined).watcher === null);
  expect(cache.index.elect(undefined).candidates[0]).toMatchObject({ name: 'ds', reason: 'node-not-ready' });
});

test('a watch-disabled pod is only counted; a labelled one, or one with the old variable, reaches the election', async () => {
  const pods = new FakeApiServer();
  const nodes = new FakeApiServer();
  nodes.create(kubeNode('node-1') as KubeObject);
  const { cache, changes, counts } = cacheOn(pods, nodes);
  for (const i of informers) i.start();
  await Promise.all(informers.map((i) => i.waitForSync()));
  await cache.whenFiled();
  const start = { changes: changes(), counts: counts() };
  const delta = () => ({ changes: changes() - start.changes, counts: counts() - start.counts });

  const sidecar = runningPod({ name: 'sidecar', policy: 'watch-disabled' });
  pods.create(sidecar);
  pods.modify(runningPod({ name: 'sidecar', policy: 'watch-disabled', ready: false }));
  pods.remove(sidecar);
  await eventually('three sidecar events filed', () => delta().counts === 3);
  expect(delta()).toEqual({ changes: 0, counts: 3 });
  expect(cache.index.watchDisabled).toBe(0);

  const labelled = runningPod({ name: 'old-watcher', policy: 'watch-disabled' });
  labelled.metadata!.labels = { ...labelled.metadata!.labels, 'deepflow.io/k8s-watcher': 'true' };
  pods.create(labelled); // a stale watcher label: the election must unlabel it
  const deprecated = runningPod({ name: 'old-env', policy: 'watch-disabled' });
  deprecated.spec!.containers![0]!.env!.push({ name: 'ONLY_WATCH_K8S_RESOURCE', value: 'true' });
  pods.create(deprecated);
  pods.create(runningPod({ name: 'ds' }));
  await eventually('three events for the election', () => delta().changes === 3);
  expect(delta()).toEqual({ changes: 3, counts: 3 });
});
