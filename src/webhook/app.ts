/**
 * The webhook's HTTPS application: `POST /mutate`, `POST /validate` (review_handler.ts),
 * `GET /healthz`, `GET /readyz`. Every bad request gets a JSON `{"error": reason}` with 400 (413
 * for a body over the limit, 429 with Retry-After past the bytes in flight), and one structured
 * log line is written per review.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { mutatePod, validateController } from './admission_review.js';
import type { ReviewOptions } from '../admission/review_pod.js';
import type { Logger } from '../log.js';
import type { WebhookMetrics } from './metrics.js';
import { InflightBytes } from './json_body.js';
import { reviewHandler } from './review_handler.js';

export interface WebhookState {
  /** False until certificates and config are loaded, and again once shutdown begins. */
  ready: boolean;
  /** True once shutdown begins: responses ask the client to close the connection. */
  closing: boolean;
  /** What else must be ready (the node cache's first list), if anything. */
  dependenciesReady?: () => boolean;
}

export interface AppOptions {
  review: () => ReviewOptions;
  logger: Logger;
  metrics: WebhookMetrics;
  state: WebhookState;
  /** Largest accepted request body in bytes. */
  maxBodyBytes: number;
  /** Most bytes of request bodies read at once, over all requests. */
  maxInflightBytes: number;
}

/**
 * The webhook's request listener: the two review endpoints are answered by review_handler.ts
 * before express sees the request; express serves the rest.
 */
export function createApp({ review, logger, metrics, state, maxBodyBytes, maxInflightBytes }: AppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const inflight = new InflightBytes(Math.max(maxInflightBytes, maxBodyBytes));
  const reviews = { review, logger, metrics, closing: () => state.closing, maxBodyBytes, inflight };
  const mutate = reviewHandler(mutatePod, reviews);
  const validate = reviewHandler(validateController, reviews);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((_req, res, next) => {
    if (state.closing) res.set('Connection', 'close');
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const ready = state.ready && (state.dependenciesReady?.() ?? true);
    res.status(ready ? 200 : 503).type('text/plain').send(ready ? 'ok' : 'not ready');
  });

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found: the webhook serves POST /mutate, POST /validate, GET /healthz, GET /readyz' });
  });
  // Anything thrown is logged and answered 500.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err }, 'unexpected error while answering a request');
    if (!res.headersSent) res.status(500).json({ error: 'internal error' });
  });

  return (req, res) => {
    if (req.method === 'POST') {
      const path = req.url?.split('?', 1)[0];
      if (path === '/mutate') return mutate(req, res);
      if (path === '/validate') return validate(req, res);
    }
    app(req, res);
  };
}
