/** The controller's plain-HTTP endpoints: GET /status (JSON), /healthz, /readyz, /metrics. */
import { createServer, type Server } from 'node:http';
import { listen, sendMetrics, urlOf } from '../http/serve.ts';
import { setTimeout as delay } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import type { ControllerStatus } from './controller.ts';

export interface StatusServerOptions {
  host: string;
  port: number;
  status: () => ControllerStatus;
  registry: Registry;
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
  const server = createServer((req, res) => {
    if (draining) res.setHeader('connection', 'close');
    const path = req.url?.split('?')[0];
    if (req.method !== 'GET') return void res.writeHead(405, { allow: 'GET' }).end();
    switch (path) {
      case '/status':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status(), null, 2) + '\n');
        return;
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      case '/readyz': {
        const ready = status().synced && !draining;
        res
          .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
          .end(ready ? 'ok' : draining ? 'shutting down' : 'caches not synced');
        return;
      }
      case '/metrics':
        return sendMetrics(res, registry);
      default:
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end('not found: GET /status, /healthz, /readyz, /metrics\n');
    }
  });
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
