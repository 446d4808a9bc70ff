/**
 * Self-managed certificates: what the Secret should hold next, as a pure decision plus the step
 * that carries it out. The CA lives long, the serving certificate short and is renewed well before
 * it expires. A CA rotation never breaks a request:
 *
 *   stage-ca:    a new CA is made and added to the trusted bundle (old + new); the webhook still
 *                serves the old chain while the bundle reaches the webhook configurations' caBundle;
 *   switch-ca:   once the bundle is injected and a grace period has passed, the new CA becomes
 *                current and a serving certificate signed by it is issued;
 *   drop-old-ca: after another grace period (every replica has reloaded), the old CA leaves the
 *                bundle.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { CertificateAuthority } from './generate.ts';

export interface TlsMaterial {
  ca: CertificateAuthority;
  cert: string;
  key: string;
  /** The CAs clients must trust (PEM, concatenated): the current one, plus a staged or retiring one. */
  bundle: string;
  next?: CertificateAuthority;
  /** When the next CA was staged, or the current one switched to (ms since epoch). */
  stagedAt?: number;
  switchedAt?: number;
}

export interface RotationPolicy {
  hosts: string[];
  caValidityMs: number;
  servingValidityMs: number;
  /** Renew when less than this is left (defaults: a third of the validity). */
  caRenewBeforeMs: number;
  servingRenewBeforeMs: number;
  /** How long a bundle change is given to reach every client and replica. */
  graceMs: number;
}

/**
 * The rotation policy for certificates of the given validities: each is renewed when a third of
 * it is left, and a new CA bundle gets a tenth of the serving validity (at most 30 s) to reach
 * every client and replica before the serving certificate switches to it.
 */
export function rotationPolicy(hosts: string[], caValidityMs: number, servingValidityMs: number): RotationPolicy {
  return {
    hosts,
    caValidityMs,
    servingValidityMs,
    caRenewBeforeMs: Math.round(caValidityMs / 3),
    servingRenewBeforeMs: Math.round(servingValidityMs / 3),
    graceMs: Math.min(30_000, Math.round(servingValidityMs / 10)),
  };
}

export type Step = 'create' | 'stage-ca' | 'switch-ca' | 'drop-old-ca' | 'renew-serving' | 'none';

export function splitPem(bundle: string): string[] {
  return (
    bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)?.map((c) => c.trim() + '\n') ?? []
  );
}

function expiresWithin(cert: string, ms: number, now: number): boolean {
  return Date.parse(new X509Certificate(cert).validTo) - now < ms;
}

function valid(m: TlsMaterial | undefined): m is TlsMaterial {
  try {
    if (!m) return false;
    new X509Certificate(m.cert); // throws when it does not parse
    return new X509Certificate(m.ca.cert).ca && splitPem(m.bundle).length > 0;
  } catch {
    return false;
  }
}

function coversHosts(cert: string, hosts: string[]): boolean {
  const x = new X509Certificate(cert);
  return hosts.every((h) => (isIP(h) ? x.checkIP(h) !== undefined : x.checkHost(h) !== undefined));
}

export function nextStep(
  m: TlsMaterial | undefined,
  policy: RotationPolicy,
  now: number,
  bundleInjected: boolean,
): Step {
  if (!valid(m) || expiresWithin(m.ca.cert, 0, now)) return 'create';
  if (m.next) return bundleInjected && now - (m.stagedAt ?? 0) >= policy.graceMs ? 'switch-ca' : 'none';
  if (expiresWithin(m.ca.cert, policy.caRenewBeforeMs, now)) return 'stage-ca';
  if (splitPem(m.bundle).length > 1 && now - (m.switchedAt ?? 0) >= policy.graceMs) return 'drop-old-ca';
  const issuedByCurrent = new X509Certificate(m.cert).checkIssued(new X509Certificate(m.ca.cert));
  if (!issuedByCurrent || expiresWithin(m.cert, policy.servingRenewBeforeMs, now) || !coversHosts(m.cert, policy.hosts))
    return 'renew-serving';
  return 'none';
}

/** Carries out a step; returns the new material (the input when the step is `none`). */
export async function applyStep(
  step: Step,
  m: TlsMaterial | undefined,
  policy: RotationPolicy,
  now: number,
): Promise<TlsMaterial | undefined> {
  if (step === 'none' || step === 'drop-old-ca') return step === 'none' ? m : { ...m!, bundle: m!.ca.cert };
  // The generator (selfsigned and its X.509 code, about 8 MB of RSS) is loaded only when a
  // certificate is made: a webhook replica whose Secret is current never loads it.
  const { generateCa, issueServingCertificate } = await import('./generate.ts');
  const at = new Date(now);
  const serve = async (ca: CertificateAuthority) =>
    issueServingCertificate(ca, policy.hosts, policy.servingValidityMs, at);
  switch (step) {
    case 'create': {
      const ca = await generateCa(policy.caValidityMs, at);
      return { ca, ...(await serve(ca)), bundle: ca.cert };
    }
    case 'stage-ca': {
      const next = await generateCa(policy.caValidityMs, at);
      return { ...m!, next, bundle: splitPem(m!.bundle).concat(next.cert).join(''), stagedAt: now };
    }
    case 'switch-ca': {
      const ca = m!.next!;
      return { ca, ...(await serve(ca)), bundle: m!.bundle, switchedAt: now };
    }
    case 'renew-serving':
      return { ...m!, ...(await serve(m!.ca)) };
  }
}
