/**
 * Whether a caBundle trusts a serving certificate: one of the bundle's CAs issued it and signed it.
 * The webhook's readiness (ca_bundle_gate.ts) and `check` both ask this of the webhook
 * configurations, so that neither calls a webhook ready that the API server would refuse to trust.
 */
import { X509Certificate } from 'node:crypto';
import { splitPem } from './rotation.ts';

/** The certificates of a PEM bundle that parse (a bad block is skipped, not thrown). */
function certificates(pem: string): X509Certificate[] {
  return splitPem(pem).flatMap((block) => {
    try {
      return [new X509Certificate(block)];
    } catch {
      return [];
    }
  });
}

/** `caBundle` as it sits in a webhook configuration: base64 of PEM; empty or missing trusts nothing. */
export function bundleTrusts(caBundle: string | undefined, servingCertPem: string): boolean {
  if (!caBundle) return false;
  const [leaf] = certificates(servingCertPem);
  if (!leaf) return false;
  const pem = Buffer.from(caBundle, 'base64').toString('utf8');
  return certificates(pem).some((ca) => ca.ca && leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
}

export interface WebhookConfigurationBundles {
  name: string;
  webhooks: { name: string; caBundle?: string }[];
}

/** The webhooks (`configuration: webhook`) whose caBundle does not trust the certificate; none found is itself a finding. */
export function untrustingWebhooks(
  configurations: readonly WebhookConfigurationBundles[],
  servingCertPem: string,
): string[] {
  if (configurations.length === 0) return ['(no webhook configuration selected)'];
  return configurations.flatMap((c) =>
    c.webhooks.filter((w) => !bundleTrusts(w.caBundle, servingCertPem)).map((w) => `${c.name}: ${w.name}`),
  );
}
