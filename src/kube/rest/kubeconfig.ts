/**
 * Which cluster to talk to, and as whom: `--kubeconfig`, else $KUBECONFIG, else the in-cluster
 * service account (client-go's clientcmd loading rules, the parts a controller needs).
 *
 * Read here: clusters (`server`, `certificate-authority[-data]`, `insecure-skip-tls-verify`,
 * `tls-server-name`), users (`client-certificate[-data]`, `client-key[-data]`, `token`,
 * `tokenFile`, `username`/`password`), the current context, several files in $KUBECONFIG merged
 * (the first to define a name or `current-context` wins), paths relative to their file.
 * A user with an `exec` plugin or an `auth-provider`, or a cluster with a `proxy-url`, is handed
 * to @kubernetes/client-node, loaded only then.
 */
import { readFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import type * as ClientNode from '@kubernetes/client-node';
import { parse } from 'yaml';
import { RestConfig, type RestConfigOptions } from './config.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The config of `--kubeconfig FILE`, else of $KUBECONFIG, else in-cluster; undefined when there is
 * none. `context` names a kubeconfig context other than the current one (kubectl's --context).
 */
export async function loadRestConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  context?: string,
): Promise<RestConfig | undefined> {
  const paths = file ? [file] : (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (paths.length > 0) return loadKubeconfigFiles(paths, context);
  if (context !== undefined)
    throw new Error(`--context ${JSON.stringify(context)} needs a kubeconfig: pass --kubeconfig or set KUBECONFIG`);
  if (env.KUBERNETES_SERVICE_HOST) return inClusterConfig(env);
  return undefined;
}

/** The in-cluster service account (client-go rest.InClusterConfig). */
export function inClusterConfig(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): RestConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new Error('not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set');
  const tokenFile = join(dir, 'token');
  let ca: Buffer;
  try {
    readFileSync(tokenFile);
    ca = readFileSync(join(dir, 'ca.crt'));
  } catch (err) {
    throw new Error(`in-cluster service account: ${(err as Error).message} (is automountServiceAccountToken off?)`, {
      cause: err,
    });
  }
  return new RestConfig({
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca,
    tokenFile,
    source: `the in-cluster service account (${dir})`,
  });
}

interface Named<T> {
  name?: string;
  [key: string]: unknown;
  value?: T;
}

interface KubeconfigCluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
}

interface KubeconfigUser {
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
}

interface Loaded<T> {
  value: T;
  /** The file it came from: relative paths in it are relative to that file's directory. */
  dir: string;
}

interface Merged {
  currentContext?: string;
  contexts: Map<string, { cluster?: string; user?: string }>;
  clusters: Map<string, Loaded<KubeconfigCluster>>;
  users: Map<string, Loaded<KubeconfigUser>>;
}

