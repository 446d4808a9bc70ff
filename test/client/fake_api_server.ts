/**
 * A local HTTPS server for the client transport tests: a CA of its own, a serving certificate
 * for 127.0.0.1, optionally client certificates required (mTLS as kube-apiserver does it), every
 * request recorded. Each test sets `handler`. The real API server is in test/e2e; this one exists
 * to produce what a healthy API server does not on demand (split lines, silence, resets).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import selfsigned from 'selfsigned';
import { generateCa, issueServingCertificate, type CertificateAuthority } from '../../src/certs/generate.ts';

const DAY = 24 * 3600_000;

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** The client certificate's common name, when one was presented. */
  clientCN?: string;
  /** Which TCP connection carried it (1, 2, ... in order of connection). */
  connection: number;
}

export interface FakeApiServer {
  url: string;
  caPem: string;
  /** A client certificate signed by the server's CA (CN `admin`). */
  client: { cert: string; key: string };
  requests: RecordedRequest[];
  connections: number;
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
  close(): Promise<void>;
}

let authority:
  | Promise<{ ca: CertificateAuthority; serving: { cert: string; key: string }; client: { cert: string; key: string } }>
  | undefined;

function pki() {
  authority ??= (async () => {
    const ca = await generateCa(DAY);
    const serving = await issueServingCertificate(ca, ['127.0.0.1', 'localhost'], DAY);
    const pair = await selfsigned.generate([{ name: 'commonName', value: 'admin' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      notBeforeDate: new Date(Date.now() - 60_000),
      notAfterDate: new Date(Date.now() + DAY),
      ca: { key: ca.key, cert: ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
      ],
    });
    const client = { cert: pair.cert, key: pair.private };
    return { ca, serving, client };
  })();
  return authority;
}

export async function startFakeApiServer({ requireClientCert = false } = {}): Promise<FakeApiServer> {
  const { ca, serving, client } = await pki();
  const sockets = new Set<Socket>();
  const connectionIds = new WeakMap<Socket, number>();
  const state: FakeApiServer = {
    url: '',
    caPem: ca.cert,
    client,
    requests: [],
    connections: 0,
    handler: (_req, res) => {
      res.writeHead(404).end();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer(
    {
      cert: serving.cert,
      key: serving.key,
      ca: ca.cert,
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
    },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate?.();
      state.requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        ...(peer?.subject?.CN && { clientCN: String(peer.subject.CN) }),
        connection: connectionIds.get(socket) ?? 0,
      });
      // A handler that fails ends its response with the error: the client sees a reset, never a hang.
      Promise.resolve(state.handler(req, res)).catch((err: unknown) => res.destroy(err as Error));
    },
  );
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    connectionIds.set(socket, ++state.connections);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
