/**
 * Pushes blobs and manifests to an OCI registry (distribution spec v1.1: HEAD to skip what is
 * there, a monolithic POST+PUT upload, PUT of manifests by tag or digest), over HTTPS with the
 * system's CAs plus an extra one, with the registry's Basic or Bearer token authentication
 * (credentials from REGISTRY_USERNAME / REGISTRY_PASSWORD).
 */
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Blob } from './oci.ts';

export interface Registry {
  /** host[:port] */
  host: string;
  ca?: string;
  username?: string;
  password?: string;
}

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** `HOST:PORT/PATH` → host and the repository prefix. */
export function parseRegistry(value: string): { host: string; path: string } {
  const m = /^([a-z0-9.-]+(?::\d+)?)(?:\/([a-z0-9._/-]+))?$/i.exec(value.replace(/^oci:\/\//, '').replace(/\/+$/, ''));
  if (!m) throw new Error(`--registry ${value}: not HOST[:PORT][/PATH]`);
  return { host: m[1]!, path: m[2] ?? '' };
}

function send(
  registry: Registry,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<Response> {
  const target = new URL(url, `https://${registry.host}`);
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method,
        headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        ...(registry.ca ? { ca: [...rootCertificates, registry.ca] } : {}),
        timeout: 300_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${target.href}: no answer in 300 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A client for one registry, keeping the token of each scope it was given. */
export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private readonly registry: Registry;

  constructor(registry: Registry) {
    this.registry = registry;
  }

  private basic(): string | undefined {
    const { username, password } = this.registry;
    return username !== undefined
      ? `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`
      : undefined;
  }

  private async authorize(challenge: string, scope: string): Promise<string | undefined> {
    if (/^basic/i.test(challenge)) return this.basic();
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!params.realm) return undefined;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', params.scope ?? scope);
    const basic = this.basic();
    const host = url.host;
    const res = await send({ ...this.registry, host }, 'GET', url.href, basic ? { authorization: basic } : {});
    if (res.status !== 200)
      throw new Error(`token from ${url.origin}: HTTP ${res.status} ${res.body.toString().slice(0, 200)}`);
    const json = JSON.parse(res.body.toString());
    const token = json.token ?? json.access_token;
    return typeof token === 'string' ? `Bearer ${token}` : undefined;
  }

  private async call(
    repository: string,
    method: string,
    url: string,
    headers: Record<string, string> = {},
    body?: Buffer,
  ): Promise<Response> {
    const scope = `repository:${repository}:pull,push`;
    const auth = this.tokens.get(scope);
    let res = await send(this.registry, method, url, { ...headers, ...(auth ? { authorization: auth } : {}) }, body);
    const challenge = res.headers['www-authenticate'];
    if (res.status === 401 && typeof challenge === 'string') {
      const fresh = await this.authorize(challenge, scope);
      if (fresh === undefined)
        throw new Error(`${this.registry.host}: asks for credentials (REGISTRY_USERNAME, REGISTRY_PASSWORD)`);
      this.tokens.set(scope, fresh);
      res = await send(this.registry, method, url, { ...headers, authorization: fresh }, body);
    }
    return res;
  }

  /** Uploads the blob unless the repository has it; true when it was uploaded. */
  async pushBlob(repository: string, b: Blob): Promise<boolean> {
    const { digest } = b.descriptor;
    const head = await this.call(repository, 'HEAD', `/v2/${repository}/blobs/${digest}`);
    if (head.status === 200) return false;
    const start = await this.call(repository, 'POST', `/v2/${repository}/blobs/uploads/`, {}, Buffer.alloc(0));
    const location = start.headers.location;
    if (start.status !== 202 || typeof location !== 'string')
      throw new Error(
        `POST /v2/${repository}/blobs/uploads/: HTTP ${start.status} ${start.body.toString().slice(0, 300)}`,
      );
    const url = new URL(location, `https://${this.registry.host}`);
    url.searchParams.set('digest', digest);
    const put = await this.call(
      repository,
      'PUT',
      url.pathname + url.search,
      { 'content-type': 'application/octet-stream' },
      b.content,
    );
    if (put.status !== 201)
      throw new Error(`PUT blob ${digest}: HTTP ${put.status} ${put.body.toString().slice(0, 300)}`);
    return true;
  }

  /** Puts a manifest (or index) under a tag or its digest; returns the digest the registry gave. */
  async pushManifest(repository: string, reference: string, manifest: Blob): Promise<string> {
    const res = await this.call(
      repository,
      'PUT',
      `/v2/${repository}/manifests/${reference}`,
      { 'content-type': manifest.descriptor.mediaType },
      manifest.content,
    );
    if (res.status !== 201)
      throw new Error(
        `PUT manifest ${repository}:${reference}: HTTP ${res.status} ${res.body.toString().slice(0, 300)}`,
      );
    const digest = res.headers['docker-content-digest'];
    if (typeof digest === 'string' && digest !== manifest.descriptor.digest)
      throw new Error(`${repository}:${reference}: the registry stored ${digest}, not ${manifest.descriptor.digest}`);
    return manifest.descriptor.digest;
  }

  /** The manifest (or index) stored under a tag or digest, with its media type; undefined when there is none. */
  async getManifest(
    repository: string,
    reference: string,
  ): Promise<{ mediaType: string; content: Buffer } | undefined> {
    const accept = [
      'application/vnd.oci.image.index.v1+json',
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.docker.distribution.manifest.v2+json',
      'application/vnd.docker.distribution.manifest.list.v2+json',
    ].join(', ');
    const res = await this.call(repository, 'GET', `/v2/${repository}/manifests/${reference}`, { accept });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET manifest ${repository}:${reference}: HTTP ${res.status}`);
    return { mediaType: String(res.headers['content-type']), content: res.body };
  }
}
