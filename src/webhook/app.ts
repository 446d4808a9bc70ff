/**
 * The webhook's HTTPS application: `POST /mutate`, `POST /validate` (review_handler.ts),
 * `GET /healthz`, `GET /readyz`. Every bad request gets a JSON `{"error": reason}` with 400 (413
 * for a body over the limit, 429 with Retry-After past the bytes in flight), and one structured
 * log line is written per review.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mutatePod, validateController } from './admission_review.ts';
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
 * The webhook's request listener. The review endpoints go to review_handler.ts; `/healthz` and
 * `/readyz` (GET or HEAD) answer plain text; anything else is a JSON 404. No framework: express
 * served only these probes and the 404s, and loading it cost the webhook about 7 MB of its idle
 * RSS (docs/bench/admission.md).
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

  const text = (req: IncomingMessage, res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      ...(state.closing && { Connection: 'close' }),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  return (req, res) => {
    const path = req.url?.split('?', 1)[0];
    if (req.method === 'POST') {
      if (path === '/mutate') return mutate(req, res);
      if (path === '/validate') return validate(req, res);
    }
    // A probe or a stray request: its body, if any, is read and dropped.
    req.resume();
    try {
      if ((req.method === 'GET' || req.method === 'HEAD') && path === '/healthz') return text(req, res, 200, 'ok');
      if ((req.method === 'GET' || req.method === 'HEAD') && path === '/readyz') {
        const ready = state.ready && (state.dependenciesReady?.() ?? true);
        return text(req, res, ready ? 200 : 503, ready ? 'ok' : 'not ready');
      }
      sendJson(res, 404, { error: NOT_FOUND }, state.closing);
    } catch (err) {
      // Anything thrown is logged and answered 500.
      logger.error({ err }, 'unexpected error while answering a request');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' }, true);
    }
  };
}

const NOT_FOUND = 'not found: the webhook serves POST /mutate, POST /validate, GET /healthz, GET /readyz';
