/**
 * `kubectl watch-policy check`, as a pure function of what was read and tried: each finding names
 * what was checked, what was seen, and the one command or value that fixes it. Exit codes: 0 all
 * good, 1 a warning, 2 a failure. The controller's part reuses what `status` computes.
 */
import { certificateFindings } from './check_certificates.ts';
import { rangeText, untestedVersion } from './tested_kubernetes.ts';
import { fail, ok, skip, warn, type Finding } from './check_finding.ts';
import { INJECTION_LABEL } from '../policy/labels.ts';
import type { StatusWarning } from './status_report.ts';

export type { Finding, FindingStatus } from './check_finding.ts';

export interface WebhookView {
  configuration: string;
  name: string;
  failurePolicy?: string;
  caBundle?: string;
  service?: { namespace: string; name: string; port: number };
  url?: string;
}

export interface AdmissionTry {
  namespace: string;
  /** The dry-run-created pod, or the API server's refusal. */
  pod?: { policy?: string; reason?: string; deprecatedLeft: boolean };
  error?: string;
}

export interface CheckInput {
  now: number;
  /** The API server's gitVersion (v1.36.3). */
  serverVersion?: string;
  tested: { min: string; max: string };
  config: { source: string; error?: string; deprecatedEnv: string };
  /** The release that installed the webhook (its labels), for the fixes. */
  release?: { name: string; namespace: string };
  kinds: { mutating: number; validating: number };
  webhooks: WebhookView[];
  /** The webhook Service, when the configurations call one: undefined when it does not exist. */
  service?: { ports: number[]; readyEndpoints: number };
  /** The certificate the webhook serves (PEM), and where it was read; or why it could not be. */
  served: { cert?: string; from: string };
  /** No opted-in namespace to try admission in: the dry runs were not made. */
  noOptedInNamespace?: boolean;
  admission?: AdmissionTry;
  deprecated?: AdmissionTry;
  /** electionWarnings and controllerWarnings of status_report.ts. */
  statusWarnings: StatusWarning[];
  agents: { running: number; recognized: number; containerNames: string[]; imageNames: string[] };
}

export interface CheckReport {
  findings: Finding[];
  exitCode: 0 | 1 | 2;
}

export function helmSet(input: CheckInput, value: string): string {
  const r = input.release;
  return r
    ? `helm upgrade ${r.name} <chart> -n ${r.namespace} --reuse-values --set ${value}`
    : `set ${value} in the chart's values`;
}

export function versionFinding({ serverVersion, tested }: CheckInput): Finding {
  const name = 'kubernetes-version';
  if (!serverVersion) return skip(name, 'the API server did not say its version');
  const untested = untestedVersion(serverVersion, tested);
  if (untested)
    return warn(name, untested, `use Kubernetes ${rangeText(tested)}, or a release of k8s-watch-policy tested on it`);
  return ok(name, `Kubernetes ${serverVersion} (tested: ${rangeText(tested)})`);
}

export function configFinding(input: CheckInput): Finding {
  const { source, error } = input.config;
  if (error) return fail('config', `${source}: ${error}`, helmSet(input, '<the key named above>=<a valid value>'));
  return ok('config', `parses (${source})`);
}

export function configurationsFinding(input: CheckInput): Finding {
  const { mutating, validating } = input.kinds;
  const name = 'webhook-configurations';
  const install = 'helm upgrade --install k8s-watch-policy <chart> -n deepflow-system';
  if (mutating === 0 && validating === 0)
    return fail(name, 'no webhook configuration of k8s-watch-policy: nothing is injected or refused', install);
  if (mutating === 0 || validating === 0)
    return fail(
      name,
      `only a ${mutating === 0 ? 'ValidatingWebhookConfiguration' : 'MutatingWebhookConfiguration'}: ${mutating === 0 ? 'no K8S_WATCH_POLICY is injected' : `${'ONLY_WATCH_K8S_RESOURCE'} on controllers is not refused`}`,
      install,
    );
  const targets = [...new Set(input.webhooks.map(target))];
  return ok(name, `${input.webhooks.length} webhooks in both configurations, calling ${targets.join(', ')}`);
}

