/**
 * What `check` reads and tries on a live cluster: the webhook's registration, Service, endpoints
 * and served certificate, two server-side dry-run creates through the real admission path, the
 * controller's state as `status` reads it, and the agent pods the config recognises.
 */
import { agentContainers } from '../agent/agent_containers.ts';
import type { Config } from '../config/config.ts';
import { defaultConfig } from '../config/config.ts';
import { ConfigError } from '../config/parse.ts';
import type { Pod } from '../kube/objects.ts';
import type { RestConfig } from '../kube/rest/config.ts';
import { PODS, resourcePath, SERVICES } from '../kube/paths.ts';
import { isNotFound, kubeRequest } from '../kube/rest/request.ts';
import { errorMessage } from '../log.ts';
import { DEPRECATED_ENV, POLICY_ENV, POLICY_LABEL, REASON_ANNOTATION } from '../policy/labels.ts';
import type { AdmissionTry, CheckInput, WebhookView } from './check_report.ts';
import { listAll } from './cluster_read.ts';
import {
  chooseConfig,
  readController,
  readNodes,
  readPods,
  readOptedInNamespaces,
  readServerVersion,
  readWebhookConfigurations,
  type Progress,
} from './cluster_state.ts';
import { readReadyEndpoints } from './endpoint_slices.ts';
import { electionPod } from './report_pods.ts';
import { readServed } from './served_certificate.ts';
import { statusReport } from './status_report.ts';
import { TESTED_KUBERNETES } from './tested_kubernetes.ts';

export interface CheckFlags {
  config?: string;
  /** The opted-in namespace the dry runs use (default: the first opted-in one). */
  namespace?: string;
  /** The Lease that publishes the watcher (default: found by its annotations, as status does). */
  lease?: { namespace: string; name: string };
  progress?: Progress;
}

function webhookViews(found: Awaited<ReturnType<typeof readWebhookConfigurations>>): WebhookView[] {
  return found.flatMap(({ kind, object }) =>
    (object.webhooks ?? []).map((w) => ({
      configuration: `${kind}/${object.metadata?.name}`,
      name: w.name,
      ...(w.failurePolicy && { failurePolicy: w.failurePolicy }),
      ...(w.clientConfig?.caBundle && { caBundle: w.clientConfig.caBundle }),
      ...(w.clientConfig?.service && {
        service: { ...w.clientConfig.service, port: w.clientConfig.service.port ?? 443 },
      }),
      ...(w.clientConfig?.url && { url: w.clientConfig.url }),
    })),
  );
}

const agentPod = (namespace: string, env: { name: string; value: string }[]) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  // Labelled watch-disabled: whatever the pod's shape, the webhook must write the variable and the reason.
  metadata: { generateName: 'kwp-check-', namespace, labels: { app: 'kwp-check', [POLICY_LABEL]: 'watch-disabled' } },
  spec: { containers: [{ name: 'deepflow-agent', image: 'deepflow/deepflow-agent:v6.6', env }] },
});

/** What the webhook did to the dry-run pod: its agent's K8S_WATCH_POLICY, the reason, the old variable left. */
function admitted(pod: Pod, config: Config): AdmissionTry['pod'] {
  const env = agentContainers(pod.spec, config.agent)[0]?.container.env ?? [];
  const policy = env.find((e) => e.name === POLICY_ENV)?.value;
  const reason = pod.metadata?.annotations?.[REASON_ANNOTATION];
  return {
    ...(policy && { policy }),
    ...(reason && { reason }),
    deprecatedLeft: env.some((e) => e.name === DEPRECATED_ENV),
  };
}

/** A namespace made a moment ago has no default ServiceAccount yet, and pods cannot be created there until it has. */
const NO_SERVICE_ACCOUNT = /error looking up service account|serviceaccount "?default"? not found/i;