/** Loads and merges kubeconfig files; the error names the file and the field. */
export async function loadKubeconfigFiles(paths: readonly string[], contextName?: string): Promise<RestConfig> {
  const merged: Merged = { contexts: new Map(), clusters: new Map(), users: new Map() };
  for (const path of paths) mergeFile(merged, path);
  const where = paths.length === 1 ? `kubeconfig ${paths[0]}` : `kubeconfig ${paths.join(delimiter)}`;
  if (contextName !== undefined) merged.currentContext = contextName;
  if (!merged.currentContext) throw new Error(`${where}: no current-context`);
  const context = merged.contexts.get(merged.currentContext);
  if (!context)
    throw new Error(
      `${where}: ${contextName === undefined ? 'current-context' : 'context'} ${JSON.stringify(merged.currentContext)} is not among its contexts`,
    );
  const cluster = context.cluster === undefined ? undefined : merged.clusters.get(context.cluster);
  if (!cluster)
    throw new Error(
      `${where}: context ${JSON.stringify(merged.currentContext)} names cluster ${JSON.stringify(context.cluster ?? '')}, which is not defined`,
    );
  const user =
    context.user === undefined || context.user === ''
      ? { value: {}, dir: cluster.dir }
      : merged.users.get(context.user);
  if (!user)
    throw new Error(
      `${where}: context ${JSON.stringify(merged.currentContext)} names user ${JSON.stringify(context.user)}, which is not defined`,
    );
  const c = cluster.value;
  const u = user.value;
  if (!c.server) throw new Error(`${where}: cluster ${JSON.stringify(context.cluster)} has no server`);
  if (u.exec !== undefined || u['auth-provider'] !== undefined || c['proxy-url'])
    return viaClientNode(paths, c.server, where, contextName);
  const file = (name: string, path: string | undefined, data: string | undefined, dir: string): Buffer | undefined => {
    if (data) return Buffer.from(data, 'base64');
    if (!path) return undefined;
    try {
      return readFileSync(isAbsolute(path) ? path : resolve(dir, path));
    } catch (err) {
      throw new Error(`${where}: ${name}: ${(err as Error).message}`, { cause: err });
    }
  };
  const options: RestConfigOptions = {
    server: c.server,
    source: where,
    ...optional(
      'ca',
      file('certificate-authority', c['certificate-authority'], c['certificate-authority-data'], cluster.dir),
    ),
    ...optional('insecureSkipTLSVerify', c['insecure-skip-tls-verify'] === true ? true : undefined),
    ...optional('tlsServerName', c['tls-server-name']),
    ...optional('cert', file('client-certificate', u['client-certificate'], u['client-certificate-data'], user.dir)),
    ...optional('key', file('client-key', u['client-key'], u['client-key-data'], user.dir)),
    ...optional('token', u.token),
    ...optional('tokenFile', u.tokenFile && (isAbsolute(u.tokenFile) ? u.tokenFile : resolve(user.dir, u.tokenFile))),
    ...optional('username', u.username),
    ...optional('password', u.password),
  };
  return new RestConfig(options);
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function mergeFile(merged: Merged, path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`kubeconfig ${path}: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new Error(`kubeconfig ${path}: not YAML: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (doc === null || doc === undefined) return; // an empty file contributes nothing, as in client-go
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new Error(`kubeconfig ${path}: not a kubeconfig (expected a mapping)`);
  const d = doc as Record<string, unknown>;
  const dir = dirname(resolve(path));
  if (typeof d['current-context'] === 'string' && d['current-context'] && !merged.currentContext)
    merged.currentContext = d['current-context'];
  for (const [list, key, target] of [
    ['contexts', 'context', merged.contexts],
    ['clusters', 'cluster', merged.clusters],
    ['users', 'user', merged.users],
  ] as const) {
    const entries = d[list];
    if (entries === undefined || entries === null) continue;
    if (!Array.isArray(entries)) throw new Error(`kubeconfig ${path}: ${list} must be a list`);
    entries.forEach((entry: Named<unknown>, i) => {
      if (typeof entry?.name !== 'string') throw new Error(`kubeconfig ${path}: ${list}[${i}].name must be a string`);
      const value = entry[key] ?? {};
      if (typeof value !== 'object' || Array.isArray(value))
        throw new Error(`kubeconfig ${path}: ${list}[${i}].${key} must be a mapping`);
      if ((target as Map<string, unknown>).has(entry.name)) return;
      if (list === 'contexts') merged.contexts.set(entry.name, value);
      else (target as Map<string, Loaded<unknown>>).set(entry.name, { value, dir });
    });
  }
}

/**
 * @kubernetes/client-node, left out of the release image (its pods use
 * in-cluster credentials), so a kubeconfig that needs it there gets this error, not a stack trace.
 */
export async function loadClientNode(
  where: string,
  load: () => Promise<typeof ClientNode> = () => import('@kubernetes/client-node'),
): Promise<typeof ClientNode> {
  try {
    return await load();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new Error(
      `${where} has an exec plugin, an auth-provider or a proxy-url, which need the package @kubernetes/client-node; it is not installed here (the release image leaves it out): run the CLI where it is (npm install), or use a token or client certificate`,
      { cause: error },
    );
  }
}

/** Credentials this module does not implement: client-node computes them for every request. */
async function viaClientNode(
  paths: readonly string[],
  server: string,
  where: string,
  contextName: string | undefined,
): Promise<RestConfig> {
  const { KubeConfig } = await loadClientNode(where);
  const kc = new KubeConfig();
  const [first, ...rest] = paths;
  kc.loadFromFile(first!);
  for (const path of rest) {
    const more = new KubeConfig();
    more.loadFromFile(path);
    kc.mergeConfig(more, true);
  }
  if (contextName !== undefined) kc.setCurrentContext(contextName);
  return new RestConfig({
    server,
    source: `${where} (via @kubernetes/client-node)`,
    authenticate: (options) => kc.applyToHTTPSOptions(options),
  });
}
