/**
 * The webhook's HTTPS application: `POST /mutate`, `POST /validate` (review_handler.ts) on the
 * fast path, `GET /healthz`, `GET /readyz` on express. Every bad request gets a JSON `{"error": reason}` with 400 (413
 * for a body over the limit, 429 with Retry-After past the bytes in flight), and one structured
 * log line is written per review.
 */
import type { NextFunction, Request, Response, Express } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { plainApp } from '../http/plain_app.ts';
import { mutatePod } from './mutate.ts';
import { validateController } from './validate.ts';
import type { ReviewOptions } from '../admission/review_pod.ts';
import type { Logger } from '../log.ts';
import type { WebhookMetrics } from './metrics.ts';
import { InflightBytes } from './json_body.ts';
import { reviewHandler, sendJson } from './review_handler.ts';

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
 * The webhook's request listener. `POST /mutate` and `POST /validate` go straight to
 * review_handler.ts on node:https's own objects: the measured fast path (express's router and
 * body parser cost about a fifth of the CPU of a review). Everything else (the probes, the 404s,
 * the error answers) is an express 5 app ({@link probesApp}).
 */
export function createApp({
  review,
  logger,
  metrics,
  state,
  maxBodyBytes,
  maxInflightBytes,
}: AppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const inflight = new InflightBytes(Math.max(maxInflightBytes, maxBodyBytes));
  const reviews = { review, logger, metrics, closing: () => state.closing, maxBodyBytes, inflight };
  const mutate = reviewHandler(mutatePod, reviews);
  const validate = reviewHandler(validateController, reviews);
  const rest = probesApp(state, logger);

  return (req, res) => {
    if (req.method === 'POST') {
      const path = req.url?.split('?', 1)[0];
      if (path === '/mutate') return mutate(req, res);
      if (path === '/validate') return validate(req, res);
    }
    rest(req, res);
  };
}

const NOT_FOUND = 'not found: the webhook serves POST /mutate, POST /validate, GET /healthz, GET /readyz';

/**
 * `GET /healthz` (liveness) and `GET /readyz` (readiness), HEAD like GET, in plain text; anything
 * else a JSON 404; anything thrown a JSON 500, logged. A stray request's body is read and dropped.
 */
function probesApp(state: WebhookState, logger: Logger): Express {
  const app = plainApp();
  app.use((req, res, next) => {
    req.resume();
    if (state.closing) res.set('Connection', 'close');
    next();
  });
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const ready = state.ready && (state.dependenciesReady?.() ?? true);
    res
      .status(ready ? 200 : 503)
      .type('text/plain')
      .send(ready ? 'ok' : 'not ready');
  });
  app.use((_req, res) => sendJson(res, 404, { error: NOT_FOUND }, state.closing));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err }, 'unexpected error while answering a request');
    if (!res.headersSent) sendJson(res, 500, { error: 'internal error' }, true);
  });
  return app;
}
