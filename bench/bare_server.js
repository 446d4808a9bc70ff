#!/usr/bin/env node
/**
 * The ceiling of the admission benchmark: a bare node:https server with the webhook's TLS
 * settings (same certificate, TLS 1.2+, same keep-alive and timeouts) that reads the body, parses
 * the JSON and answers a fixed allow echoing the request uid. No express, no review, no logging,
 * no metrics: what any Node webhook on this machine pays for TLS, HTTP and JSON.
 *
 *   node bench/bare_server.js --cert-dir DIR --port PORT [--host 127.0.0.1]
 *
 * Prints `listening <port>` on stdout when ready; SIGTERM/SIGINT close it.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'cert-dir': { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const certDir = values['cert-dir'];
if (!certDir) {
  process.stderr.write('bare_server: --cert-dir is required\n');
  process.exit(64);
}

const server = createServer(
  {
    key: readFileSync(join(certDir, 'tls.key'), 'utf8'),
    cert: readFileSync(join(certDir, 'tls.crt'), 'utf8'),
    minVersion: 'TLSv1.2',
    requestTimeout: 30_000,
    headersTimeout: 10_000,
  },
  (req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      let uid;
      try {
        uid = JSON.parse(Buffer.concat(chunks).toString('utf8')).request.uid;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad request"}');
        return;
      }
      const body = JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid, allowed: true },
      });
      res
        .writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(body),
        })
        .end(body);
    });
  },
);
server.keepAliveTimeout = 65_000;

server.listen(Number(values.port), values.host, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
