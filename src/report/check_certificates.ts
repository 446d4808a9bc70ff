/** `check`'s certificate findings: the caBundle trusts what is served, the dates, the names. */
import { X509Certificate } from 'node:crypto';
import { bundleTrusts } from '../certs/bundle_trust.ts';
import { splitPem } from '../certs/rotation.ts';
import { fail, ok, skip, warn, type Finding } from './check_finding.ts';
import type { CheckInput } from './check_report.ts';

const DAY = 86_400_000;

function daysLeft(cert: X509Certificate, now: number): number {
  return Math.floor((Date.parse(cert.validTo) - now) / DAY);
}

function expiry(name: string, what: string, cert: X509Certificate, now: number, fix = RENEW): Finding {
  const days = daysLeft(cert, now);
  const seen = `${what} expires ${cert.validTo} (${days} day${days === 1 ? '' : 's'} left)`;
  if (days < 7) return fail(name, seen, fix);
  if (days < 30) return warn(name, seen, fix);
  return ok(name, seen);
}

const RENEW =
  'self-managed certificates renew themselves (a third before the end): if not, see the webhook logs; with cert-manager: cmctl renew';

/** The caBundle, the served certificate's dates and names, and the CAs' dates. */
/** The fix for a caBundle or serving certificate that does not fit: a new pair from the webhook or cert-manager. */
function newPair(input: CheckInput): string {
  const ns = input.release?.namespace ?? '<namespace>';
  return `kubectl -n ${ns} delete secret <the webhook's TLS Secret, ${input.release?.name ?? 'release'}-*-webhook-tls> (self-managed: the webhook makes a new pair and injects its CA; cert-manager reissues it)`;
}

function trustFinding(input: CheckInput, cert: string, from: string): Finding {
  const untrusting = input.webhooks.filter((w) => !bundleTrusts(w.caBundle, cert));
  if (untrusting.length === 0)
    return ok(
      'ca-bundle',
      `the caBundle of all ${input.webhooks.length} webhooks trusts the served certificate (${from})`,
    );
  const which = untrusting.map((w) => `${w.configuration}: ${w.name}`).join(', ');
  return fail(
    'ca-bundle',
    `the caBundle of ${which} does not trust the certificate served (${from}): the API server refuses to call it`,
    newPair(input),
  );
}

/** The serving certificate names the Service the API server calls. */
function namesFinding(input: CheckInput, leaf: X509Certificate): Finding[] {
  const svc = input.webhooks.find((w) => w.service)?.service;
  if (!svc) return [];
  const dns = `${svc.name}.${svc.namespace}.svc`;
  if (leaf.checkHost(dns) !== undefined) return [ok('serving-names', `the serving certificate names ${dns}`)];
  const names = leaf.subjectAltName ?? 'no subjectAltName';
  return [fail('serving-names', `the serving certificate does not name ${dns} (${names})`, newPair(input))];
}

/** The dates of the CAs in the caBundle that issued the served certificate. */
function caFindings(input: CheckInput, leaf: X509Certificate): Finding[] {
  const bundle = input.webhooks.find((w) => w.caBundle)?.caBundle;
  const pems = bundle ? splitPem(Buffer.from(bundle, 'base64').toString('utf8')) : [];
  return pems.flatMap((pem) => {
    try {
      const ca = new X509Certificate(pem);
      return leaf.checkIssued(ca)
        ? [expiry('ca-certificate', `the CA ${ca.subject.replace(/\n/g, ', ')}`, ca, input.now)]
        : [];
    } catch {
      return []; // a block that does not parse trusts nothing: the ca-bundle finding says so
    }
  });
}

export function certificateFindings(input: CheckInput): Finding[] {
  const { served } = input;
  if (input.webhooks.length === 0) return [];
  if (!served.cert) return [skip('ca-bundle', `cannot see the served certificate: ${served.from}`)];
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(served.cert);
  } catch {
    return [fail('serving-certificate', `the certificate from ${served.from} does not parse`, newPair(input))];
  }
  return [
    trustFinding(input, served.cert, served.from),
    expiry('serving-certificate', 'the serving certificate', leaf, input.now),
    ...namesFinding(input, leaf),
    ...caFindings(input, leaf),
  ];
}
