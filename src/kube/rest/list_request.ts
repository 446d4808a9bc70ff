/**
 * One page of a collection, each item handed over as soon as the response has it (parsed alone,
 * see list_items.ts), and the page's list metadata (continue token, resourceVersion) at the end.
 * What a caller keeps of an item is all that outlives it: a page of 500 pods is never one tree of
 * objects in memory.
 */
import type { KubeObject } from '../objects.ts';
import type { RestConfig } from './config.ts';
import { ListItemSplitter } from './list_items.ts';
import { kubeRequestWith, type Query } from './request.ts';

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface ListRequestOptions {
  query?: Query;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** GETs one page of `path`; `onItem` gets each item in order; resolves with the list's metadata. */
export function listRequest(
  kc: RestConfig,
  path: string,
  options: ListRequestOptions,
  onItem: (item: KubeObject) => void,
): Promise<ListMeta> {
  const splitter = new ListItemSplitter((text) => onItem(JSON.parse(text) as KubeObject));
  return kubeRequestWith(kc, 'GET', path, options, {
    chunk: (text) => splitter.push(text),
    end: () => (JSON.parse(splitter.end()) as { metadata?: ListMeta }).metadata ?? {},
  });
}
