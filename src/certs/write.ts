/** Writes a certificate bundle as the files a Kubernetes TLS Secret would mount. */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertificateBundle } from './generate.ts';

export const CERT_FILE = 'tls.crt';
export const KEY_FILE = 'tls.key';
export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';

export async function writeCertificates(dir: string, bundle: CertificateBundle): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, string, number][] = [
    [CA_CERT_FILE, bundle.caCert, 0o644],
    [CA_KEY_FILE, bundle.caKey, 0o600],
    [CERT_FILE, bundle.cert, 0o644],
    [KEY_FILE, bundle.key, 0o600],
  ];
  for (const [name, content, mode] of files) {
    await writeFile(join(dir, name), content, { mode });
    await chmod(join(dir, name), mode); // `mode` above only applies to a file that did not exist
  }
  return files.map(([name]) => join(dir, name));
}
