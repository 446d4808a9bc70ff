/**
 * Deltas (client-go tools/cache delta_fifo.go): what changed in a store, as the informer hands it
 * to its event handlers, and the computation that turns a (re)list into deltas.
 *
 * client-go queues deltas in a FIFO between the reflector's goroutine and the informer's. A
 * JavaScript reflector and informer share one thread, so the informer applies each change as it
 * arrives, in order, and only this part of DeltaFIFO is needed: `Replace`, which compares a full
 * list with the store's content and yields adds, updates and the deletions of objects that
 * vanished while the watch was down (as {@link DeletedFinalStateUnknown} tombstones).
 */
import { isDeepStrictEqual } from 'node:util';
import { isRecord } from '../objects.ts';

/**
 * A deletion the informer did not witness: the object was in the store, and the relist after a
 * disconnect no longer has it. `obj` is the last state the informer knew, which may be stale
 * (client-go cache.DeletedFinalStateUnknown).
 */
export class DeletedFinalStateUnknown<T> {
  readonly tombstone = true as const;
  constructor(
    readonly key: string,
    readonly obj: T,
  ) {}
}

export function isTombstone<T>(value: T | DeletedFinalStateUnknown<T>): value is DeletedFinalStateUnknown<T> {
  return value instanceof DeletedFinalStateUnknown;
}

/** The object inside a delete notification, tombstone or not. */
export function finalState<T>(value: T | DeletedFinalStateUnknown<T>): T {
  return isTombstone(value) ? value.obj : value;
}

export type Delta<T> =
  | { type: 'added'; key: string; obj: T }
  | { type: 'updated'; key: string; oldObj: T; obj: T }
  | { type: 'deleted'; key: string; obj: T | DeletedFinalStateUnknown<T> };

function resourceVersionOf(obj: unknown): string | undefined {
  if (!isRecord(obj) || !isRecord(obj.metadata)) return undefined;
  const rv = obj.metadata.resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

/**
 * Whether two stored states of one key are the same version: equal resourceVersions when both
 * carry one (a resourceVersion names exactly one state of one object), else deep equality (a
 * transform that drops `metadata.resourceVersion` makes the comparison by content).
 */
export function sameVersion<T>(a: T, b: T): boolean {
  const va = resourceVersionOf(a);
  const vb = resourceVersionOf(b);
  return va !== undefined && vb !== undefined ? va === vb : isDeepStrictEqual(a, b);
}

/** What the store holds before a replace: enough to compare. */
export interface KnownObjects<T> {
  get(key: string): T | undefined;
  listKeys(): string[];
}

/**
 * The deltas that take `known` to exactly `listed`: an add for each new key and an update for
 * each changed object, in list order, then a tombstone deletion for each key that is no longer
 * listed, in key order. Unchanged objects produce nothing.
 */
export function replaceDeltas<T>(known: KnownObjects<T>, listed: Iterable<readonly [string, T]>): Delta<T>[] {
  const deltas: Delta<T>[] = [];
  const seen = new Set<string>();
  for (const [key, obj] of listed) {
    seen.add(key);
    const old = known.get(key);
    if (old === undefined) deltas.push({ type: 'added', key, obj });
    else if (!sameVersion(old, obj)) deltas.push({ type: 'updated', key, oldObj: old, obj });
  }
  for (const key of known.listKeys().sort()) {
    if (seen.has(key)) continue;
    const old = known.get(key) as T;
    deltas.push({ type: 'deleted', key, obj: new DeletedFinalStateUnknown(key, old) });
  }
  return deltas;
}