const target = (w: WebhookView) =>
  w.service ? `service ${w.service.namespace}/${w.service.name}:${w.service.port}` : (w.url ?? '(nothing)');

export function serviceFindings(input: CheckInput): Finding[] {
  const svc = input.webhooks.find((w) => w.service)?.service;
  if (!svc)
    return input.webhooks.length > 0 ? [ok('webhook-service', `called by URL: ${target(input.webhooks[0]!)}`)] : [];
  const found = serviceFinding(input, svc);
  return found.status === 'ok' ? [found, ...replicasFinding(input)] : [found];
}

function serviceFinding(input: CheckInput, svc: NonNullable<WebhookView['service']>): Finding {
  const where = `service ${svc.namespace}/${svc.name}`;
  if (!input.service) return fail('webhook-service', `${where} does not exist`, helmSet(input, 'webhook.replicas=2'));
  if (!input.service.ports.includes(svc.port))
    return fail(
      'webhook-service',
      `the configurations call ${where} on port ${svc.port}; it serves ${input.service.ports.join(', ') || 'no port'}`,
      `helm upgrade the release (the chart sets both), or kubectl -n ${svc.namespace} edit service ${svc.name}`,
    );
  const ready = input.service.readyEndpoints;
  if (ready === 0)
    return fail(
      'webhook-service',
      `${where}:${svc.port} has no ready endpoint`,
      `kubectl -n ${svc.namespace} describe deployment -l app.kubernetes.io/component=webhook`,
    );
  return ok('webhook-service', `${where}:${svc.port}, ${ready} ready endpoint${ready === 1 ? '' : 's'}`);
}

/** failurePolicy Fail on one endpoint: a node drain refuses agent pods. */
function replicasFinding(input: CheckInput): Finding[] {
  const ready = input.service?.readyEndpoints ?? 0;
  if (ready > 1) return [ok('webhook-replicas', `${ready} ready endpoints`)];
  if (!input.webhooks.some((w) => w.failurePolicy === 'Fail')) return [];
  return [
    warn(
      'webhook-replicas',
      'failurePolicy Fail with 1 ready webhook endpoint: one node drain away from refused agent pods',
      helmSet(input, 'webhook.replicas=2'),
    ),
  ];
}

/** Why a dry-run create failed, and what fixes that. */
function admissionFix(error: string, input: CheckInput): string {
  if (/x509|certificate/i.test(error)) return 'the caBundle does not trust the webhook: see the ca-bundle finding';
  // No ready endpoint explains any error (a replica that just went may time out rather than refuse).
  const down = input.service?.readyEndpoints === 0;
  if (down || /no endpoints|connection refused|no route|service.*not found/i.test(error))
    return `start the webhook: kubectl -n ${input.release?.namespace ?? '<namespace>'} get pods -l app.kubernetes.io/component=webhook`;
  if (/timeout|deadline|context canceled|i\/o timeout/i.test(error))
    return `the API server cannot reach the webhook's pods: on EKS with a custom CNI ${helmSet(input, 'webhook.hostNetwork=true')}; on GKE private clusters open the webhook port to the control plane (chart README, Managed clusters)`;
  return `kubectl -n ${input.release?.namespace ?? '<namespace>'} logs -l app.kubernetes.io/component=webhook`;
}

