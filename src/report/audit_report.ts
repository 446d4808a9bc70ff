/**
 * `kubectl watch-policy audit`, as a pure function of what was read: for every agent pod and pod
 * controller template in scope, what it runs with now and what the webhook would decide today
 * (the same review as `inject` and the webhook), the drift between the two, and what to do.
 */
import { agentContainers, allContainers } from '../agent/agent_containers.ts';
import { findEnv, literalValue, policyOfEnv } from '../agent/container_env.ts';
import { reviewTemplate } from '../admission/pod_template.ts';
import { reviewPod, type PodReview, type ReviewOptions } from '../admission/review_pod.ts';
import type { Config } from '../config/config.ts';
import { nodeLookupOf } from '../kube/node_lookup.ts';
import type { KubeObject, Node, Pod } from '../kube/objects.ts';
import { DEPRECATED_ENV, INJECTION_LABEL, POLICY_ENV, REASON_ANNOTATION } from '../policy/labels.ts';
import { parsePolicyEnv, type Policy } from '../policy/policy.ts';
import { sharing } from './report_pods.ts';

export type DriftKind =
  'policy' | 'reason-missing' | 'deprecated-env' | 'invalid-value' | 'duplicate-entries' | 'denied';

export interface AuditRow {
  kind: string;
  namespace: string;
  name: string;
  /** The workload a pod belongs to (`Deployment/x`, `DaemonSet/y`), or the pod itself. */
  workload: string;
  /** K8S_WATCH_POLICY of the first agent container as written (`(unset)`, `(valueFrom)`). */
  value: string;
  /** The policy the agent runs with now, read as the agent reads it. */
  policy: Policy;
  /** What the webhook would give it today, and by which rule. */
  wouldBe: Policy;
  rule: string;
  reason: string | null;
  /** Whether the webhook reviews this object's pods (its namespace or its own label opts in). */
  optedIn: boolean;
  drift: DriftKind[];
}

export interface AuditReport {
  config: string;
  namespace: string | null;
  rows: AuditRow[];
  /** One line per thing to do, deduplicated (e.g. `kubectl rollout restart deployment/x -n y`). */
  actions: string[];
  exitCode: 0 | 1;
}

export interface AuditInput {
  config: Config;
  configSource: string;
  pods: readonly Pod[];
  nodes: readonly Node[];
  /** Deployments, DaemonSets, StatefulSets, Jobs, CronJobs of the scope. */
  controllers: readonly KubeObject[];
  /** The namespaces labelled `deepflow.io/k8s-watch-policy-injection: enabled`; undefined when not known. */
  optedInNamespaces?: ReadonlySet<string>;
  namespace?: string;
}

