/**
 * A minimal kube-apiserver client for the benchmarks: raw JSON over node:https with the
 * local cluster's admin certificate (no @kubernetes/client-node, so that the benchmark process
 * stays light and its timings are its own), plus watches that time-stamp every event on arrival.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';

export interface ClusterFiles {
  dir: string;
  server: string;
  bin: string;
  kubeconfig: string;
}

/** The cluster `node test/cluster/main.ts up` started with K8S_WATCH_POLICY_CLUSTER_DIR=dir. */
export function clusterFiles(dir: string): ClusterFiles {
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { server: string; bin: string };
  return { dir, server: state.server, bin: state.bin, kubeconfig: join(dir, 'kubeconfig') };
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, message: string, body?: unknown) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export type Json = any;

export interface WatchEvent {
  type: string;
  object: Json;
  /** performance.now() when the event's line was complete. */
  at: number;
}

export class Kube {
  readonly server: URL;
  private readonly agent: Agent;
  private readonly watchAgent: Agent;

  /** `maxSockets`: keep-alive connections of the request pool (64), one per concurrent client of a load. */
  constructor(files: ClusterFiles, { maxSockets = 64 }: { maxSockets?: number } = {}) {
    this.server = new URL(files.server);
    const pki = join(files.dir, 'pki');
    const tls = {
      ca: readFileSync(join(pki, 'ca.crt')),
      cert: readFileSync(join(pki, 'admin.crt')),
      key: readFileSync(join(pki, 'admin.key')),
    };
    this.agent = new Agent({ ...tls, keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    this.watchAgent = new Agent({ ...tls, keepAlive: false });
  }

  /** One request; resolves with the parsed body of a 2xx answer. */
  request<T = Json>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    timeoutMs = 60_000,
  ): Promise<T> {
    const payload =
      body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = request(
        new URL(path, this.server),
        {
          method,
          agent: this.agent,
          headers: {
            accept: 'application/json',
            ...(payload && {
              'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json',
              'content-length': String(payload.length),
            }),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              /* not JSON */
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(parsed as T);
            const message = (parsed as { message?: string } | undefined)?.message ?? text.slice(0, 200);
            reject(new ApiError(status, `${method} ${path}: ${status} ${message}`, parsed));
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  get<T = Json>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** GET that resolves undefined on 404. */
  async find<T = Json>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Server-side apply (field manager `kwp-bench`, forced): creates or updates. */
  apply<T = Json>(path: string, object: unknown): Promise<T> {
    return this.request<T>(
      'PATCH',
      `${path}${path.includes('?') ? '&' : '?'}fieldManager=kwp-bench&force=true`,
      object,
      { 'content-type': 'application/apply-patch+yaml' },
    );
  }

  /** Every item of a collection (paginated). */
  async list(path: string, query: Record<string, string> = {}, pageSize = 500): Promise<Json[]> {
    const items: Json[] = [];
    let cont: string | undefined;
    do {
      const params = new URLSearchParams({ ...query, limit: String(pageSize), ...(cont && { continue: cont }) });
      const page = await this.get<{ items?: Json[]; metadata?: { continue?: string } }>(`${path}?${params}`);
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return items;
  }

  /**
   * The rows of a collection as `kubectl get` prints them (a paginated Table list: name, status,
   * ...; no objects), a few hundred bytes each instead of several KB.
   */
  async table(path: string, query: Record<string, string> = {}): Promise<{ name: string; cells: unknown[] }[]> {
    const rows: { name: string; cells: unknown[] }[] = [];
    let cont: string | undefined;
    do {
      const params = new URLSearchParams({
        ...query,
        includeObject: 'None',
        limit: '2000',
        ...(cont && { continue: cont }),
      });
      const page = await this.request<{ rows?: { cells: unknown[] }[]; metadata?: { continue?: string } }>(
        'GET',
        `${path}?${params}`,
        undefined,
        {
          accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
        },
      );
      for (const r of page.rows ?? []) rows.push({ name: String(r.cells[0]), cells: r.cells });
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return rows;
  }

  /** How many objects a (selected) collection has. */
  async count(path: string, query: Record<string, string> = {}): Promise<number> {
    return (await this.table(path, query)).length;
  }

  /**
   * A watch that re-opens itself from the last resourceVersion until `stop()`. Without
   * `resourceVersion` the first one starts with an ADDED event per existing object.
   */
  watch(
    path: string,
    query: Record<string, string>,
    onEvent: (e: WatchEvent) => void,
  ): { stop: () => void; ready: Promise<void> } {
    let stopped = false;
    let current: ReturnType<typeof request> | undefined;
    let rv: string | undefined;
    let resolveReady: () => void = () => {};
    const ready = new Promise<void>((r) => (resolveReady = r));
    const open = () => {
      if (stopped) return;
      const params = new URLSearchParams({
        ...query,
        watch: '1',
        allowWatchBookmarks: 'true',
        timeoutSeconds: '3600',
        ...(rv && { resourceVersion: rv }),
      });
      const req = request(
        new URL(`${path}?${params}`, this.server),
        { method: 'GET', agent: this.watchAgent, headers: { accept: 'application/json' } },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            if (res.statusCode === 410) rv = undefined;
            setTimeout(open, 500);
            return;
          }
          resolveReady();
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffer += chunk;
            for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
              const line = buffer.slice(0, nl);
              buffer = buffer.slice(nl + 1);
              if (!line.trim()) continue;
              const at = performance.now();
              const event = JSON.parse(line) as { type: string; object: Json };
              if (event.type === 'ERROR') {
                if (event.object?.code === 410) rv = undefined;
                continue;
              }
              rv = event.object?.metadata?.resourceVersion ?? rv;
              if (event.type !== 'BOOKMARK') onEvent({ type: event.type, object: event.object, at });
            }
          });
          res.on('end', () => setTimeout(open, 0));
          res.on('error', () => setTimeout(open, 500));
        },
      );
      req.on('error', () => !stopped && setTimeout(open, 500));
      req.end();
      current = req;
    };
    open();
    return {
      stop: () => {
        stopped = true;
        current?.destroy();
      },
      ready,
    };
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }
}

/** Runs `task` over `items` with at most `concurrency` in flight; rejects on the first failure. */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        await task(items[i]!, i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failed !== undefined) throw failed;
}
