/**
 * A reflector (client-go tools/cache): keeps a Store in step with one resource of the API server.
 *
 * List (paginated) then watch from the list's resourceVersion with bookmarks; a normal close of
 * the watch re-watches from the last resourceVersion seen; 410 Gone (the version was compacted)
 * relists; every other error retries with exponential backoff and jitter, forever. It never
 * stops silently: every failure is logged, and `stop()` is the only way out.
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import type { KubeObject } from './objects.js';
import { ApiError, kubeRequest } from './rest.js';
import { objectKey, type Store } from './store.js';

export interface ReflectorOptions<T> {
  kc: KubeConfig;
  /** Collection path, e.g. `/api/v1/nodes` or `/api/v1/namespaces/x/pods`. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  store: Store<T>;
  /** Applied to every object before it is stored (keep only what is read). */
  transform: (object: KubeObject) => T;
  logger: Logger;
  pageSize?: number;
  /** Called after each change to the store (list, add, update, delete). */
  onChange?: () => void;
}

interface ListResponse {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubeObject[];
}

class Gone extends Error {}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export class Reflector<T> {
  private readonly stopping = new AbortController();
  private watchAbort: AbortController | undefined;
  /** Ends the watch in progress (client-node does not call `done` for an aborted watch). */
  private endWatch: (() => void) | undefined;
  private resourceVersion = '';
  private synced = false;
  private syncWaiters: (() => void)[] = [];

  constructor(private readonly options: ReflectorOptions<T>) {}

  get hasSynced(): boolean {
    return this.synced;
  }

  get lastSyncResourceVersion(): string {
    return this.resourceVersion;
  }

  /** Resolves once the first list is in the store. */
  waitForSync(): Promise<void> {
    return this.synced ? Promise.resolve() : new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Runs until `stop()`. */
  async run(): Promise<void> {
    const { logger, path } = this.options;
    let failures = 0;
    let needList = true;
    while (!this.stopping.signal.aborted) {
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        await this.watch();
        failures = 0; // a watch that ended normally: re-watch from the last version at once
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        if (err instanceof Gone) {
          logger.info({ path, resourceVersion: this.resourceVersion }, 'watch expired (410 Gone); relisting');
          needList = true;
          continue;
        }
        failures++;
        const delay = Math.min(30_000, 500 * 2 ** Math.min(failures - 1, 6)) * (0.5 + Math.random() / 2);
        logger.warn({ path, err: String((err as Error).message ?? err), retryInMs: Math.round(delay), failures }, 'list/watch failed; retrying');
        if (err instanceof ApiError && err.status === 410) needList = true;
        await sleep(delay, this.stopping.signal);
      }
    }
  }

  stop(): void {
    this.stopping.abort();
    this.watchAbort?.abort();
    this.endWatch?.();
  }

  private async list(): Promise<void> {
    const { kc, path, labelSelector, fieldSelector, transform, store } = this.options;
    const items: [string, T][] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = await kubeRequest<ListResponse>(kc, 'GET', path, { query: { labelSelector, fieldSelector, limit: this.options.pageSize ?? 500, continue: cont } });
      for (const item of page.items ?? []) items.push([objectKey(item), transform(item)]);
      cont = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? '';
    } while (cont);
    store.replace(items);
    this.resourceVersion = resourceVersion;
    this.options.onChange?.();
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  private watch(): Promise<void> {
    const { kc, path, labelSelector, fieldSelector, transform, store, onChange } = this.options;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        this.endWatch = undefined;
        if (err) reject(err);
        else resolve();
      };
      this.endWatch = () => finish();
      const query = {
        watch: true,
        allowWatchBookmarks: true,
        resourceVersion: this.resourceVersion,
        labelSelector,
        fieldSelector,
        timeoutSeconds: 300 + Math.floor(Math.random() * 300), // like client-go: spread re-watches
      };
      new Watch(kc)
        .watch(
          path,
          query,
          (type, object: KubeObject & { code?: number; message?: string }) => {
            if (type === 'ERROR') {
              this.watchAbort?.abort();
              finish(object.code === 410 ? new Gone(object.message) : new Error(`watch error: ${object.message ?? JSON.stringify(object)}`));
              return;
            }
            const rv = object.metadata?.resourceVersion;
            if (rv) this.resourceVersion = String(rv);
            if (type === 'BOOKMARK') return;
            const key = objectKey(object);
            if (type === 'DELETED') store.delete(key);
            else store.set(key, transform(object));
            onChange?.();
          },
          (err: unknown) => {
            const status = (err as { statusCode?: number; code?: number } | null)?.statusCode ?? (err as { code?: number } | null)?.code;
            finish(status === 410 ? new Gone(String(err)) : (err ?? undefined));
          },
        )
        .then(
          (abort) => {
            this.watchAbort = abort;
            if (this.stopping.signal.aborted) abort.abort();
          },
          (err: unknown) => finish(err),
        );
    });
  }
}
