/**
 * `POST /mutate` and `POST /validate`: one AdmissionReview in, one out, on Node's own request and
 * response objects (app.ts routes them here, before its express app sees them). No framework on
 * this path: express (router, request/response prototypes, body-parser, res.json) cost about 20 %
 * of the server's CPU per review (docs/bench/history.md).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BadAdmissionReview,
  parseAdmissionReview,
  type AdmissionOutcome,
  type AdmissionRequest,
} from './admission_review.ts';
import type { ReviewOptions } from '../admission/review_pod.ts';
import type { Logger } from '../log.ts';
import { clip, operationLabel, resourceLabel } from './bounded_labels.ts';
import { BodyError, readJsonBody, type InflightBytes } from './json_body.ts';
import type { WebhookMetrics } from './metrics.ts';

export type Endpoint = (request: AdmissionRequest, options: ReviewOptions) => AdmissionOutcome;

export interface ReviewHandlerOptions {
  review: () => ReviewOptions;
  logger: Logger;
  metrics: WebhookMetrics;
  /** True once shutdown begins: answers ask the client to close the connection. */
  closing: () => boolean;
  /** Largest accepted request body in bytes. */
  maxBodyBytes: number;
  /** The bytes of bodies being read, shared by both endpoints (429 beyond its limit). */
  inflight: InflightBytes;
}

/** Writes a JSON answer; `close` ends the connection after it. */
export function sendJson(res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...(close && { Connection: 'close' }),
    ...(status === 429 && { 'Retry-After': '1' }),
  });
  res.end(text);
}

export function reviewHandler(
  endpoint: Endpoint,
  { review, logger, metrics, closing, maxBodyBytes, inflight }: ReviewHandlerOptions,
) {
  const countError = () => metrics.reviews.inc({ resource: '', operation: '', result: 'error' });
  // A rejected body may still be partly on the wire: such answers close the connection.
  const refuse = (res: ServerResponse, status: number, error: string) => {
    countError();
    sendJson(res, status, { error }, true);
  };

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // The review's duration counts from the request's arrival: reading and parsing the body included.
    const started = process.hrtime.bigint();
    let request: AdmissionRequest;
    try {
      request = parseAdmissionReview(await readJsonBody(req, maxBodyBytes, inflight));
    } catch (e) {
      if (e instanceof BodyError) return refuse(res, e.status, e.message);
      if (e instanceof BadAdmissionReview) return refuse(res, 400, e.message);
      throw e;
    }
    const outcome = endpoint(request, review());
    sendJson(res, 200, outcome.response, closing());
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // Only known values become labels: every distinct label value is a series kept forever.
    const resource = resourceLabel(request.resource.resource);
    metrics.reviews.inc({ resource, operation: operationLabel(request.operation), result: outcome.result });
    metrics.duration.observe({ resource }, seconds);
    const decision = outcome.review?.decision;
    if (outcome.review?.injected && decision && !request.dryRun) {
      metrics.injections.inc({ policy: outcome.review.injected, rule: decision.rule });
    }
    const object = request.object?.metadata;
    // Every field from the request is clipped: a caller decides their length, not the log.
    logger.info(
      {
        uid: clip(request.uid),
        resource: clip(request.resource.resource),
        operation: clip(request.operation),
        namespace: clip(request.namespace ?? object?.namespace),
        name: clip(request.name || object?.name || object?.generateName),
        result: outcome.result,
        ...(decision && { policy: decision.policy, rule: decision.rule }),
        ...(outcome.response.response.warnings && { warnings: outcome.response.response.warnings.length }),
        ...(request.dryRun && { dryRun: true }),
        durationMs: Math.round(seconds * 1e6) / 1e3,
      },
      'admission review',
    );
  };

  // Anything else thrown is a bug: logged and answered 500, never a crash or a hung request.
  return (req: IncomingMessage, res: ServerResponse): void => {
    answer(req, res).catch((err: unknown) => {
      countError();
      logger.error({ err }, 'unexpected error while answering a review');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' }, true);
      else res.destroy();
    });
  };
}
