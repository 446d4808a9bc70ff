/** What the webhook's and the controller's plain servers share: listening, their URL, GET /metrics. */
import type { Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Listens and resolves with the bound address (a port of 0 picks a free one); rejects on EADDRINUSE and the like. */
export function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

export function urlOf(scheme: 'http' | 'https', { address, family, port }: AddressInfo): string {
  return `${scheme}://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
}

/** Answers GET /metrics from the registry; a registry that cannot render is a 500 (reported to `onError`). */
export function sendMetrics(res: ServerResponse, registry: Registry, onError?: (err: unknown) => void): void {
  registry.metrics().then(
    (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
    (err: unknown) => {
      onError?.(err);
      res.writeHead(500).end();
    },
  );
}
