/**
 * A self-signed CA and a serving certificate signed by it, made with `selfsigned` (EC P-256).
 * Used by `k8s-watch-policy certs` for local runs and tests.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import selfsigned from 'selfsigned';

export interface CertificateBundle {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

export interface CertificateOptions {
  /** DNS names and IP addresses of the server (the first is the common name). */
  hosts: string[];
  caDays?: number;
  days?: number;
  now?: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export async function generateCertificates({ hosts, caDays = 3650, days = 365, now = new Date() }: CertificateOptions): Promise<CertificateBundle> {
  if (hosts.length === 0) throw new Error('at least one DNS name or IP address is needed');
  const notBeforeDate = new Date(now.getTime() - 5 * 60 * 1000); // tolerate small clock skew
  // A unique CA name (as kube-apiserver's `<host>@<unix time>`): during a rotation the caBundle
  // holds two CAs, and TLS clients pick the issuer by name before they check the signature.
  const caName = `k8s-watch-policy-ca@${now.getTime()}-${randomBytes(4).toString('hex')}`;
  const ca = await selfsigned.generate([{ name: 'commonName', value: caName }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(now.getTime() + caDays * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const altNames = hosts.map((host) => (isIP(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host }));
  const server = await selfsigned.generate([{ name: 'commonName', value: hosts[0]! }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(now.getTime() + days * DAY_MS),
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { caCert: ca.cert, caKey: ca.private, cert: server.cert, key: server.private };
}
