/**
 * Reading every page one page ahead (src/kube/rest/list_pager.ts): the next page is requested as
 * soon as the current one tells its continue token, its items wait for the current page's end,
 * and a failure ends the list with the failing page's error, the page ahead aborted.
 */
import { describe, expect, test } from '@jest/globals';
import { readPages, type PageHooks } from '../../src/kube/rest/list_pager.ts';
import type { ListMeta } from '../../src/kube/rest/list_request.ts';

interface Scripted {
  cont: string | undefined;
  hooks: PageHooks;
  /** Tells the continue token early, as the metadata before the items does. */
  tell(): void;
  /** Hands over the page's items (after `ready`) and ends it. */
  finish(): Promise<void>;
  fail(err: Error): void;
}

/** Pages `0..count-1` of `size` items each; the test drives each request. */
function pagedList(count: number, size = 2) {
  const requests: Scripted[] = [];
  const items: string[] = [];
  const waiting: ((r: Scripted) => void)[] = [];
  const request = (cont: string | undefined, hooks: PageHooks): Promise<ListMeta> =>
    new Promise<ListMeta>((resolve, reject) => {
      const index = cont === undefined ? 0 : Number(cont);
      const next = index + 1 < count ? String(index + 1) : undefined;
      hooks.signal.addEventListener('abort', () => reject(new Error(`page ${index} aborted`)), { once: true });
      const scripted: Scripted = {
        cont,
        hooks,
        tell: () => hooks.onContinue(next),
        finish: async () => {
          await hooks.ready;
          for (let i = 0; i < size; i++) items.push(`${index}.${i}`);
          resolve({ resourceVersion: '9', ...(next && { continue: next }) });
        },
        fail: reject,
      };
      requests.push(scripted);
      waiting.shift()?.(scripted);
    });
  /** The next request the pager makes (already made, or when it is). */
  const nextRequest = (n: number) =>
    requests[n] ? Promise.resolve(requests[n]) : new Promise<Scripted>((resolve) => waiting.push(resolve));
  return { request, requests, items, nextRequest };
}

describe('readPages', () => {
  test('the next page is requested once the token is known; items stay in order', async () => {
    const list = pagedList(3);
    const read = readPages(list.request);
    const first = await list.nextRequest(0);
    expect(list.requests).toHaveLength(1);
    first.tell();
    const second = await list.nextRequest(1); // requested while the first page is still being read
    expect(second.cont).toBe('1');
    second.tell();
    const secondRead = second.finish(); // waits for page 0
    await Promise.resolve();
    expect(list.items).toEqual([]); // page 1 has handed nothing over before page 0's end
    await first.finish();
    await secondRead;
    const third = await list.nextRequest(2);
    third.tell();
    await third.finish();
    await expect(read).resolves.toEqual({ last: { resourceVersion: '9' }, pages: 3 });
    expect(list.items).toEqual(['0.0', '0.1', '1.0', '1.1', '2.0', '2.1']);
  });

  test('a page that never tells its token early: the next is requested after its end', async () => {
    const list = pagedList(2);
    const read = readPages(list.request);
    const first = await list.nextRequest(0);
    await first.finish();
    const second = await list.nextRequest(1);
    await second.finish();
    await expect(read).resolves.toEqual({ last: { resourceVersion: '9' }, pages: 2 });
    expect(list.items).toEqual(['0.0', '0.1', '1.0', '1.1']);
  });

  test('a failing page ends the list with its error and aborts the page ahead', async () => {
    const list = pagedList(3);
    const read = readPages(list.request);
    const first = await list.nextRequest(0);
    first.tell();
    const second = await list.nextRequest(1);
    first.fail(new Error('410 continue token expired'));
    await expect(read).rejects.toThrow('410 continue token expired');
    expect(second.hooks.signal.aborted).toBe(true);
    await expect(second.hooks.ready).rejects.toThrow('410');
    expect(list.items).toEqual([]);
  });

  test('the page ahead failing first is reported once the current page is read', async () => {
    const list = pagedList(3);
    const read = readPages(list.request);
    const first = await list.nextRequest(0);
    first.tell();
    const second = await list.nextRequest(1);
    second.fail(new Error('page 1: connection reset'));
    await first.finish();
    await expect(read).rejects.toThrow('page 1: connection reset');
    expect(list.items).toEqual(['0.0', '0.1']);
    expect(list.requests).toHaveLength(2);
  });

  test('the caller aborting ends the list', async () => {
    const list = pagedList(2);
    const stop = new AbortController();
    const read = readPages(list.request, stop.signal);
    const first = await list.nextRequest(0);
    stop.abort();
    await expect(read).rejects.toThrow('page 0 aborted');
    expect(first.hooks.signal.aborted).toBe(true);
  });
});
