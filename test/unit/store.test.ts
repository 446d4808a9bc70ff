/** The indexed store of the informer layer (client-go's cache.Indexer). */
import { describe, expect, test } from '@jest/globals';
import { NAMESPACE_INDEX, namespaceIndex, NODE_NAME_INDEX, nodeNameIndex } from '../../src/kube/cache/indexers.ts';
import type { Pod } from '../../src/kube/objects.ts';
import { objectKey, Store } from '../../src/kube/cache/store.ts';
import { pod } from '../support/in_memory_api.ts';

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
