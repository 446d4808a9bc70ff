/**
 * The webhook process: the HTTPS admission server (TLS 1.2+, certificates reloaded from disk) and
 * the plain-HTTP metrics server, started and stopped together.
 *
 * Shutdown (SIGTERM in `k8s-watch-policy webhook`), as ingress controllers do it: /readyz turns
 * 503 and every answer carries `Connection: close` at once, but the listener keeps accepting and
 * answering for the drain delay, while the API server may still route to this pod (endpoints
 * follow readiness after a few seconds). Then it stops accepting, closes idle keep-alive
 * connections, lets the reviews in flight finish, and closes both servers.
 */
import type { Express } from 'express';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { plainApp } from '../http/plain_app.ts';
import { listen, sendMetrics, urlOf } from '../http/serve.ts';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { NodeLookup } from '../kube/node_lookup.ts';
import type { Config } from '../config/config.ts';
import type { Logger } from '../log.ts';
import { createApp, type WebhookState } from './app.ts';
import type { KeyPair, KeyPairSource } from '../certs/key_pair.ts';
import { CertificateReloader, secureContextOptions } from './certificate_reloader.ts';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.ts';

/** Loaded only when needed: the generator costs about 8 MB of RSS, and a replica with its pair never needs it. */
async function throwawayKeyPair(): Promise<KeyPair> {
  const { generateCertificates } = await import('../certs/generate.ts');
  const b = await generateCertificates({ hosts: ['localhost'], days: 1, caDays: 1 });
  return { key: b.key, cert: b.cert, digest: 'throwaway', notAfter: '' };
}

export interface WebhookServerOptions {
  config: Config;
  /** Key pair from tls.crt/tls.key in this directory (reloaded when they change) ... */
  certDir?: string;
  /** ... or from another source (the self-managed Secret). */
  keyPairs?: KeyPairSource;
  logger: Logger;
  host?: string;
  /** 0 picks a free port. */
  port: number;
  metricsHost?: string;
  metricsPort: number;
  /** The node cache, when there is one: lets rule 5 use the target node's labels. */
  nodes?: NodeLookup;
  /** Readiness of what the server depends on (the node cache has synced). */
  dependenciesReady?: () => boolean;
  maxBodyBytes?: number;
  /** Most bytes of request bodies read at once (default two maximum-size bodies); 429 beyond. */
  maxInflightBytes?: number;
  certPollIntervalMs?: number;
  /** How long shutdown waits for reviews in flight before closing their connections (default 15 s). */
  shutdownTimeoutMs?: number;
  /** How long shutdown keeps accepting and answering after /readyz turned 503 (default 0). */
  drainDelayMs?: number;
  /** How long start-up waits for the key pair source's first read before serving a throwaway pair (default 5 s). */
  firstReadTimeoutMs?: number;
}

/** An API server that does not answer within this delays listening no longer: the throwaway pair is served meanwhile. */
const FIRST_READ_TIMEOUT_MS = 5_000;

export interface WebhookServer {
  url: string;
  metricsUrl: string;
  https: HttpsServer;
  metrics: WebhookMetrics;
  certificates: KeyPairSource;
  state: WebhookState;
  close(): Promise<void>;
}

/**
 * 6 MiB: an AdmissionReview carries the object and the old object, each stored within etcd's
 * request limit (1.5 MiB by default, as protobuf: the JSON the API server sends is larger).
 */
export const DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024;

export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const { logger, config, nodes } = options;
  const dependenciesReady = options.dependenciesReady;
  const state: WebhookState = {
    ready: false,
    closing: false,
    // Ready once the real key pair is in (and whatever else the caller waits for).
    dependenciesReady: () => certificates?.pair !== undefined && (dependenciesReady?.() ?? true),
  };
  const metrics = createWebhookMetrics(() => certificates?.pair);
  const reviewOptions = nodes ? { config, nodes } : { config };
  const app = createApp({
    review: () => reviewOptions,
    logger,
    metrics,
    state,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    maxInflightBytes: options.maxInflightBytes ?? 2 * (options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES),
  });
  const certificates: KeyPairSource =
    options.keyPairs ??
    (await CertificateReloader.start({
      certDir: options.certDir ?? 'certs',
      logger,
      ...(options.certPollIntervalMs !== undefined && { pollIntervalMs: options.certPollIntervalMs }),
    }));
  const { https, silent } = await httpsServer(certificates, app, options);
  const metricsServer = createHttpServer(metricsApp(metrics, logger));

  let httpsAddress: AddressInfo;
  let metricsAddress: AddressInfo;
  try {
    httpsAddress = await listen(https, options.port, options.host ?? '0.0.0.0');
    metricsAddress = await listen(metricsServer, options.metricsPort, options.metricsHost ?? options.host ?? '0.0.0.0');
  } catch (err) {
    await certificates.stop();
    https.close();
    metricsServer.close();
    throw err;
  }
  state.ready = true;
  const url = urlOf('https', httpsAddress);
  const metricsUrl = urlOf('http', metricsAddress);
  logger.info({ url, metricsUrl, certificateNotAfter: certificates.pair?.notAfter ?? null }, 'webhook listening');
  const close = closer({ https, silent, metricsServer, certificates, state, logger, options });
  return { url, metricsUrl, https, metrics, certificates, state, close };
}

