/**
 * What `status` and `audit` read of a live cluster, in one pass: paginated lists (500 a page, as
 * kubectl), progress on stderr, every object reduced to what the reports use as it arrives, so
 * that memory follows the number of agents, not the size of the cluster's pods.
 */
import type { KubeObject, Lease, Node, Pod } from '../kube/objects.ts';
import type { RestConfig } from '../kube/rest/config.ts';
import { readPages } from '../kube/rest/list_pager.ts';
import { listRequest } from '../kube/rest/list_request.ts';
import { ApiError } from '../kube/rest/request.ts';

export const PAGE_SIZE = 500;

export interface ListResult<T> {
  items: T[];
  /** Why the list could not be read (403, 404 of an API the cluster does not serve): the report says so instead of failing. */
  error?: string;
}

/** Every page of a collection; `keep` trims (or drops, with undefined) each item as it arrives. */
export async function listAll<T>(
  kc: RestConfig,
  path: string,
  keep: (item: KubeObject) => T | undefined,
  { labelSelector, progress }: { labelSelector?: string; progress?: (what: string, count: number) => void } = {},
): Promise<ListResult<T>> {
  const items: T[] = [];
  let seen = 0;
  const onItem = (item: KubeObject) => {
    seen++;
    const kept = keep(item);
    if (kept !== undefined) items.push(kept);
  };
  try {
    await readPages(async (cont, { ready, onContinue, signal }) => {
      const query = { limit: PAGE_SIZE, continue: cont, labelSelector };
      const meta = await listRequest(kc, path, { query, timeoutMs: 60_000, ready, onContinue, signal }, onItem);
      if (meta.continue || seen > PAGE_SIZE) progress?.(path, seen);
      return meta;
    });
  } catch (err) {
    if (err instanceof ApiError && (err.status === 403 || err.status === 404)) return { items, error: err.message };
    throw err;
  }
  return { items };
}

export const asPod = (item: KubeObject) => item as Pod;
export const asNode = (item: KubeObject) => item as Node;
export const asLease = (item: KubeObject) => item as Lease;
