/**
 * Every page of a list, one page ahead (client-go's tools/pager reads them one after the other).
 * The API server writes a page's metadata, with its continue token, before its items; so the next
 * page is requested as soon as the token is known, and kube-apiserver encodes page N+1 while this
 * process parses page N. The next page's items wait, its response paused, until the current
 * page has been read to its end: items are handed over in the list's order, and at most one
 * page beyond the current one is held, in the socket's buffers rather than in the heap.
 */
import type { ListMeta } from './list_request.ts';

/** What a page request is given: when it may hand over items, whom to tell the continue token early, its signal. */
export interface PageHooks {
  /** Items wait until this resolves (the page before is read); a rejection ends the request. */
  ready: Promise<void>;
  /** Called with the page's continue token as soon as it is known (or never: the end of the page tells). */
  onContinue: (token: string | undefined) => void;
  signal: AbortSignal;
}

export type PageRequest = (cont: string | undefined, hooks: PageHooks) => Promise<ListMeta>;

interface Started {
  done: Promise<ListMeta>;
  /** The continue token, as early as it is known. */
  next: Promise<string | undefined>;
}

/** Reads every page; resolves with the last page's metadata and the count of pages. */
export async function readPages(
  request: PageRequest,
  signal?: AbortSignal,
): Promise<{ last: ListMeta; pages: number }> {
  const abort = new AbortController();
  const onAbort = () => abort.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const start = (cont: string | undefined, ready: Promise<void>): Started => {
    let tell: (token: string | undefined) => void = () => {};
    const next = new Promise<string | undefined>((resolve) => (tell = resolve));
    const done = request(cont, { ready, onContinue: tell, signal: abort.signal });
    done.then(
      (meta) => tell(meta.continue || undefined),
      () => tell(undefined),
    );
    return { done, next };
  };
  try {
    let page = start(undefined, Promise.resolve());
    for (let pages = 1; ; pages++) {
      const cont = await page.next;
      if (!cont) return { last: await page.done, pages };
      const ready = page.done.then(() => undefined);
      ready.catch(() => {}); // the request may not be listening yet; this page's failure is thrown below
      const following = start(cont, ready);
      following.done.catch(() => {}); // awaited next round; if this page fails first, it is aborted below
      await page.done;
      page = following;
    }
  } catch (err) {
    abort.abort(err);
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