/**
 * The HTTPS server with the first key pair, following the source's changes. Until the first pair
 * is known (a Secret not made yet), it serves a throwaway one (and the webhook stays unready).
 * `silent`: the connections that have not sent a byte of a request yet.
 */
async function httpsServer(
  certificates: KeyPairSource,
  app: RequestListener,
  options: WebhookServerOptions,
): Promise<{ https: HttpsServer; silent: Set<Socket> }> {
  let https: HttpsServer | undefined;
  certificates.onChange((pair) => https?.setSecureContext(secureContextOptions(pair)));
  // A Secret usually holds the pair already: its first read (bounded) saves making a throwaway one.
  if (certificates.pair === undefined)
    await certificates.firstRead?.(AbortSignal.timeout(options.firstReadTimeoutMs ?? FIRST_READ_TIMEOUT_MS));
  const initial = certificates.pair ?? (await throwawayKeyPair());
  https = createHttpsServer({ ...secureContextOptions(initial), requestTimeout: 30_000, headersTimeout: 10_000 }, app);
  // The first pair may have come while the throwaway one was being made, when onChange had no
  // server to give it to: without this the replica turned ready serving the throwaway certificate
  // (found on a real node: every review failed "certificate is valid for localhost").
  const arrived = certificates.pair;
  if (arrived !== undefined && arrived !== initial) https.setSecureContext(secureContextOptions(arrived));
  https.keepAliveTimeout = 65_000; // longer than kube-apiserver's idle timeout, so it closes first
  // closeIdleConnections() leaves the silent connections open, so a client's spare keep-alive
  // connections held shutdown to its 15 s cap: they are tracked and destroyed on close.
  const silent = new Set<Socket>();
  https.on('secureConnection', (socket: Socket) => {
    silent.add(socket);
    socket.once('data', () => silent.delete(socket));
    socket.once('close', () => silent.delete(socket));
  });
  return { https, silent };
}

/** The plain-HTTP metrics port: GET /metrics, anything else a plain-text 404. */
function metricsApp(metrics: WebhookMetrics, logger: Logger): Express {
  const app = plainApp();
  app.get('/metrics', (_req, res) =>
    sendMetrics(res, metrics.registry, (err) => logger.error({ err }, 'cannot render metrics')),
  );
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found: GET /metrics\n');
  });
  return app;
}

interface Closing {
  https: HttpsServer;
  silent: Set<Socket>;
  metricsServer: HttpServer;
  certificates: KeyPairSource;
  state: WebhookState;
  logger: Logger;
  options: WebhookServerOptions;
}

/**
 * The webhook's close, once however often it is called: unready at once, still answering for the
 * drain delay, then the reviews in flight finish (at most the shutdown timeout) and both servers close.
 */
function closer({ https, silent, metricsServer, certificates, state, logger, options }: Closing): () => Promise<void> {
  let closed: Promise<void> | undefined;
  return () =>
    (closed ??= (async () => {
      state.ready = false;
      state.closing = true;
      const drainDelayMs = options.drainDelayMs ?? 0;
      if (drainDelayMs > 0) {
        logger.info({ drainDelayMs }, 'draining: not ready, still answering');
        await delay(drainDelayMs);
      }
      await certificates.stop();
      const drained = new Promise<void>((resolve) => https.close(() => resolve()));
      const closeIdle = () => {
        https.closeIdleConnections();
        for (const socket of silent) socket.destroy();
      };
      closeIdle();
      const idleSweep = setInterval(closeIdle, 100);
      const deadline = setTimeout(() => https.closeAllConnections(), options.shutdownTimeoutMs ?? 15_000);
      await drained;
      clearInterval(idleSweep);
      clearTimeout(deadline);
      const metricsClosed = new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      metricsServer.closeAllConnections();
      await metricsClosed;
      logger.info('webhook stopped');
    })());
}
