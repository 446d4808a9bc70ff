/**
 * `kubectl watch-policy status`, as a pure function of what was read: the published watcher (the
 * Lease), the controller replicas and which leads, every agent pod with its policy as the agent
 * reads it and its standing in the election, the webhook's registration, and the warnings that
 * are active. Exit codes: 0 healthy, 1 a warning is active, 2 no watcher.
 */
import type { Config } from '../config/config.ts';
import type { Lease, Node, Pod } from '../kube/objects.ts';
import { publishedWatcher } from '../controller/watcher_lease.ts';
import { ASSIGNMENT_NOTE, elect, type CandidateReport, type Watcher } from '../watcher_election/elect.ts';
import { untestedVersion } from './tested_kubernetes.ts';

export interface WebhookEndpoint {
  /** The configuration and webhook, e.g. `MutatingWebhookConfiguration/k8s-watch-policy: namespace.pods...`. */
  webhook: string;
  /** `service ns/name:port/path` or the URL. */
  target: string;
}

export interface WebhookState {
  /** The webhook configurations of this product found in the cluster (by their webhooks' names). */
  configurations: string[];
  endpoints: WebhookEndpoint[];
  /** Ready endpoints of the webhook's Service, when it is called through one. */
  readyEndpoints?: number;
  /** Whether GET /readyz answered 200 (through the API server's service proxy, or the URL). */
  answers?: { ok: boolean; detail: string };
  /** Why a part could not be read (RBAC, an API not served). */
  unreadable?: string[];
}

export interface StatusInput {
  config: Config;
  /** Where the config came from: `configmap ns/name`, `file F`, `defaults`. */
  configSource: string;
  /** The agent pods (and others: they are ignored) of the namespaces in scope. */
  pods: readonly Pod[];
  nodes: readonly Node[];
  /** The Lease that publishes the watcher, if one was found. */
  watcherLease?: Lease;
  /** The controller replicas' leader-election Lease, if one was found. */
  leaderLease?: Lease;
  /** The controller's pods (chart installs), if any were found. */
  controllerPods: readonly Pod[];
  webhook: WebhookState;
  /** Namespace the table of agents is limited to (-n), if any; the election is the cluster's. */
  namespace?: string;
  /** The API server's gitVersion, when it said it. */
  serverVersion?: string;
}

export type WarningKind =
  | 'no-watcher'
  | 'several-watch-only'
  | 'deprecated-env'
  | 'no-controller'
  | 'published-differs'
  | 'webhook-not-registered'
  | 'webhook-no-endpoints'
  | 'webhook-not-answering'
  | 'kubernetes-version';

export interface StatusWarning {
  kind: WarningKind;
  message: string;
}

export interface PublishedState {
  lease: string;
  holder: string | null;
  uid?: string;
  node?: string;
  policy?: string;
  reason?: string;
  since?: string;
  transitions: number;
}

export interface StatusReport {
  config: string;
  namespace: string | null;
  /** What the controller published (the Lease), when it was found. */
  published: PublishedState | null;
  /** What the design's rules give for the agents as they run now. */
  elected: Watcher | null;
  controller: { namespace: string | null; leader: string | null; replicas: { name: string; ready: boolean }[] };
  agents: CandidateReport[];
  webhook: WebhookState;
  warnings: StatusWarning[];
  exitCode: 0 | 1 | 2;
  note: string;
}

const key = (lease: Lease) => `${lease.metadata.namespace ?? ''}/${lease.metadata.name ?? ''}`;

/** The controller's record (watcher_lease.ts reads it), with where it is and since when. */
function publishedOf(lease: Lease | undefined): PublishedState | null {
  const record = publishedWatcher(lease);
  if (!lease || !record) return null;
  const { holder, ...rest } = record;
  const since = lease.spec?.acquireTime ?? undefined;
  return { lease: key(lease), holder: holder ?? null, ...rest, ...(since && { since }) };
}

const ready = (pod: Pod) =>
  pod.status?.phase === 'Running' &&
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

export function statusReport(input: StatusInput): StatusReport {
  const { config, watcherLease, leaderLease, webhook } = input;
  const published = publishedOf(watcherLease);
  const [ns, name] = published?.holder?.split('/') ?? [];
  const current = ns && name ? { namespace: ns, name, ...(published?.uid && { uid: published.uid }) } : undefined;
  const election = elect(input.pods, input.nodes, current, config);
  const warnings = [
    ...electionWarnings(election, config.onlyWatchValue),
    ...controllerWarnings(input, published, election),
    ...webhookWarnings(webhook),
    ...versionWarnings(input.serverVersion),
  ];
  const replicas = input.controllerPods.map((p) => ({ name: p.metadata?.name ?? '', ready: ready(p) }));
  return {
    config: input.configSource,
    namespace: input.namespace ?? null,
    published,
    elected: election.watcher,
    controller: {
      namespace: watcherLease?.metadata.namespace ?? null,
      leader: leaderLease?.spec?.holderIdentity ?? null,
      replicas,
    },
    agents:
      input.namespace === undefined
        ? election.candidates
        : election.candidates.filter((c) => c.namespace === input.namespace),
    webhook,
    warnings,
    exitCode: !election.watcher ? 2 : warnings.length > 0 ? 1 : 0,
    note: ASSIGNMENT_NOTE,
  };
}

