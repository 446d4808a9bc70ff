/** The webhook's Prometheus metrics (DESIGN §8), on a registry of their own. */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { METRIC_PREFIX } from '../metric_prefix.ts';

export interface WebhookMetrics {
  registry: Registry;
  reviews: Counter<'resource' | 'operation' | 'result'>;
  duration: Histogram<'resource'>;
  injections: Counter<'policy' | 'rule'>;
}

export function createWebhookMetrics(): WebhookMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    reviews: new Counter({
      name: `${METRIC_PREFIX}admission_reviews_total`,
      help: 'Admission reviews answered, by resource, operation and result (patched, unchanged, denied, error).',
      labelNames: ['resource', 'operation', 'result'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: `${METRIC_PREFIX}admission_duration_seconds`,
      help: 'Time to answer an admission review, from the request to the response.',
      labelNames: ['resource'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    injections: new Counter({
      name: `${METRIC_PREFIX}injections_total`,
      help: 'Pods whose agent containers got K8S_WATCH_POLICY written, by policy and rule (dry runs excluded).',
      labelNames: ['policy', 'rule'],
      registers: [registry],
    }),
  };
}
