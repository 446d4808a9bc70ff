/**
 * One watch request (`?watch=1`): kube-apiserver answers with a stream of JSON objects, one per
 * line, `{"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": {...}}`, until the
 * server-side `timeoutSeconds` ends it. Reconnecting, resourceVersions and 410 Gone are the
 * reflector's business; this only opens, parses and ends one stream.
 */
import { request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { apiError, withQuery, type Query } from './request.ts';
import type { RestConfig } from './config.ts';

export interface WatchStream {
  /** Ends the stream; `onDone` is not called afterwards. */
  abort(): void;
}

/** The stream went silent for longer than the idle limit (`name` is `TimeoutError`). */
export class WatchIdleTimeout extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Opens the watch; resolves once the server accepted it (HTTP 200), rejects with an
 * {@link ApiError} (e.g. 410, 403) or the transport's error otherwise. Then `onEvent` gets every
 * event in order and `onDone` is called once: without an argument when the server ended the
 * stream, with the error when the connection failed, a line was not JSON, or nothing arrived
 * for `idleTimeoutMs`.
 */
export async function openWatch(
  kc: RestConfig,
  path: string,
  query: Query,
  idleTimeoutMs: number,
  onEvent: (type: string, object: unknown) => void,
  onDone: (err?: unknown) => void,
): Promise<WatchStream> {
  const url = kc.url(withQuery(path, { ...query, watch: 1 }));
  const options = await kc.requestOptions('GET', { accept: 'application/json' });
  let aborted = false;
  let finished = false;
  let established = false;
  const done = (err?: unknown) => {
    if (finished || aborted) return;
    finished = true;
    onDone(err);
  };
  return new Promise<WatchStream>((resolve, reject) => {
    const req = request(url, options, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) return refused(res, `watch ${path}`, status, reject);
      established = true;
      resolve({
        abort: () => {
          aborted = true;
          req.destroy();
        },
      });
      res.setEncoding('utf8');
      const lines = lineReader((line) => {
        let event: { type?: unknown; object?: unknown };
        try {
          event = JSON.parse(line) as { type?: unknown; object?: unknown };
        } catch {
          done(new Error(`watch ${path}: a line of the stream is not JSON: ${line.slice(0, 100)}`));
          req.destroy();
          return false;
        }
        if (aborted || finished) return false;
        onEvent(String(event.type), event.object);
        return true;
      });
      res.on('data', lines);
      res.on('end', () => done());
      res.on('error', (err) => done(err));
      res.on('close', () =>
        done(res.complete ? undefined : new Error(`watch ${path}: the connection closed mid-stream`)),
      );
    });
    req.setTimeout(idleTimeoutMs, () =>
      req.destroy(new WatchIdleTimeout(`watch ${path}: nothing received for ${idleTimeoutMs} ms`)),
    );
    req.on('error', (err) => (established ? done(err) : reject(err)));
    req.end();
  });
}

/**
 * A `data` handler that hands each complete, non-blank line of a stream to `onLine`, in order,
 * until `onLine` returns false (the rest of that chunk is dropped).
 */
function lineReader(onLine: (line: string) => boolean): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim() !== '' && !onLine(line)) return;
    }
  };
}

/** A watch the server refused: rejects with its ApiError once the body (the Status) has been read. */
function refused(res: IncomingMessage, what: string, status: number, reject: (err: unknown) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => reject(apiError(what, status, Buffer.concat(chunks).toString('utf8'))));
  res.on('error', reject);
}