/** A server-side dry-run create of an agent pod: nothing is stored, the admission chain runs. */
async function dryRun(
  kc: RestConfig,
  namespace: string,
  env: { name: string; value: string }[],
  config: Config,
): Promise<AdmissionTry> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const pod = await kubeRequest<Pod>(kc, 'POST', resourcePath(PODS, namespace), {
        query: { dryRun: 'All' },
        body: agentPod(namespace, env),
        timeoutMs: 40_000,
      });
      return { namespace, pod: admitted(pod, config) };
    } catch (err) {
      const error = errorMessage(err).replace(/^POST \S+: /, '');
      if (!NO_SERVICE_ACCOUNT.test(error) || Date.now() > deadline) return { namespace, error };
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function readConfig(
  kc: RestConfig,
  flags: CheckFlags,
  namespace: string | undefined,
): Promise<{ config: Config; source: string; error?: string }> {
  try {
    return await chooseConfig(kc, flags.config, namespace, flags.progress);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { config: defaultConfig(), source: 'the installed config', error: err.message };
  }
}

/** Running pods, and those of them the config recognises as agents. */
async function readAgents(kc: RestConfig, config: Config, progress?: Progress): Promise<CheckInput['agents']> {
  const pods = await listAll(
    kc,
    '/api/v1/pods',
    (o) => {
      const pod = o as Pod;
      return pod.status?.phase === 'Running' ? agentContainers(pod.spec, config.agent).length > 0 : undefined;
    },
    { ...(progress && { progress }) },
  );
  return {
    running: pods.items.length,
    recognized: pods.items.filter(Boolean).length,
    containerNames: config.agent.containerNames,
    imageNames: config.agent.imageNames,
  };
}

/** The webhook's registration: its configurations and webhooks, and the release that installed them. */
async function readRegistration(kc: RestConfig) {
  const found = await readWebhookConfigurations(kc, []);
  const webhooks = webhookViews(found);
  const instance = found[0]?.object.metadata?.labels?.['app.kubernetes.io/instance'];
  const namespace = webhooks.find((w) => w.service)?.service?.namespace;
  const kinds = {
    mutating: found.filter((f) => f.kind.startsWith('Mutating')).length,
    validating: found.filter((f) => f.kind.startsWith('Validating')).length,
  };
  return { webhooks, kinds, namespace, ...(instance && namespace && { release: { name: instance, namespace } }) };
}

/** The dry runs through the admission path, in `namespace` or the first opted-in one. */
async function readAdmission(kc: RestConfig, config: Config, namespace: string | undefined) {
  const opted = namespace ?? [...((await readOptedInNamespaces(kc)) ?? [])].sort()[0];
  if (!opted) return { noOptedInNamespace: true };
  const [admission, deprecated] = await Promise.all([
    dryRun(kc, opted, [], config),
    dryRun(kc, opted, [{ name: DEPRECATED_ENV, value: 'true' }], config),
  ]);
  return { admission, deprecated };
}

/** What status warns of about the controller and the election (its webhook part is check's own). */
async function readStatusWarnings(kc: RestConfig, config: Config, source: string, flags: CheckFlags) {
  const { progress } = flags;
  const controller = await readController(kc, config, flags.lease);
  const nodes = await readNodes(kc, progress);
  const pods = await readPods(kc, config, undefined, electionPod(config), progress);
  const webhook = { configurations: ['(checked apart)'], endpoints: [] };
  return statusReport({ config, configSource: source, pods, nodes, ...controller, webhook }).warnings;
}

export async function readCheck(kc: RestConfig, flags: CheckFlags): Promise<CheckInput> {
  const version = await readServerVersion(kc);
  const { webhooks, kinds, namespace, release } = await readRegistration(kc);
  const { config, source, error } = await readConfig(kc, flags, namespace);
  const svc = webhooks.find((w) => w.service)?.service;
  // Read once: the ready count for the Service finding, the addresses for the served certificate.
  const endpoints = svc ? await readReadyEndpoints(kc, svc.namespace, svc.name) : undefined;
  const [service, served, admission, statusWarnings, agents] = await Promise.all([
    svc && readService(kc, svc.namespace, svc.name, endpoints!.ready),
    readServed(kc, webhooks, endpoints?.addresses ?? []),
    readAdmission(kc, config, flags.namespace),
    readStatusWarnings(kc, config, source, flags),
    readAgents(kc, config, flags.progress),
  ]);
  return {
    now: Date.now(),
    serverVersion: version ?? '',
    tested: TESTED_KUBERNETES,
    config: { source, deprecatedEnv: config.deprecatedEnv, ...(error && { error }) },
    ...(release && { release }),
    kinds,
    webhooks,
    ...(service && { service }),
    served,
    ...admission,
    statusWarnings,
    agents,
  };
}

async function readService(
  kc: RestConfig,
  namespace: string,
  name: string,
  readyEndpoints: number,
): Promise<CheckInput['service']> {
  try {
    const svc = await kubeRequest<{ spec?: { ports?: { port: number }[] } }>(
      kc,
      'GET',
      resourcePath(SERVICES, namespace, name),
    );
    return { ports: (svc.spec?.ports ?? []).map((p) => p.port), readyEndpoints };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