/** The workload of a pod: a Deployment's pods belong to `<deployment>-<pod-template-hash>`. */
export function workloadOf(pod: Pod): { kind: string; name: string } {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (!owner) return { kind: 'Pod', name: pod.metadata?.name ?? '' };
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`))
    return { kind: 'Deployment', name: owner.name.slice(0, -hash.length - 1) };
  return { kind: owner.kind, name: owner.name };
}

function valueOf(
  object: Pod,
  config: Config,
): { value: string; policy: Policy; invalid: boolean; duplicates: boolean } {
  const agent = agentContainers(object.spec, config.agent)[0]?.container;
  const env = agent && findEnv(agent, POLICY_ENV);
  const literal = env && literalValue(env);
  const duplicates = agentContainers(object.spec, config.agent).some(
    ({ container }) => (container.env ?? []).filter((e) => e.name === POLICY_ENV).length > 1,
  );
  return {
    value: !env ? '(unset)' : literal === undefined ? '(valueFrom)' : literal,
    policy: policyOfEnv(env, config.onlyWatchValue),
    invalid: literal !== undefined && literal !== '' && parsePolicyEnv(literal) === undefined,
    duplicates,
  };
}

function rowOf(
  kind: string,
  object: Pod,
  workload: string,
  review: PodReview,
  config: Config,
  isPod: boolean,
  optedIn: boolean,
): AuditRow {
  const now = valueOf(object, config);
  const after = valueOf(review.pod, config);
  const drift: DriftKind[] = [];
  if (!review.allowed) drift.push('denied');
  if (isPod && review.allowed && after.policy !== now.policy) drift.push('policy');
  if (isPod && review.decision.rule !== 'disabled' && !object.metadata?.annotations?.[REASON_ANNOTATION])
    drift.push('reason-missing');
  if (allContainers(object.spec).some(({ container }) => findEnv(container, DEPRECATED_ENV)))
    drift.push('deprecated-env');
  if (now.invalid) drift.push('invalid-value');
  if (now.duplicates) drift.push('duplicate-entries');
  return {
    kind,
    namespace: object.metadata?.namespace ?? '',
    name: object.metadata?.name ?? '',
    workload,
    value: now.value,
    policy: now.policy,
    wouldBe: review.allowed ? after.policy : now.policy,
    rule: review.decision.rule,
    reason: object.metadata?.annotations?.[REASON_ANNOTATION] ?? null,
    optedIn,
    drift,
  };
}

/** The workloads `kubectl rollout restart` recreates the pods of. */
const ROLLABLE = new Set(['Deployment', 'DaemonSet', 'StatefulSet']);

/** What every row of one audit reads besides its own object: the config, the nodes, the opted-in namespaces. */
export interface AuditContext {
  config: Config;
  options: ReviewOptions;
  optedIn: (namespace: string | undefined, labels: Record<string, string> | undefined) => boolean;
  /** One copy of each equal string of the rows (namespaces, workloads, values, reasons). */
  intern: (s: string) => string;
}

export function auditContext(input: Pick<AuditInput, 'config' | 'nodes' | 'optedInNamespaces'>): AuditContext {
  const { config, optedInNamespaces } = input;
  return {
    config,
    options: { config, nodes: nodeLookupOf(input.nodes.map((n) => ({ ...n, kind: 'Node' }))) },
    optedIn: (namespace, labels) =>
      labels?.[INJECTION_LABEL] === 'enabled' ||
      optedInNamespaces === undefined ||
      optedInNamespaces.has(namespace ?? ''),
    intern: sharing().string,
  };
}

/**
 * An agent pod's row, computed alone: what `audit` keeps of a pod as its page arrives (the pod
 * itself is not kept). Undefined for a pod without an agent container.
 */
export function podRow(pod: Pod, { config, options, optedIn, intern }: AuditContext): AuditRow | undefined {
  if (agentContainers(pod.spec, config.agent).length === 0) return undefined;
  const w = workloadOf(pod);
  const opted = optedIn(pod.metadata?.namespace, pod.metadata?.labels);
  const row = rowOf('Pod', pod, `${w.kind}/${w.name}`, reviewPod(pod, options), config, true, opted);
  return {
    ...row,
    namespace: intern(row.namespace),
    workload: intern(row.workload),
    value: intern(row.value),
    reason: row.reason === null ? null : intern(row.reason),
  };
}

/** The report from the rows of the pods and of the pod controllers (in any order). */
export function auditReportOf(
  unsorted: readonly AuditRow[],
  { configSource, namespace }: Pick<AuditInput, 'configSource' | 'namespace'>,
): AuditReport {
  const rows = [...unsorted].sort(byNamespaceThenControllers);
  return {
    config: configSource,
    namespace: namespace ?? null,
    rows,
    actions: actionsFor(rows),
    exitCode: rows.some((r) => r.drift.length > 0) ? 1 : 0,
  };
}

export function auditReport(input: AuditInput): AuditReport {
  const context = auditContext(input);
  const rows: AuditRow[] = [];
  for (const pod of input.pods) {
    const row = podRow(pod, context);
    if (row) rows.push(row);
  }
  for (const object of input.controllers) {
    const row = templateRow(object, context);
    if (row) rows.push(row);
  }
  return auditReportOf(rows, input);
}

/** A pod controller's row: its template as the webhook would admit it, if it runs an agent. */
export function templateRow(object: KubeObject, { options, optedIn }: AuditContext): AuditRow | undefined {
  const reviewed = reviewTemplate(object, options);
  if (!reviewed || agentContainers(reviewed.review.pod.spec, options.config.agent).length === 0) return undefined;
  const template = {
    ...reviewed.review.pod,
    metadata: {
      ...reviewed.review.pod.metadata,
      name: object.metadata?.name ?? '',
      namespace: object.metadata?.namespace ?? '',
    },
  };
  const original = {
    ...template,
    spec:
      (object as { spec?: { template?: Pod } }).spec?.template?.spec ??
      (object as { spec?: { jobTemplate?: { spec?: { template?: Pod } } } }).spec?.jobTemplate?.spec?.template?.spec ??
      {},
  };
  const workload = `${object.kind}/${object.metadata?.name ?? ''}`;
  const opted = optedIn(object.metadata?.namespace, template.metadata?.labels);
  return rowOf(object.kind ?? '', original, workload, reviewed.review, options.config, false, opted);
}

const byCode = (a: string, b: string) => (a === b ? 0 : a < b ? -1 : 1);

/** By namespace, then pod controllers before pods, then kind and name. */
function byNamespaceThenControllers(a: AuditRow, b: AuditRow): number {
  const podLast = (r: AuditRow) => (r.kind === 'Pod' ? '1' : '0');
  return (
    byCode(a.namespace, b.namespace) ||
    byCode(podLast(a), podLast(b)) ||
    byCode(a.kind, b.kind) ||
    byCode(a.name, b.name)
  );
}

/** What to do about the drift: fix a template, opt a namespace in, restart or recreate. */
function actionsFor(rows: readonly AuditRow[]): string[] {
  const actions = new Set<string>();
  for (const row of rows) {
    const [kind, name] = row.workload.split('/') as [string, string];
    const where = `-n ${row.namespace}`;
    if (row.drift.includes('deprecated-env') || row.drift.includes('invalid-value') || row.drift.includes('denied')) {
      actions.add(
        `fix the pod template of ${row.workload} in ${row.namespace} (${row.drift.filter((d) => d !== 'policy' && d !== 'reason-missing').join(', ')}): kubectl edit ${kind.toLowerCase()}/${name} ${where}`,
      );
    }
    const recreate = row.drift.some((d) => d === 'policy' || d === 'reason-missing' || d === 'duplicate-entries');
    if (row.kind !== 'Pod' || !recreate) continue;
    // Recreated pods of a namespace that is not opted in are not reviewed either.
    if (!row.optedIn)
      actions.add(
        `opt namespace ${row.namespace} in, or its pods are never reviewed: kubectl label namespace ${row.namespace} ${INJECTION_LABEL}=enabled`,
      );
    actions.add(
      ROLLABLE.has(kind)
        ? `kubectl rollout restart ${kind.toLowerCase()}/${name} ${where}`
        : `recreate pod ${row.name} (${row.workload}): kubectl delete pod ${row.name} ${where}${kind === 'Pod' ? ', then create it again' : ''}`,
    );
  }
  return [...actions];
}
