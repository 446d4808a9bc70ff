/**
 * Reads what `status` and `audit` report on from the cluster: the config the installed webhook
 * uses (the chart's ConfigMap) unless one is given, the controller's Leases and pods, the agent
 * pods, the nodes, the pod controllers, and the webhook's registration, endpoints and health.
 */
import { request } from 'node:https';
import { agentContainers } from '../agent/agent_containers.ts';
import type { Config } from '../config/config.ts';
import { defaultConfig } from '../config/config.ts';
import { loadConfig } from '../config/load.ts';
import { ConfigError, parseConfig } from '../config/parse.ts';
import { trimNode } from './trim_node.ts';
import type { KubeObject, Lease, Node, Pod } from '../kube/objects.ts';
import type { RestConfig } from '../kube/rest/config.ts';
import { PODS, resourcePath, SERVICES } from '../kube/paths.ts';
import { kubeRequest } from '../kube/rest/request.ts';
import { errorMessage } from '../log.ts';
import { INJECTION_LABEL, LEASE_ELECTION_REASON } from '../policy/labels.ts';
import { WEBHOOK_DOMAIN } from '../webhook/webhook_configuration.ts';
import { asLease, listAll } from './cluster_read.ts';
import { readReadyEndpoints } from './endpoint_slices.ts';
import type { WebhookEndpoint, WebhookState } from './status_report.ts';

export type Progress = (what: string, count: number) => void;

const PART_OF = 'app.kubernetes.io/part-of=k8s-watch-policy';

export interface ConfigChoice {
  config: Config;
  source: string;
}

/**
 * `--config F`, else the chart's ConfigMap (label part-of=k8s-watch-policy, key config.yaml; the
 * one in `namespace`, the controller's, first), else the defaults.
 */
export async function chooseConfig(
  kc: RestConfig,
  file: string | undefined,
  namespace?: string,
  progress?: Progress,
): Promise<ConfigChoice> {
  if (file) return { config: await loadConfig(file), source: `file ${file}` };
  const maps = await listAll(
    kc,
    '/api/v1/configmaps',
    (o) => (typeof (o as { data?: Record<string, string> }).data?.['config.yaml'] === 'string' ? o : undefined),
    { labelSelector: PART_OF, ...(progress && { progress }) },
  );
  const found = maps.items.find((m) => m.metadata?.namespace === namespace) ?? maps.items[0];
  if (!found)
    return {
      config: defaultConfig(),
      source: maps.error
        ? `defaults (cannot list ConfigMaps: ${maps.error})`
        : 'defaults (no ConfigMap of k8s-watch-policy found)',
    };
  const where = `configmap ${found.metadata?.namespace}/${found.metadata?.name}`;
  try {
    return { config: parseConfig((found as { data: Record<string, string> }).data['config.yaml']!), source: where };
  } catch (err) {
    throw new ConfigError(`${where}: ${errorMessage(err)}`);
  }
}

/** The collections of pods in scope: one namespace, the election's namespaces, or all. */
export function podPaths(config: Config, namespace: string | undefined): string[] {
  if (namespace) return [resourcePath(PODS, namespace)];
  if (config.election.namespaces.length > 0) return config.election.namespaces.map((ns) => resourcePath(PODS, ns));
  return ['/api/v1/pods'];
}

/**
 * The pods in scope, each reduced by `reduce` as its page arrives (to the election's view of an
 * agent pod, or to an audit row): what is kept follows the number of agents, not the pods' size.
 */
export async function readPods<T>(
  kc: RestConfig,
  config: Config,
  namespace: string | undefined,
  reduce: (pod: KubeObject) => T | undefined,
  progress?: Progress,
): Promise<T[]> {
  const lists = await Promise.all(
    podPaths(config, namespace).map((path) => listAll(kc, path, reduce, { ...(progress && { progress }) })),
  );
  for (const l of lists) if (l.error) throw new Error(`cannot list pods: ${l.error}`);
  return lists.flatMap((l) => l.items);
}

export async function readNodes(kc: RestConfig, progress?: Progress): Promise<Node[]> {
  const nodes = await listAll(kc, '/api/v1/nodes', (o) => trimNode(o) as Node, { ...(progress && { progress }) });
  return nodes.items; // without the right to list nodes, none is known NotReady: as the controller without a node cache
}

