/** A serving key pair as the HTTPS server uses it, and where it comes from (files or a Secret). */
import { createHash, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';

export interface KeyPair {
  key: string;
  cert: string;
  /** sha256 of key and certificate, to tell a change from a touch. */
  digest: string;
  notAfter: string;
  /** When the CA that signed it expires, where the source holds the CA (ca.crt beside tls.crt). */
  caNotAfter?: string;
}

/** Where the HTTPS server gets its key pair: files (CertificateReloader) or a Secret (SecretKeyPairs). */
export interface KeyPairSource {
  /** The current pair; undefined until the first one is known. */
  readonly pair: KeyPair | undefined;
  /** Called with every new valid pair. */
  onChange(listener: (pair: KeyPair) => void): void;
  /**
   * Resolves once the source has read what it holds (a Secret's first list), or when `signal`
   * aborts first: a pair that already exists is then served from the start, without a throwaway.
   */
  firstRead?(signal: AbortSignal): Promise<void>;
  stop(): void | Promise<void>;
}

/**
 * A checked key pair from PEM text: throws when it does not parse or the key does not match the
 * certificate. `caCert`, when known, gives the CA's expiry (a CA that does not parse is left out).
 */
export function keyPairOf(key: string, cert: string, caCert?: string): KeyPair {
  const x509 = new X509Certificate(cert);
  createSecureContext({ key, cert }); // throws when the key does not match the certificate
  const digest = createHash('sha256').update(key).update('\0').update(cert).digest('hex');
  const pair: KeyPair = { key, cert, digest, notAfter: x509.validTo };
  if (caCert) {
    try {
      pair.caNotAfter = new X509Certificate(caCert).validTo;
    } catch {
      // not a certificate: its expiry is unknown, the pair still serves
    }
  }
  return pair;
}