export function admissionFindings(input: CheckInput): Finding[] {
  if (input.noOptedInNamespace)
    return [
      fail(
        'admission',
        'no namespace is opted in: the webhook reviews no pod',
        `kubectl label namespace <agents' namespace> ${INJECTION_LABEL}=enabled`,
      ),
    ];
  const out: Finding[] = [];
  const a = input.admission;
  if (a) {
    const where = `a dry-run agent pod in ${a.namespace}`;
    if (a.error) out.push(fail('admission', `${where} was refused: ${a.error}`, admissionFix(a.error, input)));
    else if (!a.pod?.policy || !a.pod.reason)
      out.push(
        fail(
          'admission',
          `${where} was admitted without ${a.pod?.policy ? 'the reason annotation' : 'K8S_WATCH_POLICY'}: the webhook did not mutate it`,
          `kubectl get namespace ${a.namespace} --show-labels (the webhook selects ${INJECTION_LABEL}=enabled); kubectl get mutatingwebhookconfigurations`,
        ),
      );
    else out.push(ok('admission', `${where} gets K8S_WATCH_POLICY=${a.pod.policy} (${a.pod.reason})`));
  }
  const d = input.deprecated;
  if (d) out.push(deprecatedFinding(d, input));
  return out;
}

function deprecatedFinding(d: AdmissionTry, input: CheckInput): Finding {
  const name = 'deprecated-env';
  const where = `a dry-run agent pod with ONLY_WATCH_K8S_RESOURCE in ${d.namespace}`;
  const mode = input.config.deprecatedEnv;
  if (mode === 'reject') {
    if (d.error && /ONLY_WATCH_K8S_RESOURCE is no longer supported/.test(d.error))
      return ok(name, `${where} is refused: ${d.error.slice(0, 160)}`);
    return fail(
      name,
      d.error
        ? `${where} was refused for another reason: ${d.error}`
        : `${where} was admitted: agents from v6.6.6 on exit with it`,
      'kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -l app.kubernetes.io/part-of=k8s-watch-policy',
    );
  }
  if (d.error) return fail(name, `${where} was refused: ${d.error}`, admissionFix(d.error, input));
  if (mode === 'migrate' && d.pod?.deprecatedLeft)
    return fail(name, `${where} kept it (deprecatedEnv: migrate)`, 'see the webhook logs');
  return ok(
    name,
    `${where} is admitted${mode === 'migrate' ? ' with it migrated' : ' with a warning'} (deprecatedEnv: ${mode})`,
  );
}

/** The controller and the election, from status's warnings. */
export function controllerFindings(input: CheckInput): Finding[] {
  if (input.statusWarnings.length === 0) return [ok('controller', 'a leader, a published watcher, no alarm active')];
  const namespace = input.release?.namespace ?? '<namespace>';
  return input.statusWarnings.map((w) => {
    switch (w.kind) {
      case 'no-controller':
        return fail(
          'controller',
          w.message,
          `kubectl -n ${namespace} get pods -l app.kubernetes.io/component=controller`,
        );
      case 'no-watcher':
        return fail('watcher', w.message, 'kubectl watch-policy status (the candidates and why none is eligible)');
      default:
        return warn(
          w.kind === 'published-differs' ? 'controller' : 'watcher',
          w.message,
          'kubectl watch-policy status',
        );
    }
  });
}

export function agentFinding(input: CheckInput): Finding {
  const { agents } = input;
  const names = `agent.containerNames ${JSON.stringify(agents.containerNames)}, agent.imageNames ${JSON.stringify(agents.imageNames)}`;
  if (agents.recognized > 0)
    return ok('agent-containers', `${agents.recognized} running pods have an agent container (${names})`);
  return warn(
    'agent-containers',
    `none of ${agents.running} running pods has a container the config calls an agent (${names}): the webhook ignores every agent`,
    helmSet(input, 'agent.containerNames={<your agent container name>}'),
  );
}

export function checkReport(input: CheckInput): CheckReport {
  const findings = [
    versionFinding(input),
    configFinding(input),
    configurationsFinding(input),
    ...serviceFindings(input),
    ...certificateFindings(input),
    ...admissionFindings(input),
    ...controllerFindings(input),
    agentFinding(input),
  ];
  const exitCode = findings.some((f) => f.status === 'failure')
    ? 2
    : findings.some((f) => f.status === 'warning')
      ? 1
      : 0;
  return { findings, exitCode };
}