export interface ControllerState {
  watcherLease?: Lease;
  leaderLease?: Lease;
  controllerPods: Pod[];
}

/**
 * The Lease that publishes the watcher: `lease` (NS/NAME) when given, else the one the controller
 * wrote its election reason on (the configured name first).
 */
export async function readController(
  kc: RestConfig,
  config: Config,
  lease?: { namespace: string; name: string },
): Promise<ControllerState> {
  const leases = await listAll(kc, '/apis/coordination.k8s.io/v1/leases', asLease);
  const watcherLease = lease
    ? leases.items.find((l) => l.metadata.namespace === lease.namespace && l.metadata.name === lease.name)
    : [...leases.items]
        .filter((l) => l.metadata.annotations?.[LEASE_ELECTION_REASON] !== undefined)
        .sort(
          (a, b) =>
            Number(b.metadata.name === config.election.leaseName) -
            Number(a.metadata.name === config.election.leaseName),
        )[0];
  if (!watcherLease) return { controllerPods: [] };
  const ns = watcherLease.metadata.namespace!;
  const others = leases.items.filter(
    (l) => l.metadata.namespace === ns && l !== watcherLease && !l.metadata.name?.endsWith('-certificates'),
  );
  const leaderLease =
    others.find((l) => l.metadata.labels?.['app.kubernetes.io/component'] === 'controller') ??
    others.find((l) => l.metadata.name === 'k8s-watch-policy-controller' || l.metadata.name?.endsWith('-controller'));
  const pods = await listAll(kc, resourcePath(PODS, ns), (o) => o as Pod, {
    labelSelector: `${PART_OF},app.kubernetes.io/component=controller`,
  });
  return { watcherLease, ...(leaderLease && { leaderLease }), controllerPods: pods.items };
}

export interface WebhookConfiguration extends KubeObject {
  webhooks?: {
    name: string;
    failurePolicy?: string;
    clientConfig?: {
      url?: string;
      caBundle?: string;
      service?: { namespace: string; name: string; port?: number; path?: string };
    };
  }[];
}

