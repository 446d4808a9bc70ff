/**
 * An express 5 app for the HTTP routes that are not the admission hot path (the webhook's probes
 * and 404s, its metrics port, the controller's status server): exact paths, as the hand-written
 * handlers had them (`/healthz` only, not `/HEALTHZ` or `/healthz/`), no `X-Powered-By`, no ETag.
 */
import express, { type Express } from 'express';

export function plainApp(): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  return app;
}
