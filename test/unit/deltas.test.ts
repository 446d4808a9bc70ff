/** The deltas of a relist: what a replaced list means for the handlers (client-go's DeltaFIFO.Replace). */
import { describe, expect, test } from '@jest/globals';
import { DeletedFinalStateUnknown, isTombstone, replaceDeltas, sameVersion } from '../../src/kube/cache/deltas.ts';
import type { Pod } from '../../src/kube/objects.ts';
import { Store } from '../../src/kube/cache/store.ts';
import { pod } from '../support/in_memory_api.ts';

describe('replaceDeltas: what a relist means for the handlers', () => {
  const v = (name: string, rv: string, extra: Record<string, unknown> = {}) =>
    pod('ns', name, undefined, { resourceVersion: rv, ...extra });

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
    expect(deltas.map((d) => `${d.type} ${d.key}`)).toEqual([
      'updated ns/changed',
      'added ns/new',
      'deleted ns/gone-a',
      'deleted ns/gone-b',
    ]);
    const update = deltas[0]!;
    expect(
      update.type === 'updated' && [update.oldObj.metadata?.resourceVersion, update.obj.metadata?.resourceVersion],
    ).toEqual(['6', '20']);
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
