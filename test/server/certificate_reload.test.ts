import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { Agent } from 'node:https';
import { connect } from 'node:tls';
import { generateCertificates, type CertificateBundle } from '../../src/certs/generate.ts';
import type { CertificateReloader } from '../../src/webhook/certificate_reloader.ts';
import type { WebhookServer } from '../../src/webhook/server.ts';
import { eventually } from '../support/wait.ts';
import { capturingLogger, fixture, replaceKeyPair, send, startTestWebhook } from '../support/webhook_server.ts';

let server: WebhookServer;
let first: CertificateBundle;
let second: CertificateBundle;
let dir: string;
let stop: () => Promise<void>;
const { logger, lines } = capturingLogger();
/** The server was started with --cert-dir, so its key pairs come from the file reloader. */
const reloader = () => server.certificates as CertificateReloader;

beforeAll(async () => {
  ({ server, dir, bundle: first, stop } = await startTestWebhook({ logger, certPollIntervalMs: 200 }));
});

afterAll(() => stop());

/** The fingerprint of the certificate a new TLS connection is served. */
function servedFingerprint(ca: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port: Number(new URL(server.url).port), ca, servername: 'localhost' },
      () => {
        resolve(socket.getPeerX509Certificate()!.fingerprint256);
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

test('a new key pair on disk is served to new connections while reviews keep flowing without a failure', async () => {
  // (the jest timeout below is a hang guard, not a speed assertion)
  second = await generateCertificates({ hosts: ['localhost', '127.0.0.1'] });
  const ca = [first.caCert, second.caCert];
  const body = JSON.stringify(await fixture('daemonset-pod-create.json'));
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let ok = 0;
  const failures: string[] = [];
  let running = true;
  const client = async () => {
    while (running) {
      try {
        const reply = await send(server.url, { path: '/mutate', body, ca, agent });
        if (reply.status === 200 && reply.json.response.allowed === true) ok++;
        else failures.push(`status ${reply.status}`);
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const clients = [client(), client(), client(), client()];
  try {
    expect(await servedFingerprint(ca)).toBe(new X509Certificate(first.cert).fingerprint256);
    await eventually('reviews before the rotation', async () => ok >= 20, { timeoutMs: 8_000, everyMs: 50 });
    await replaceKeyPair(dir, second);
    const expected = new X509Certificate(second.cert).fingerprint256;
    await eventually('the new certificate to be served', async () => (await servedFingerprint(ca)) === expected, {
      timeoutMs: 8_000,
      everyMs: 50,
    });
    const atRotation = ok;
    await eventually('reviews after the rotation', async () => ok >= atRotation + 20, {
      timeoutMs: 8_000,
      everyMs: 50,
    });
  } finally {
    running = false;
    await Promise.all(clients);
    agent.destroy();
  }

  expect(failures).toEqual([]);
  expect(reloader().pair.cert).toBe(second.cert);
  expect(lines.some((l) => l.msg === 'serving certificate reloaded')).toBe(true);
}, 30_000);

test('a key that does not match its certificate is refused and the current pair stays', async () => {
  const current = reloader().pair;
  const other = await generateCertificates({ hosts: ['localhost'] });
  await replaceKeyPair(dir, { ...other, cert: current.cert });
  await reloader().check();
  expect(reloader().pair.digest).toBe(current.digest);
  expect(lines.some((l) => l.msg === 'cannot load new certificate; keeping the current one')).toBe(true);
  expect(await servedFingerprint([second.caCert])).toBe(new X509Certificate(second.cert).fingerprint256);
  expect((await send(server.url, { method: 'GET', path: '/healthz', ca: second.caCert })).status).toBe(200);
});
