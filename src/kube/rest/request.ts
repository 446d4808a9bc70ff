/**
 * Raw JSON requests to kube-apiserver with a RestConfig's credentials. The objects stay in
 * their wire shape (timestamps as strings), which is what the pure core reads; client-node's
 * generated clients would turn them into classes with Date fields.
 */
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import type { RestConfig } from './config.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** The error of a non-2xx answer: the Status message when the body is one, else the body's start. */
export function apiError(what: string, status: number, text: string): ApiError {
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  const message = (parsed as { message?: string } | undefined)?.message ?? text.slice(0, 200);
  return new ApiError(status, `${what}: ${status} ${message}`, parsed);
}

export const isNotFound = (err: unknown): boolean => err instanceof ApiError && err.status === 404;
export const isConflict = (err: unknown): boolean => err instanceof ApiError && err.status === 409;

export type Query = Record<string, string | number | boolean | undefined>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Content type of a PATCH body (default merge patch). */
  patchType?: 'application/merge-patch+json' | 'application/json-patch+json' | 'application/strategic-merge-patch+json';
  timeoutMs?: number;
  /** Aborts the request (e.g. when leadership is lost: no write may go out after that). */
  signal?: AbortSignal;
}

/** How a 2xx answer's body is read: its text as it arrives (UTF-8), then the value at its end. */
export interface BodyReader<T> {
  chunk(text: string): void;
  end(): T;
  /** The body waits (its response paused) until this resolves; a rejection ends the request. */
  ready?: Promise<void>;
}

/** The whole text, parsed as JSON when it is JSON (a text answer stays a string). */
function jsonBody<T>(): BodyReader<T> {
  let text = '';
  return {
    chunk: (c) => void (text += c),
    end: () => {
      try {
        return (text ? JSON.parse(text) : undefined) as T;
      } catch {
        return text as T;
      }
    },
  };
}

/** One request; resolves with the parsed JSON body of a 2xx answer, rejects with an {@link ApiError} otherwise. */
export function kubeRequest<T>(kc: RestConfig, method: string, path: string, options: RequestOptions = {}): Promise<T> {
  return kubeRequestWith(kc, method, path, options, jsonBody<T>());
}

/**
 * One request whose 2xx body goes to `reader` as it arrives (decoded as it arrives: a list page of
 * some MB is never held twice, as chunks and as their concatenation); rejects with an
 * {@link ApiError} for any other status, and with what `reader` throws.
 */
export async function kubeRequestWith<T>(
  kc: RestConfig,
  method: string,
  path: string,
  { query, body, patchType, timeoutMs = 30_000, signal }: RequestOptions,
  reader: BodyReader<T>,
): Promise<T> {
  signal?.throwIfAborted();
  const url = kc.url(withQuery(path, query));
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string | number> = { accept: 'application/json' };
  if (payload) {
    headers['content-type'] = method === 'PATCH' ? (patchType ?? 'application/merge-patch+json') : 'application/json';
    headers['content-length'] = payload.length;
  }
  const options = await kc.requestOptions(method, headers);
  if (signal) options.signal = signal;
  return new Promise<T>((resolve, reject) => {
    const fail = (err: unknown) => {
      reject(err instanceof Error ? err : new Error(String(err)));
      req.destroy();
    };
    const req = request(url, options, (res) => void readAnswer(res, `${method} ${path}`, reader).then(resolve, fail));
    reader.ready?.catch(fail); // also before the answer arrives
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** One answer: a 2xx body through `reader` (held, paused, while `reader.ready` is pending), any other status as an ApiError. */
function readAnswer<T>(res: IncomingMessage, what: string, reader: BodyReader<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const status = res.statusCode ?? 0;
    res.setEncoding('utf8');
    res.on('error', reject);
    if (status < 200 || status >= 300) {
      let text = '';
      res.on('data', (c: string) => (text += c));
      res.on('end', () => reject(apiError(what, status, text)));
      return;
    }
    const held: string[] = [];
    let open = reader.ready === undefined;
    let ended = false;
    let failed = false;
    const guard = (step: () => void) => {
      if (failed) return;
      try {
        step();
      } catch (err) {
        failed = true;
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    res.on('data', (c: string) => {
      if (open) guard(() => reader.chunk(c));
      else {
        held.push(c);
        res.pause();
      }
    });
    res.on('end', () => (open ? guard(() => resolve(reader.end())) : (ended = true)));
    reader.ready?.then(
      () =>
        guard(() => {
          open = true;
          for (const c of held.splice(0)) reader.chunk(c);
          if (ended) resolve(reader.end());
          else res.resume();
        }),
      reject,
    );
  });
}
