/**
 * The first key pair of a self-managed Secret can arrive while the server is still making its
 * throwaway one (it serves that until the Secret is filled, and stays unready): the server must
 * then serve the pair that arrived, not the throwaway. Found on a real node: a webhook replica
 * turned ready with the throwaway certificate and every review through its Service failed with
 * "x509: certificate is valid for localhost".
 */
import { afterAll, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { generateCertificates } from '../../src/certs/generate.ts';
import { keyPairOf, type KeyPair, type KeyPairSource } from '../../src/certs/key_pair.ts';
import { startWebhookServer, type WebhookServer } from '../../src/webhook/server.ts';
import { defaultConfig } from '../../src/config/config.ts';
import { capturingLogger } from '../support/webhook_server.ts';

let server: WebhookServer | undefined;
afterAll(async () => server?.close());

/** A source whose first pair arrives on the next turn of the event loop after the server subscribes. */
function arrivingSource(arriving: KeyPair): KeyPairSource {
  const source = {
    pair: undefined as KeyPair | undefined,
    onChange(listener: (pair: KeyPair) => void) {
      setImmediate(() => {
        source.pair = arriving;
        listener(arriving);
      });
    },
    stop() {},
  };
  return source;
}

function servedFingerprint(url: string, ca: string, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(url).port), ca, servername }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

test('a pair that arrives while the throwaway one is made is the one served', async () => {
  const bundle = await generateCertificates({ hosts: ['k8s-watch-policy-webhook.deepflow-system.svc'] });
  const source = arrivingSource(keyPairOf(bundle.key, bundle.cert));
  server = await startWebhookServer({
    config: defaultConfig(),
    keyPairs: source,
    logger: capturingLogger().logger,
    host: '127.0.0.1',
    port: 0,
    metricsHost: '127.0.0.1',
    metricsPort: 0,
  });
  expect(source.pair).toBeDefined(); // it did arrive during start-up
  const served = await servedFingerprint(server.url, bundle.caCert, 'k8s-watch-policy-webhook.deepflow-system.svc');
  expect(served).toBe(new X509Certificate(bundle.cert).fingerprint256);
});

/** A source that holds a pair once read, like a Secret that exists: its pair is known after `firstRead`. */
function readableSource(
  held: KeyPair | undefined,
  read: (signal: AbortSignal) => Promise<void> = async () => undefined,
): KeyPairSource & { reads: number } {
  const source = {
    pair: undefined as KeyPair | undefined,
    reads: 0,
    onChange() {},
    async firstRead(signal: AbortSignal) {
      source.reads++;
      await read(signal);
      source.pair = held;
    },
    stop() {},
  };
  return source;
}

test('a pair the source holds is served from the start: the first read comes before any throwaway pair', async () => {
  const bundle = await generateCertificates({ hosts: ['k8s-watch-policy-webhook.deepflow-system.svc'] });
  const source = readableSource(keyPairOf(bundle.key, bundle.cert));
  const { logger } = capturingLogger();
  const started = await startWebhookServer({
    config: defaultConfig(),
    keyPairs: source,
    logger,
    host: '127.0.0.1',
    port: 0,
    metricsHost: '127.0.0.1',
    metricsPort: 0,
  });
  try {
    expect(source.reads).toBe(1);
    expect(await servedFingerprint(started.url, bundle.caCert, 'k8s-watch-policy-webhook.deepflow-system.svc')).toBe(
      new X509Certificate(bundle.cert).fingerprint256,
    );
    expect(started.state.dependenciesReady?.()).toBe(true);
  } finally {
    await started.close();
  }
});

test('a first read that does not end in time leaves the server on a throwaway pair, unready', async () => {
  // The read ends only when start-up gives up on it (its signal aborts), and holds nothing.
  const source = readableSource(
    undefined,
    (signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
  );
  const { logger } = capturingLogger();
  const started = await startWebhookServer({
    config: defaultConfig(),
    keyPairs: source,
    logger,
    host: '127.0.0.1',
    port: 0,
    metricsHost: '127.0.0.1',
    metricsPort: 0,
    firstReadTimeoutMs: 50,
  });
  try {
    expect(source.reads).toBe(1);
    const served = await new Promise<X509Certificate>((resolve, reject) => {
      const socket = connect(
        { host: '127.0.0.1', port: Number(new URL(started.url).port), rejectUnauthorized: false },
        () => {
          resolve(socket.getPeerX509Certificate()!);
          socket.end();
        },
      );
      socket.on('error', reject);
    });
    expect(served.subject).toContain('localhost');
    expect(started.state.dependenciesReady?.()).toBe(false);
  } finally {
    await started.close();
  }
});
