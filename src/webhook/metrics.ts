/** The webhook's Prometheus metrics (DESIGN §8), on a registry of their own. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { KeyPair } from '../certs/key_pair.ts';
import { METRIC_PREFIX } from '../metric_prefix.ts';

export interface WebhookMetrics {
  registry: Registry;
  reviews: Counter<'resource' | 'operation' | 'result'>;
  duration: Histogram<'resource'>;
  injections: Counter<'policy' | 'rule'>;
  certificateExpiry: Gauge<'certificate'>;
}

/** The expiry of the pair the webhook serves and of its CA, in seconds since the epoch; absent while unknown. */
export function certificateExpiries(pair: KeyPair | undefined): { certificate: 'ca' | 'serving'; seconds: number }[] {
  const out: { certificate: 'ca' | 'serving'; seconds: number }[] = [];
  for (const [certificate, notAfter] of [
    ['serving', pair?.notAfter],
    ['ca', pair?.caNotAfter],
  ] as const) {
    const ms = notAfter ? Date.parse(notAfter) : NaN;
    if (Number.isFinite(ms)) out.push({ certificate, seconds: ms / 1000 });
  }
  return out;
}

/** `servedPair` is read at every scrape: the expiry follows the certificate the server holds now. */
export function createWebhookMetrics(servedPair: () => KeyPair | undefined = () => undefined): WebhookMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    certificateExpiry: new Gauge({
      name: `${METRIC_PREFIX}certificate_expiry_timestamp_seconds`,
      help: 'When the certificate the webhook serves (serving) and the CA that signed it (ca) expire, in seconds since the epoch.',
      labelNames: ['certificate'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { certificate, seconds } of certificateExpiries(servedPair())) this.set({ certificate }, seconds);
      },
    }),
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
      // Up to the webhook's timeoutSeconds (10 by default): the latency alert compares the p99 with it.
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 5, 10],
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
