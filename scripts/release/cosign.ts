/**
 * cosign, as the release runs it: signing an image or chart by digest and attaching an SBOM as
 * an attestation, with a key (COSIGN_PASSWORD for its password) or keyless (the CI's OIDC
 * identity, Fulcio and Rekor). With a key nothing is uploaded to a transparency log: a private
 * registry's release must not publish its names; verify those with --insecure-ignore-tlog.
 */
import { spawnSync } from 'node:child_process';

export type Signer = { key: string } | { keyless: true };

export interface CosignEnv {
  cosign: string;
  /** A CA bundle for the registry (SSL_CERT_FILE of cosign, a Go program). */
  caFile?: string;
}

export function runCosign(env: CosignEnv, args: string[], input?: string): { status: number; output: string } {
  const r = spawnSync(env.cosign, args, {
    encoding: 'utf8',
    input,
    env: {
      ...process.env,
      COSIGN_PASSWORD: process.env.COSIGN_PASSWORD ?? '',
      ...(env.caFile ? { SSL_CERT_FILE: env.caFile } : {}),
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw new Error(`cosign (${env.cosign}): ${r.error.message}`);
  return { status: r.status ?? 1, output: `${r.stdout}${r.stderr}` };
}

function must(env: CosignEnv, args: string[]): string {
  const r = runCosign(env, args);
  if (r.status !== 0) throw new Error(`cosign ${args.join(' ')} failed (exit ${r.status}):\n${r.output.trim()}`);
  return r.output;
}

const signerArgs = (signer: Signer) => ('key' in signer ? ['--key', signer.key, '--tlog-upload=false'] : []);

/** `cosign login`: the registry's credentials into the docker config cosign reads (password on standard input). */
export function login(env: CosignEnv, host: string, username: string, password: string): void {
  const r = runCosign(env, ['login', host, '--username', username, '--password-stdin'], password);
  if (r.status !== 0) throw new Error(`cosign login ${host} failed (exit ${r.status}):\n${r.output.trim()}`);
}

/** Signs `ref` (repository@sha256:...). */
export function sign(env: CosignEnv, signer: Signer, ref: string, annotations: Record<string, string> = {}): void {
  const extra = Object.entries(annotations).flatMap(([k, v]) => ['-a', `${k}=${v}`]);
  must(env, ['sign', '--yes', ...signerArgs(signer), ...extra, ref]);
}

/** Attaches the CycloneDX SBOM in `predicateFile` to `ref` as a signed in-toto attestation. */
export function attest(env: CosignEnv, signer: Signer, ref: string, predicateFile: string): void {
  must(env, ['attest', '--yes', ...signerArgs(signer), '--type', 'cyclonedx', '--predicate', predicateFile, ref]);
}

/** Signs a file offline (no registry): the signature as base64 in `signatureFile`. */
export function signBlob(env: CosignEnv, key: string, file: string, signatureFile: string): void {
  must(env, ['sign-blob', '--yes', '--key', key, '--tlog-upload=false', '--output-signature', signatureFile, file]);
}
