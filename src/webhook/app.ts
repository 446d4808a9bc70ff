/**
 * The express application of the webhook: `POST /mutate`, `POST /validate`, `GET /healthz`,
 * `GET /readyz`. Every bad request gets a JSON `{"error": reason}` with 400 (or 413 for a body
 * over the limit), and one structured log line is written per review.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  BadAdmissionReview,
  mutatePod,
  parseAdmissionReview,
  validateController,
  type AdmissionOutcome,
  type AdmissionRequest,
} from '../admission/admission_review.js';
import type { ReviewOptions } from '../admission/review_pod.js';
import type { Logger } from '../log.js';
import type { WebhookMetrics } from './metrics.js';

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
}

type Endpoint = (request: AdmissionRequest, options: ReviewOptions) => AdmissionOutcome;

function badRequest(res: Response, status: number, error: string): void {
  // The rest of a rejected body may still be on the wire: do not reuse the connection.
  res.set('Connection', 'close').status(status).json({ error });
}

export function createApp({ review, logger, metrics, state, maxBodyBytes }: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((_req, res, next) => {
    // The review's duration counts from the request's arrival: reading and parsing the body included.
    res.locals.started = process.hrtime.bigint();
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

  const requireJson = (req: Request, res: Response, next: NextFunction) => {
    if (req.is('application/json')) return next();
    metrics.reviews.inc({ resource: '', operation: '', result: 'error' });
    badRequest(res, 400, `Content-Type must be application/json, got ${JSON.stringify(req.get('content-type') ?? '')}`);
  };
  const json = express.json({ limit: maxBodyBytes, type: () => true, strict: false });

  const handle = (endpoint: Endpoint) => (req: Request, res: Response) => {
    const started = res.locals.started as bigint;
    let request: AdmissionRequest;
    try {
      request = parseAdmissionReview(req.body);
    } catch (e) {
      if (!(e instanceof BadAdmissionReview)) throw e;
      metrics.reviews.inc({ resource: '', operation: '', result: 'error' });
      badRequest(res, 400, e.message);
      return;
    }
    const resource = request.resource.resource;
    const outcome = endpoint(request, review());
    res.json(outcome.response);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.reviews.inc({ resource, operation: request.operation, result: outcome.result });
    metrics.duration.observe({ resource }, seconds);
    const decision = outcome.review?.decision;
    if (outcome.review?.injected && decision && !request.dryRun) {
      metrics.injections.inc({ policy: outcome.review.injected, rule: decision.rule });
    }
    const object = request.object?.metadata;
    logger.info(
      {
        uid: request.uid,
        resource,
        operation: request.operation,
        namespace: request.namespace ?? object?.namespace,
        name: request.name || object?.name || object?.generateName,
        result: outcome.result,
        ...(decision && { policy: decision.policy, rule: decision.rule }),
        ...(outcome.response.response.warnings && { warnings: outcome.response.response.warnings.length }),
        ...(request.dryRun && { dryRun: true }),
        durationMs: Math.round(seconds * 1e6) / 1e3,
      },
      'admission review',
    );
  };

  app.post('/mutate', requireJson, json, handle(mutatePod));
  app.post('/validate', requireJson, json, handle(validateController));

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found: the webhook serves POST /mutate, POST /validate, GET /healthz, GET /readyz' });
  });
  // Body errors answer 400/413 with the reason; anything else thrown is logged and answered 500.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    metrics.reviews.inc({ resource: '', operation: '', result: 'error' });
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.too.large') return badRequest(res, 413, `request body is larger than ${maxBodyBytes} bytes`);
    if (e.type === 'entity.parse.failed') return badRequest(res, 400, `body is not valid JSON: ${e.message ?? 'parse error'}`);
    if (typeof e.type === 'string' && e.status !== undefined && e.status >= 400 && e.status < 500) {
      return badRequest(res, 400, e.message ?? 'cannot read the request body');
    }
    logger.error({ err }, 'unexpected error while answering a request');
    if (!res.headersSent) res.status(500).json({ error: 'internal error' });
  });
  return app;
}
