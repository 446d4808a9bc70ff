/**
 * The local cluster's certificates, made with `selfsigned`: one CA, and one "admin" pair (CN
 * kubernetes-admin, O system:masters) that serves kube-apiserver's TLS, authenticates every
 * component and kubectl, and signs service-account tokens — the arrangement kwokctl uses.
 */
import { createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import { PKI_DIR } from './paths.ts';

export interface Pki {
  caCert: string;
  adminCert: string;
  adminKey: string;
  caCertPath: string;
  adminCertPath: string;
  adminKeyPath: string;
  /** The admin key's public half, which verifies service-account tokens. */
  serviceAccountPublicKeyPath: string;
}

const DAY = 24 * 3600 * 1000;

function paths(): Pick<Pki, 'caCertPath' | 'adminCertPath' | 'adminKeyPath' | 'serviceAccountPublicKeyPath'> {
  return {
    caCertPath: join(PKI_DIR, 'ca.crt'),
    adminCertPath: join(PKI_DIR, 'admin.crt'),
    adminKeyPath: join(PKI_DIR, 'admin.key'),
    serviceAccountPublicKeyPath: join(PKI_DIR, 'sa.pub'),
  };
}

/** Reuses the pki of an earlier `up`, or makes one. */
export async function ensurePki(): Promise<Pki> {
  const p = paths();
  if (![p.caCertPath, p.adminCertPath, p.adminKeyPath, p.serviceAccountPublicKeyPath].every(existsSync)) {
    mkdirSync(PKI_DIR, { recursive: true });
    const now = Date.now();
    const validity = { notBeforeDate: new Date(now - 3600_000), notAfterDate: new Date(now + 365 * DAY) };
    const ca = await selfsigned.generate([{ name: 'commonName', value: `k8s-watch-policy-test-ca@${now}` }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ...validity,
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    });
    const admin = await selfsigned.generate(
      [
        { name: 'commonName', value: 'kubernetes-admin' },
        { name: 'organizationName', value: 'system:masters' },
      ],
      {
        keyType: 'ec',
        algorithm: 'sha256',
        ...validity,
        ca: { key: ca.private, cert: ca.cert },
        extensions: [
          { name: 'basicConstraints', cA: false, critical: true },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
          {
            name: 'subjectAltName',
            altNames: [
              { type: 7, ip: '127.0.0.1' },
              { type: 7, ip: '10.96.0.1' },
              { type: 2, value: 'localhost' },
              { type: 2, value: 'kubernetes' },
              { type: 2, value: 'kubernetes.default' },
              { type: 2, value: 'kubernetes.default.svc' },
              { type: 2, value: 'kubernetes.default.svc.cluster.local' },
            ],
          },
        ],
      },
    );
    writeFileSync(p.caCertPath, ca.cert);
    writeFileSync(join(PKI_DIR, 'ca.key'), ca.private, { mode: 0o600 });
    writeFileSync(p.adminCertPath, admin.cert);
    writeFileSync(p.adminKeyPath, admin.private, { mode: 0o600 });
    // kube-apiserver reads public keys (or PKCS#1/SEC1 private keys) here, not PKCS#8.
    writeFileSync(
      p.serviceAccountPublicKeyPath,
      createPublicKey(admin.private).export({ type: 'spki', format: 'pem' }),
    );
  }
  return {
    ...p,
    caCert: readFileSync(p.caCertPath, 'utf8'),
    adminCert: readFileSync(p.adminCertPath, 'utf8'),
    adminKey: readFileSync(p.adminKeyPath, 'utf8'),
  };
}

/**
 * The real node's client pair (CN system:node:<name>, O system:nodes), signed by the cluster CA:
 * the Node authorizer and NodeRestriction treat the kubelet as that node. Reused once made.
 */
export function nodeClientPair(name: string): Promise<{ cert: string; key: string }> {
  return clientPair(`node-${name}`, `system:node:${name}`, 'system:nodes');
}

/**
 * A client pair signed by the cluster CA with the user name `commonName` in the group
 * `organization` (pki/<file>.crt and .key; reused once made): a distinct user in the API server's
 * audit log, e.g. each controller replica of the soak.
 */
export async function clientPair(
  file: string,
  commonName: string,
  organization: string,
): Promise<{ cert: string; key: string }> {
  const certPath = join(PKI_DIR, `${file}.crt`);
  const keyPath = join(PKI_DIR, `${file}.key`);
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    const ca = { cert: readFileSync(paths().caCertPath, 'utf8'), key: readFileSync(join(PKI_DIR, 'ca.key'), 'utf8') };
    const now = Date.now();
    const pair = await selfsigned.generate(
      [
        { name: 'commonName', value: commonName },
        { name: 'organizationName', value: organization },
      ],
      {
        keyType: 'ec',
        algorithm: 'sha256',
        notBeforeDate: new Date(now - 3600_000),
        notAfterDate: new Date(now + 365 * DAY),
        ca,
        extensions: [
          { name: 'basicConstraints', cA: false, critical: true },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', clientAuth: true },
        ],
      },
    );
    writeFileSync(certPath, pair.cert);
    writeFileSync(keyPath, pair.private, { mode: 0o600 });
  }
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

/**
 * A serving pair signed by the cluster CA for these IP addresses (pki/<file>.crt and .key; made
 * anew each time): the local OCI registry of e2e:node, trusted by containerd, helm and cosign
 * through the cluster CA.
 */
export async function serverPair(file: string, ips: readonly string[]): Promise<{ certPath: string; keyPath: string }> {
  const certPath = join(PKI_DIR, `${file}.crt`);
  const keyPath = join(PKI_DIR, `${file}.key`);
  const ca = { cert: readFileSync(paths().caCertPath, 'utf8'), key: readFileSync(join(PKI_DIR, 'ca.key'), 'utf8') };
  const now = Date.now();
  const pair = await selfsigned.generate([{ name: 'commonName', value: file }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 3600_000),
    notAfterDate: new Date(now + 30 * DAY),
    ca,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: ips.map((ip) => ({ type: 7, ip })) },
    ],
  });
  writeFileSync(certPath, pair.cert);
  writeFileSync(keyPath, pair.private, { mode: 0o600 });
  return { certPath, keyPath };
}

/**
 * A kubeconfig for `server` as the given client pair (the admin's by default). `tlsServerName`:
 * the name to verify the serving certificate by, for an address the certificate does not list
 * (the real node reaches kube-apiserver at the host's end of its veth pair).
 */
export function kubeconfigYaml(
  server: string,
  pki: Pki,
  client: { cert: string; key: string; user?: string } = { cert: pki.adminCert, key: pki.adminKey },
  tlsServerName?: string,
): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: k8s-watch-policy
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(pki.caCert)}${tlsServerName ? `\n    tls-server-name: ${tlsServerName}` : ''}
users:
- name: ${client.user ?? 'kubernetes-admin'}
  user:
    client-certificate-data: ${b64(client.cert)}
    client-key-data: ${b64(client.key)}
contexts:
- name: k8s-watch-policy
  context:
    cluster: k8s-watch-policy
    user: ${client.user ?? 'kubernetes-admin'}
current-context: k8s-watch-policy
`;
}