type Election = ReturnType<typeof elect>;
const warning = (kind: WarningKind, message: string): StatusWarning => ({ kind, message });
const podList = (candidates: readonly CandidateReport[]) =>
  candidates
    .map((c) => `${c.namespace}/${c.name}`)
    .slice(0, 5)
    .join(', ');

/** What the election says is wrong: no watcher, several watch-only agents, the deprecated variable. */
export function electionWarnings(election: Election, spelling: string): StatusWarning[] {
  const out: StatusWarning[] = [];
  if (!election.watcher) {
    const why =
      election.candidates.length === 0
        ? 'no agent pod found'
        : `none of ${election.candidates.length} agent pods is eligible`;
    out.push(
      warning(
        'no-watcher',
        `${why}: no deepflow-agent should watch the Kubernetes API; add a watcher Deployment (one agent pod with K8S_WATCH_POLICY=${spelling}) or agents that may watch`,
      ),
    );
  }
  const watchOnly = election.candidates.filter((c) => c.eligible && c.policy === 'only-watch');
  if (watchOnly.length > 1) {
    out.push(
      warning(
        'several-watch-only',
        `${watchOnly.length} eligible agent pods run K8S_WATCH_POLICY=${spelling} (${podList(watchOnly)}): the DeepFlow server hands the watch to each in turn; run one watcher pod`,
      ),
    );
  }
  const deprecated = election.candidates.filter((c) => c.reason === 'deprecated-env');
  if (deprecated.length > 0) {
    out.push(
      warning(
        'deprecated-env',
        `${deprecated.length} agent pods still carry ONLY_WATCH_K8S_RESOURCE (${podList(deprecated)}): agents from v6.6.6 on exit; remove it and set K8S_WATCH_POLICY=${spelling}`,
      ),
    );
  }
  return out;
}

/** What is wrong with the controller: not installed, no leader, or a published watcher the rules do not give. */
export function controllerWarnings(
  { watcherLease, leaderLease }: Pick<StatusInput, 'watcherLease' | 'leaderLease'>,
  published: StatusReport['published'],
  election: Election,
): StatusWarning[] {
  const out: StatusWarning[] = [];
  if (!watcherLease)
    out.push(
      warning(
        'no-controller',
        'no watcher Lease found: the controller is not installed or has not published yet (status shows the election computed here)',
      ),
    );
  else if (!leaderLease?.spec?.holderIdentity)
    out.push(
      warning(
        'no-controller',
        `no controller replica leads (the leader Lease has no holder): the watcher Lease ${key(watcherLease)} is not kept current`,
      ),
    );
  const elected = election.watcher && `${election.watcher.namespace}/${election.watcher.name}`;
  if (published && elected && published.holder !== elected) {
    out.push(
      warning(
        'published-differs',
        `the Lease names ${published.holder ?? 'no watcher'}, the rules give ${elected} now (the controller is catching up, or cannot write)`,
      ),
    );
  }
  return out;
}

/** What is wrong with the webhook: not registered, no ready endpoint, not answering. */
export function webhookWarnings(webhook: WebhookState): StatusWarning[] {
  if (webhook.configurations.length === 0)
    return [
      warning(
        'webhook-not-registered',
        'no webhook configuration of k8s-watch-policy is registered: new agent pods get no K8S_WATCH_POLICY',
      ),
    ];
  if (webhook.readyEndpoints === 0)
    return [
      warning(
        'webhook-no-endpoints',
        'the webhook Service has no ready endpoint: with failurePolicy Fail, agent pods in opted-in namespaces are refused',
      ),
    ];
  if (webhook.answers && !webhook.answers.ok)
    return [warning('webhook-not-answering', `the webhook does not answer: ${webhook.answers.detail}`)];
  return [];
}

/** A server outside the Kubernetes minors this release is tested on. */
export function versionWarnings(serverVersion: string | undefined): StatusWarning[] {
  const untested = serverVersion === undefined ? undefined : untestedVersion(serverVersion);
  return untested ? [warning('kubernetes-version', untested)] : [];
}
