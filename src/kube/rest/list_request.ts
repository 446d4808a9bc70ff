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
  /** Items wait until this resolves (list_pager.ts: the page before is read); a rejection ends the request. */
  ready?: Promise<void>;
  /** Called with the continue token when the metadata before the items is read (list_pager.ts). */
  onContinue?: (token: string | undefined) => void;
}

/** GETs one page of `path`; `onItem` gets each item in order; resolves with the list's metadata. */
export function listRequest(
  kc: RestConfig,
  path: string,
  options: ListRequestOptions,
  onItem: (item: KubeObject) => void,
): Promise<ListMeta> {
  const { onContinue, ready, ...request } = options;
  const early =
    onContinue &&
    ((envelope: string) => {
      const meta = metadataBeforeItems(envelope);
      if (meta) onContinue(meta.continue || undefined); // else the end of the page tells
    });
  const splitter = new ListItemSplitter((text) => onItem(JSON.parse(text) as KubeObject), early);
  return kubeRequestWith(kc, 'GET', path, request, {
    ...(ready && { ready }),
    chunk: (text) => splitter.push(text),
    end: () => (JSON.parse(splitter.end()) as { metadata?: ListMeta }).metadata ?? {},
  });
}

/** The metadata of `{…,"metadata":{…},"items":[`, when it came before the items. */
function metadataBeforeItems(envelope: string): ListMeta | undefined {
  try {
    return (JSON.parse(`${envelope}]}`) as { metadata?: ListMeta }).metadata;
  } catch {
    return undefined; // not a list as the API server writes it
  }
}
