/**
 * How to reach one kube-apiserver (client-go's rest.Config): the server URL, the TLS trust and
 * client certificate, and the credentials of each request. One keep-alive HTTPS agent per
 * config, so lists, watches and writes reuse connections (and TLS sessions) instead of
 * handshaking per request.
 *
 * Built by {@link ./kubeconfig.ts} from a kubeconfig file or the in-cluster service account.
 * @kubernetes/client-node is not loaded for this: it costs ~80 MB of RSS and a second of start-up
 * (bench/README.md), for the two things the controller and the webhook need from it.
 */
import { readFileSync } from 'node:fs';
import { Agent, type AgentOptions, type RequestOptions } from 'node:https';

/** client-go re-reads a bearer token file after a minute (bound service account tokens rotate). */
export const TOKEN_FILE_REREAD_MS = 60_000;
/**
 * An idle kept-alive connection is closed after this long: well under kube-apiserver's own idle
 * timeout (90 s), so that a request never goes out on a connection the server is closing.
 */
export const IDLE_SOCKET_TIMEOUT_MS = 30_000;

export interface RestConfigOptions {
  /** `https://host:port`, possibly with a path prefix. */
  server: string;
  /** PEM: the CAs to trust; the system's when absent. */
  ca?: string | Buffer;
  /** PEM: the client certificate and key. */
  cert?: string | Buffer;
  key?: string | Buffer;
  insecureSkipTLSVerify?: boolean;
  /** The name to verify the server's certificate against, when it is not the URL's host. */
  tlsServerName?: string;
  token?: string;
  /** Read for every request, at most once per {@link TOKEN_FILE_REREAD_MS}. */
  tokenFile?: string;
  username?: string;
  password?: string;
  /**
   * Credentials this module does not implement (kubeconfig `exec` plugins, `auth-provider`,
   * `proxy-url`): sets the agent and headers of one request. Connections are then not shared.
   */
  authenticate?: (options: RequestOptions) => Promise<void>;
  /** For messages: where this came from (a file, the in-cluster service account). */
  source?: string;
}

export class RestConfig {
  readonly server: URL;
  readonly source: string;
  private readonly agent: Agent | undefined;
  private cachedToken: { value: string; readAt: number } | undefined;

  constructor(private readonly options: RestConfigOptions) {
    let server: URL;
    try {
      server = new URL(options.server);
    } catch {
      throw new Error(`${options.source ?? 'the cluster'}: server ${JSON.stringify(options.server)} is not a URL`);
    }
    if (server.protocol !== 'https:')
      throw new Error(
        `${options.source ?? 'the cluster'}: server ${options.server} is not https (only TLS is supported)`,
      );
    this.server = server;
    this.source = options.source ?? options.server;
    if (!options.authenticate) {
      const tls: AgentOptions = {
        keepAlive: true,
        timeout: IDLE_SOCKET_TIMEOUT_MS,
        ...(options.ca && { ca: options.ca }),
        ...(options.cert && { cert: options.cert }),
        ...(options.key && { key: options.key }),
        ...(options.insecureSkipTLSVerify && { rejectUnauthorized: false }),
        ...(options.tlsServerName && { servername: options.tlsServerName }),
      };
      this.agent = new Agent(tls);
    }
  }

  /** The same credentials against another server URL (e.g. through a proxy). */
  withServer(server: string): RestConfig {
    return new RestConfig({ ...this.options, server });
  }

  /** The absolute URL of an API path (`/api/v1/...`, query included), under the server's path prefix. */
  url(pathAndQuery: string): URL {
    const prefix = this.server.pathname.replace(/\/+$/, '');
    return new URL(prefix + pathAndQuery, this.server.origin);
  }

  /** Agent and headers of one request: `method` and `headers` are the caller's. */
  async requestOptions(method: string, headers: Record<string, string | number>): Promise<RequestOptions> {
    const options: RequestOptions = { method, headers: { ...headers } };
    if (this.options.authenticate) {
      await this.options.authenticate(options);
      return options;
    }
    options.agent = this.agent;
    const authorization = this.authorization();
    if (authorization) (options.headers as Record<string, string>).authorization = authorization;
    return options;
  }

  /** Closes the kept-alive connections (requests in flight finish). */
  close(): void {
    this.agent?.destroy();
  }

  private authorization(): string | undefined {
    const { token, tokenFile, username, password } = this.options;
    if (tokenFile) return `Bearer ${this.fileToken(tokenFile)}`;
    if (token) return `Bearer ${token}`;
    if (username !== undefined && password !== undefined)
      return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    return undefined;
  }

  private fileToken(file: string): string {
    const now = Date.now();
    if (!this.cachedToken || now - this.cachedToken.readAt >= TOKEN_FILE_REREAD_MS) {
      try {
        this.cachedToken = { value: readFileSync(file, 'utf8').trim(), readAt: now };
      } catch (err) {
        // A rotation in progress: keep the token we have, if any.
        if (!this.cachedToken)
          throw new Error(`cannot read the token file ${file}: ${(err as Error).message}`, { cause: err });
      }
    }
    return this.cachedToken.value;
  }
}
