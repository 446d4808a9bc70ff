/**
 * Certificates made with `selfsigned` (EC P-256): a self-signed CA, and serving certificates
 * signed by a CA. Used by `k8s-watch-policy certs` (local runs, tests) and by the webhook's
 * self-managed certificates.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import selfsigned from 'selfsigned';

export interface CertificateAuthority {
  cert: string;
  key: string;
}

export interface CertificateBundle {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Tolerates small clock skew between this host and the clients. */
const BACKDATE_MS = 5 * 60 * 1000;

export async function generateCa(validityMs: number, now = new Date()): Promise<CertificateAuthority> {
  // A unique CA name (as kube-apiserver's `<host>@<unix time>`): during a rotation the caBundle
  // holds two CAs, and TLS clients pick the issuer by name before they check the signature.
  const name = `k8s-watch-policy-ca@${now.getTime()}-${randomBytes(4).toString('hex')}`;
  const ca = await selfsigned.generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - BACKDATE_MS),
    notAfterDate: new Date(now.getTime() + validityMs),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: ca.cert, key: ca.private };
}

/** A serving certificate for `hosts` (DNS names and IP addresses; the first is the common name). */
export async function issueServingCertificate(
  ca: CertificateAuthority,
  hosts: string[],
  validityMs: number,
  now = new Date(),
): Promise<{ cert: string; key: string }> {
  if (hosts.length === 0) throw new Error('at least one DNS name or IP address is needed');
  const altNames = hosts.map((host) =>
    isIP(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host },
  );
  const server = await selfsigned.generate([{ name: 'commonName', value: hosts[0]! }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - BACKDATE_MS),
    notAfterDate: new Date(now.getTime() + validityMs),
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: server.cert, key: server.private };
}

export interface CertificateOptions {
  hosts: string[];
  caDays?: number;
  days?: number;
  now?: Date;
}

/** A new CA and a serving certificate signed by it. */
export async function generateCertificates({
  hosts,
  caDays = 3650,
  days = 365,
  now = new Date(),
}: CertificateOptions): Promise<CertificateBundle> {
  if (hosts.length === 0) throw new Error('at least one DNS name or IP address is needed');
  const ca = await generateCa(caDays * DAY_MS, now);
  const serving = await issueServingCertificate(ca, hosts, days * DAY_MS, now);
  return { caCert: ca.cert, caKey: ca.key, cert: serving.cert, key: serving.key };
}
