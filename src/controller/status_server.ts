/** The controller's plain-HTTP endpoints, an express 5 app: GET /status (JSON), /healthz, /readyz, /metrics. */
import { createServer, type Server } from 'node:http';
import { plainApp } from '../http/plain_app.ts';
import { listen, sendMetrics, urlOf } from '../http/serve.ts';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import type { Election } from '../watcher_election/elect.ts';
import type { PublishedWatcher } from './publication.ts';

/** The controller's view, as GET /status serves it. */
export interface ControllerStatus {
  identity: string;
  leader: string | null;
  isLeader: boolean;
  synced: boolean;
  watcher: Election['watcher'];
  reason: Election['reason'] | null;
  /** Iterated once per request and written as it goes: at 100,000 agent pods it is 100,000 rows. */
  candidates: Iterable<Election['candidates'][number]>;
  published: PublishedWatcher | null;
  /** What the published election means for DeepFlow (the same sentence as `elect`'s). */
  note: string;
}

export interface StatusServerOptions {
  host: string;
  port: number;
  status: () => ControllerStatus;
  registry: Registry;
}

/**
 * GET /status's body in pieces of a few hundred rows: the text of `JSON.stringify(status, null, 2)`
 * and a newline, without ever holding all of it.
 */
export function* statusJson(status: ControllerStatus, rowsPerPiece = 500): Generator<string> {
  const { candidates, published, note, ...head } = status;
  const open = JSON.stringify(head, null, 2);
  let piece = `${open.slice(0, -2)},\n  "candidates": [`;
  let rows = 0;
  for (const c of candidates) {
    piece += `${rows === 0 ? '' : ','}\n    ${JSON.stringify(c, null, 2).replaceAll('\n', '\n    ')}`;
    if (++rows % rowsPerPiece === 0) {
      yield piece;
      piece = '';
    }
  }
  const tail = JSON.stringify({ published, note }, null, 2);
  yield `${piece}${rows === 0 ? ']' : '\n  ]'},\n${tail.slice(2)}\n`;
}

/** Writes the pieces, waiting for the socket to drain between them. */
async function writeAll(res: NodeJS.WritableStream, pieces: Iterable<string>): Promise<void> {
  for (const piece of pieces) if (!res.write(piece)) await once(res, 'drain');
}

/**
 * `close(drainDelayMs)` first turns /readyz to 503 and keeps answering for the drain delay (the
 * Service may still route here for a few seconds), then closes.
 */
export async function startStatusServer({
  host,
  port,
  status,
  registry,
}: StatusServerOptions): Promise<{ server: Server; url: string; close: (drainDelayMs?: number) => Promise<void> }> {
  let draining = false;
  const app = plainApp();
  app.use((req, res, next) => {
    if (draining) res.set('connection', 'close');
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    res.status(405).set('allow', 'GET').end();
  });
  app.get('/status', (_req, res, next) => {
    res.type('application/json');
    writeAll(res, statusJson(status())).then(() => res.end(), next);
  });
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const ready = status().synced && !draining;
    res
      .status(ready ? 200 : 503)
      .type('text/plain')
      .send(ready ? 'ok' : draining ? 'shutting down' : 'caches not synced');
  });
  app.get('/metrics', (_req, res) => sendMetrics(res, registry));
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found: GET /status, /healthz, /readyz, /metrics\n');
  });
  const server = createServer(app);
  const address = await listen(server, port, host);
  const close = async (drainDelayMs = 0) => {
    draining = true;
    if (drainDelayMs > 0) await delay(drainDelayMs);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // Requests still running get a moment; /metrics and /status answer in milliseconds.
      setTimeout(() => server.closeAllConnections(), 2_000).unref();
    });
  };
  return { server, url: urlOf('http', address), close };
}
