/** A thread-free, in-memory object store keyed by namespace/name (client-go cache.Store). */
import type { KubeObject } from './objects.js';

export function objectKey(object: KubeObject): string {
  const ns = object.metadata?.namespace;
  const name = object.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

export class Store<T> {
  private readonly items = new Map<string, T>();

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  set(key: string, value: T): void {
    this.items.set(key, value);
  }

  delete(key: string): void {
    this.items.delete(key);
  }

  /** Replaces the whole content, as after a (re)list. */
  replace(entries: Iterable<[string, T]>): void {
    this.items.clear();
    for (const [k, v] of entries) this.items.set(k, v);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  get size(): number {
    return this.items.size;
  }
}
