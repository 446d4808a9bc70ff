/**
 * An in-memory object store with indexes (client-go tools/cache store.go, thread_safe_store.go
 * and index.go): objects by key (`namespace/name`, or `name` for cluster-scoped objects), plus
 * any number of named indexes kept up to date on every write.
 *
 * Keys are given by the writer (the reflector computes them from the object as it came from
 * the API server, before any transform), so a transform may drop `metadata` entirely.
 */
import type { IndexFunc, Indexers } from './indexers.ts';
import type { KubeObject } from '../objects.ts';

/** client-go's MetaNamespaceKeyFunc: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(object: KubeObject): string {
  const ns = object.metadata?.namespace;
  const name = object.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

/** The read side of a store, as an informer hands it to its consumers (client-go cache.Indexer). */
export interface Indexer<T> {
  get(key: string): T | undefined;
  list(): T[];
  listKeys(): string[];
  /** The objects filed under `indexedValue` in the index `indexName` (throws for an unknown index). */
  byIndex(indexName: string, indexedValue: string): T[];
  /** The keys of those objects. */
  indexKeys(indexName: string, indexedValue: string): string[];
  /** The values present in an index. */
  listIndexValues(indexName: string): string[];
  /**
   * Adds indexes, filing the objects already stored. Adding a name again with the same function
   * is a no-op; with another function it throws (two consumers would disagree on its meaning).
   */
  addIndexers(indexers: Indexers<T>): void;
  readonly size: number;
}

export class Store<T> implements Indexer<T> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  /** index name -> indexed value -> keys */
  private readonly indices = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: Indexers<T> = {}) {
    this.addIndexers(indexers);
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  listKeys(): string[] {
    return [...this.items.keys()];
  }

  entries(): IterableIterator<[string, T]> {
    return this.items.entries();
  }

  get size(): number {
    return this.items.size;
  }

  set(key: string, value: T): void {
    const old = this.items.get(key);
    this.items.set(key, value);
    this.reindex(key, old, value);
  }

  /** Reflector side: an object was added (same as `set`). */
  add(key: string, value: T): void {
    this.set(key, value);
  }

  /** Reflector side: an object was modified (same as `set`). */
  update(key: string, value: T): void {
    this.set(key, value);
  }

  delete(key: string): void {
    const old = this.items.get(key);
    if (old === undefined && !this.items.has(key)) return;
    this.items.delete(key);
    this.reindex(key, old, undefined);
  }

  /** Replaces the whole content, as after a (re)list. */
  replace(entries: Iterable<[string, T]>): void {
    this.items.clear();
    for (const index of this.indices.values()) index.clear();
    for (const [k, v] of entries) this.set(k, v);
  }

  byIndex(indexName: string, indexedValue: string): T[] {
    return this.indexKeys(indexName, indexedValue).map((key) => this.items.get(key) as T);
  }

  indexKeys(indexName: string, indexedValue: string): string[] {
    const index = this.indices.get(indexName);
    if (!index)
      throw new Error(`index "${indexName}" does not exist (known: ${[...this.indices.keys()].join(', ') || 'none'})`);
    return [...(index.get(indexedValue) ?? [])];
  }

  listIndexValues(indexName: string): string[] {
    const index = this.indices.get(indexName);
    if (!index)
      throw new Error(`index "${indexName}" does not exist (known: ${[...this.indices.keys()].join(', ') || 'none'})`);
    return [...index.keys()];
  }

  addIndexers(indexers: Indexers<T>): void {
    for (const [name, fn] of Object.entries(indexers)) {
      const existing = this.indexers.get(name);
      if (existing === fn) continue;
      if (existing) throw new Error(`index "${name}" already exists with another index function`);
      this.indexers.set(name, fn);
      const index = new Map<string, Set<string>>();
      this.indices.set(name, index);
      for (const [key, obj] of this.items) for (const value of fn(obj)) file(index, value, key);
    }
  }

  private reindex(key: string, oldObj: T | undefined, newObj: T | undefined): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      const before = oldObj === undefined ? [] : fn(oldObj);
      const after = newObj === undefined ? [] : fn(newObj);
      if (before.length === 1 && after.length === 1 && before[0] === after[0]) continue; // the common case
      for (const value of before) if (!after.includes(value)) unfile(index, value, key);
      for (const value of after) file(index, value, key);
    }
  }
}

function file(index: Map<string, Set<string>>, value: string, key: string): void {
  let keys = index.get(value);
  if (!keys) index.set(value, (keys = new Set()));
  keys.add(key);
}

function unfile(index: Map<string, Set<string>>, value: string, key: string): void {
  const keys = index.get(value);
  if (!keys) return;
  keys.delete(key);
  if (keys.size === 0) index.delete(value);
}