function getText(url: string, ca: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', ...(ca && { ca }), timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text = (text + d).slice(0, 1024)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The product's webhook configurations, where they send reviews, and whether that answers. */
export async function readWebhook(kc: RestConfig): Promise<WebhookState> {
  const unreadable: string[] = [];
  const found = await readWebhookConfigurations(kc, unreadable);
  const endpoints: WebhookEndpoint[] = found.flatMap(({ kind, object }) =>
    (object.webhooks ?? []).map((w) => {
      const s = w.clientConfig?.service;
      return {
        webhook: `${kind}/${object.metadata?.name}: ${w.name}`,
        target: s ? `service ${s.namespace}/${s.name}:${s.port ?? 443}` : (w.clientConfig?.url ?? '(none)'),
      };
    }),
  );
  const state: WebhookState = {
    configurations: found.map(({ kind, object }) => `${kind}/${object.metadata?.name}`),
    endpoints,
  };
  const first = found[0]?.object.webhooks?.[0]?.clientConfig;
  if (first?.service) await readWebhookService(kc, first.service, state, unreadable);
  else if (first?.url) state.answers = await answersAt(first.url, first.caBundle);
  if (unreadable.length > 0) state.unreadable = unreadable;
  return state;
}

/** Both kinds of webhook configuration that name a webhook of the product's domain. */
export async function readWebhookConfigurations(
  kc: RestConfig,
  unreadable: string[],
): Promise<{ kind: string; object: WebhookConfiguration }[]> {
  const found: { kind: string; object: WebhookConfiguration }[] = [];
  for (const [kind, path] of [
    ['MutatingWebhookConfiguration', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations'],
    ['ValidatingWebhookConfiguration', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations'],
  ] as const) {
    const list = await listAll(kc, path, (o) =>
      (o as WebhookConfiguration).webhooks?.some((w) => w.name.endsWith(`.${WEBHOOK_DOMAIN}`))
        ? (o as WebhookConfiguration)
        : undefined,
    );
    if (list.error) unreadable.push(`${kind}s: ${list.error}`);
    for (const object of list.items) found.push({ kind, object });
  }
  return found;
}

/** A Service-backed webhook: its ready endpoints, and its /readyz through the API server's service proxy. */
async function readWebhookService(
  kc: RestConfig,
  { namespace, name, port = 443 }: { namespace: string; name: string; port?: number },
  state: WebhookState,
  unreadable: string[],
): Promise<void> {
  const endpoints = await readReadyEndpoints(kc, namespace, name);
  if (endpoints.error) unreadable.push(`EndpointSlices: ${endpoints.error}`);
  else state.readyEndpoints = endpoints.ready;
  try {
    const text = await kubeRequest<string>(
      kc,
      'GET',
      `${resourcePath(SERVICES, namespace)}/https:${encodeURIComponent(name)}:${port}/proxy/readyz`,
      { timeoutMs: 5_000 },
    );
    state.answers = {
      ok: String(text).trim() === 'ok',
      detail: `GET /readyz through the API server: ${String(text).trim().slice(0, 80)}`,
    };
  } catch (err) {
    state.answers = { ok: false, detail: `GET /readyz through the API server: ${errorMessage(err).slice(0, 200)}` };
  }
}

/** A URL webhook: whether GET /readyz answers there, trusting its caBundle. */
async function answersAt(url: string, caBundle: string | undefined): Promise<NonNullable<WebhookState['answers']>> {
  const ca = caBundle ? Buffer.from(caBundle, 'base64').toString('utf8') : undefined;
  const readyz = new URL('/readyz', url).href;
  try {
    const r = await getText(readyz, ca, 5_000);
    return { ok: r.status === 200, detail: `GET ${readyz}: ${r.status} ${r.text.trim().slice(0, 80)}` };
  } catch (err) {
    return { ok: false, detail: `GET ${readyz}: ${errorMessage(err)}` };
  }
}

/** The namespaces opted in by label; undefined when they cannot be listed. */
export async function readOptedInNamespaces(kc: RestConfig): Promise<Set<string> | undefined> {
  const list = await listAll(kc, '/api/v1/namespaces', (o) => o.metadata?.name, {
    labelSelector: `${INJECTION_LABEL}=enabled`,
  });
  return list.error ? undefined : new Set(list.items);
}

/** The pod controllers whose templates `audit` reviews, each reduced by `reduce` (to its row) as it arrives. */
export async function readControllers<T>(
  kc: RestConfig,
  namespace: string | undefined,
  config: Config,
  reduce: (controller: KubeObject) => T | undefined,
  progress?: Progress,
): Promise<T[]> {
  const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const kinds: [string, string][] = [
    ['Deployment', `/apis/apps/v1${scope}/deployments`],
    ['DaemonSet', `/apis/apps/v1${scope}/daemonsets`],
    ['StatefulSet', `/apis/apps/v1${scope}/statefulsets`],
    ['Job', `/apis/batch/v1${scope}/jobs`],
    ['CronJob', `/apis/batch/v1${scope}/cronjobs`],
  ];
  const hasAgent = (spec: unknown) => agentContainers((spec as Pod['spec']) ?? undefined, config.agent).length > 0;
  const lists = await Promise.all(
    kinds.map(([kind, path]) =>
      listAll(
        kc,
        path,
        (o) => {
          const spec = o.spec as
            { template?: { spec?: unknown }; jobTemplate?: { spec?: { template?: { spec?: unknown } } } } | undefined;
          // Jobs a CronJob made are audited through the CronJob.
          if (kind === 'Job' && o.metadata?.ownerReferences?.some((r) => r.kind === 'CronJob')) return undefined;
          return hasAgent(spec?.template?.spec ?? spec?.jobTemplate?.spec?.template?.spec)
            ? reduce({ ...o, kind })
            : undefined;
        },
        { ...(progress && { progress }) },
      ),
    ),
  );
  return lists.flatMap((l) => l.items);
}

/** The API server's gitVersion (v1.36.3); undefined when it does not say. */
export async function readServerVersion(kc: RestConfig): Promise<string | undefined> {
  const version = await kubeRequest<{ gitVersion?: string }>(kc, 'GET', '/version').catch(() => undefined);
  return version?.gitVersion;
}
