/** Test helpers for the webhook server: real certificates, real TLS, raw HTTPS requests. */
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest, type Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { generateCertificates, type CertificateBundle } from '../../src/certs/generate.ts';
import { writeCertificates } from '../../src/certs/write.ts';
import { defaultConfig } from '../../src/config/config.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { startWebhookServer, type WebhookServer, type WebhookServerOptions } from '../../src/webhook/server.ts';

export async function tempCertDir(): Promise<{ dir: string; bundle: CertificateBundle; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kwp-certs-'));
  const bundle = await generateCertificates({ hosts: ['localhost', '127.0.0.1'] });
  await writeCertificates(dir, bundle);
  return { dir, bundle, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Replaces tls.crt and tls.key the way a Secret volume does: new files renamed into place. */
export async function replaceKeyPair(dir: string, bundle: CertificateBundle): Promise<void> {
  await writeFile(join(dir, 'tls.crt.new'), bundle.cert);
  await writeFile(join(dir, 'tls.key.new'), bundle.key);
  await rename(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
  await rename(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
}

export async function fixture(name: string): Promise<Record<string, any>> {
  return JSON.parse(await readFile(new URL(`../fixtures/admission/${name}`, import.meta.url), 'utf8'));
}

/** A logger whose JSON lines are kept for assertions. */
export function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger('info', stream), lines };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export interface RequestOptions {
  method?: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  ca: string | string[];
  agent?: Agent;
  timeoutMs?: number;
}

/** One HTTPS request with a hard timeout, so a hung connection fails the test instead of hanging it. */
export function send(
  url: string,
  { method = 'POST', path, body, headers = {}, ca, agent, timeoutMs = 5000 }: RequestOptions,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(path, url),
      {
        method,
        ca,
        agent: agent ?? false,
        headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
        minVersion: 'TLSv1.2',
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response to ${method} ${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

export function decodePatch(response: { patch?: string }): unknown {
  return response.patch === undefined ? undefined : JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
}

/** A webhook server on 127.0.0.1 with fresh certificates and free ports; `stop` closes it and removes the certificates. */
export async function startTestWebhook(
  options: Partial<Omit<WebhookServerOptions, 'certDir'>> = {},
): Promise<{ server: WebhookServer; ca: string; dir: string; bundle: CertificateBundle; stop: () => Promise<void> }> {
  const certs = await tempCertDir();
  const server = await startWebhookServer({
    config: defaultConfig(),
    logger: createLogger('silent'),
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    ...options,
    certDir: certs.dir,
  });
  const stop = async () => {
    await server.close();
    await certs.cleanup();
  };
  return { server, ca: certs.bundle.caCert, dir: certs.dir, bundle: certs.bundle, stop };
}
