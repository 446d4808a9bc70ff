/**
 * Keeps the HTTPS server's key and certificate in step with the files on disk.
 *
 * The files are re-read when the directory changes (fs.watch; a mounted Secret is updated by an
 * atomic symlink swap) and on a poll interval as a fallback. A new pair replaces the server's
 * secure context only when it parses and the key matches the certificate; connections already
 * open keep their context, so no request in flight is dropped. A bad pair is logged and ignored.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { keyPairOf, type KeyPair, type KeyPairSource } from '../certs/key_pair.ts';
import { CA_CERT_FILE, CERT_FILE, KEY_FILE } from '../certs/write.ts';
import type { Logger } from '../log.ts';

/** tls.crt and tls.key of the directory, and ca.crt when it is there (cert-manager's Secrets have it). */
export async function readKeyPair(certDir: string): Promise<KeyPair> {
  const [cert, key, ca] = await Promise.all([
    readFile(join(certDir, CERT_FILE), 'utf8'),
    readFile(join(certDir, KEY_FILE), 'utf8'),
    readFile(join(certDir, CA_CERT_FILE), 'utf8').catch(() => undefined),
  ]);
  return keyPairOf(key, cert, ca);
}

export interface CertificateReloaderOptions {
  certDir: string;
  logger: Logger;
  pollIntervalMs?: number;
}

export class CertificateReloader implements KeyPairSource {
  private readonly listeners: ((pair: KeyPair) => void)[] = [];
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private again = false;

  private constructor(
    private readonly options: CertificateReloaderOptions,
    private current: KeyPair,
  ) {}

  /** Reads the first pair (failing loudly when it is missing or bad) and starts watching. */
  static async start(options: CertificateReloaderOptions): Promise<CertificateReloader> {
    const reloader = new CertificateReloader(options, await readKeyPair(options.certDir));
    reloader.watchForChanges();
    return reloader;
  }

  get pair(): KeyPair {
    return this.current;
  }

  onChange(listener: (pair: KeyPair) => void): void {
    this.listeners.push(listener);
  }

  private watchForChanges(): void {
    try {
      this.watcher = watch(this.options.certDir, () => void this.check());
      this.watcher.on('error', (err) =>
        this.options.logger.warn({ err }, 'certificate directory watch failed; polling only'),
      );
    } catch (err) {
      this.options.logger.warn({ err }, 'cannot watch certificate directory; polling only');
    }
    this.timer = setInterval(() => void this.check(), this.options.pollIntervalMs ?? 10_000);
    this.timer.unref();
  }

  /** Re-reads the files now; concurrent calls coalesce into one more read. */
  check(): Promise<void> {
    if (this.checking) {
      this.again = true;
      return this.checking;
    }
    this.checking = (async () => {
      do {
        this.again = false;
        await this.reload();
      } while (this.again);
    })().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async reload(): Promise<void> {
    let pair: KeyPair;
    try {
      pair = await readKeyPair(this.options.certDir);
    } catch (err) {
      this.options.logger.error(
        { err, certDir: this.options.certDir },
        'cannot load new certificate; keeping the current one',
      );
      return;
    }
    if (pair.digest === this.current.digest) return;
    this.current = pair;
    this.options.logger.info({ notAfter: pair.notAfter }, 'serving certificate reloaded');
    for (const listener of this.listeners) listener(pair);
  }

  stop(): void {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
  }
}

/**
 * TLS 1.2 with ECDHE and AEAD suites only (Mozilla's "intermediate" profile, as kube-apiserver's
 * own default list), and TLS 1.3. Without a list Node also accepts the CBC-SHA1 suites of TLS 1.2.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export function secureContextOptions(pair: KeyPair): SecureContextOptions {
  return { key: pair.key, cert: pair.cert, minVersion: 'TLSv1.2', ciphers: TLS12_CIPHERS, honorCipherOrder: true };
}
