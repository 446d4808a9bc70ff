/**
 * The Secret that holds the webhook's self-managed certificates (type kubernetes.io/tls, so it
 * can also be mounted and read with --cert-dir): tls.crt, tls.key, ca.crt (the signing CA),
 * ca.key, ca-bundle.crt (what clients trust), and next-ca.crt/next-ca.key during a CA rotation.
 */
import type { KubeObject } from '../kube/objects.ts';
import type { TlsMaterial } from './rotation.ts';

export interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

const STAGED_AT = 'deepflow.io/ca-staged-at';
const SWITCHED_AT = 'deepflow.io/ca-switched-at';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

export function materialOf(secret: Secret | undefined): TlsMaterial | undefined {
  const d = secret?.data;
  const [caCert, caKey, cert, key, bundle] = ['ca.crt', 'ca.key', 'tls.crt', 'tls.key', 'ca-bundle.crt'].map((k) =>
    unb64(d?.[k]),
  );
  if (!caCert || !caKey || !cert || !key || !bundle) return undefined;
  const nextCert = unb64(d?.['next-ca.crt']);
  const nextKey = unb64(d?.['next-ca.key']);
  const a = secret?.metadata?.annotations ?? {};
  return {
    ca: { cert: caCert, key: caKey },
    cert,
    key,
    bundle,
    ...(nextCert && nextKey && { next: { cert: nextCert, key: nextKey } }),
    ...(a[STAGED_AT] && { stagedAt: Number(a[STAGED_AT]) }),
    ...(a[SWITCHED_AT] && { switchedAt: Number(a[SWITCHED_AT]) }),
  };
}

/** The Secret with `m` written into it (everything else, resourceVersion included, kept). */
export function secretWith(
  existing: Secret | undefined,
  namespace: string,
  name: string,
  m: TlsMaterial,
  labels: Record<string, string>,
): Secret {
  const annotations: Record<string, string> = { ...existing?.metadata?.annotations };
  delete annotations[STAGED_AT];
  delete annotations[SWITCHED_AT];
  if (m.stagedAt !== undefined && m.next) annotations[STAGED_AT] = String(m.stagedAt);
  if (m.switchedAt !== undefined) annotations[SWITCHED_AT] = String(m.switchedAt);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    ...existing,
    metadata: {
      ...existing?.metadata,
      name,
      namespace,
      labels: { ...existing?.metadata?.labels, ...labels },
      annotations,
    },
    type: existing?.type ?? 'kubernetes.io/tls',
    data: {
      'tls.crt': b64(m.cert),
      'tls.key': b64(m.key),
      'ca.crt': b64(m.ca.cert),
      'ca.key': b64(m.ca.key),
      'ca-bundle.crt': b64(m.bundle),
      ...(m.next && { 'next-ca.crt': b64(m.next.cert), 'next-ca.key': b64(m.next.key) }),
    },
  };
}
