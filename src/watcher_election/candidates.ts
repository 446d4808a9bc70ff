/**
 * Who may be the watcher: DESIGN §6 candidates and their eligibility.
 *
 * A candidate is a pod with an agent container in `election.namespaces`. It is eligible when it
 * is not terminating, is Running and Ready, is bound to a node not known to be NotReady, does not
 * carry `ONLY_WATCH_K8S_RESOURCE` (its agent exits) and its policy is not `watch-disabled`.
 * The policy is read the way the agent reads it: `onlyWatchValue` and `watch-disabled` literally;
 * unknown values, the other only-watch spelling and `valueFrom` count as normal.
 */
import { agentContainers, allContainers } from '../agent/agent_containers.ts';
import { findEnv, hasEnv, policyOfEnv } from '../agent/container_env.ts';
import type { Config } from '../config/config.ts';
import type { Node, Pod } from '../kube/objects.ts';
import { DEPRECATED_ENV, POLICY_ENV, WATCHER_LABEL } from '../policy/labels.ts';
import type { Policy } from '../policy/policy.ts';

/** Why a candidate is not eligible; eligible candidates carry their standing instead. */
export type IneligibleReason =
  'terminating' | 'deprecated-env' | 'not-running' | 'not-ready' | 'unscheduled' | 'node-not-ready' | 'watch-disabled';

export interface CandidatePod {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  policy: Policy;
  eligible: boolean;
  ineligible?: IneligibleReason;
  /** When the pod became Ready (ms since epoch), else when it was created; for "oldest Ready". */
  readySince: number;
  createdAt: number;
}

function time(value: string | undefined): number {
  const t = value === undefined ? NaN : Date.parse(value);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

/** The policy the pod's (first) agent container runs with, read as the agent reads it (`onlyWatchValue`). */
export function podPolicy(pod: Pod, config: Config): Policy {
  const agent = agentContainers(pod.spec, config.agent)[0];
  return policyOfEnv(agent && findEnv(agent.container, POLICY_ENV), config.onlyWatchValue);
}

/** Known NotReady: a Ready condition that is not True (False, or Unknown when the node stopped reporting). */
export function knownNotReady(node: Node): boolean {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  return ready !== undefined && ready.status !== 'True';
}

/**
 * What a candidate is, from the pod alone (no nodes): everything the election, its alarms and its
 * publication read of an agent pod. The controller keeps one per agent pod instead of the pod (a
 * few hundred bytes, see docs/bench/scale.md); every field is always present (one shape).
 */
export interface PodFacts {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  policy: Policy;
  /** Ineligible whatever the nodes say (everything but `node-not-ready`). */
  ineligible: Exclude<IneligibleReason, 'node-not-ready'> | undefined;
  readySince: number;
  createdAt: number;
  /** Labelled `deepflow.io/k8s-watcher: "true"`: the publication moves the label to the watcher. */
  watcherLabel: boolean;
  /** Some container carries `ONLY_WATCH_K8S_RESOURCE` (the DeprecatedEnv alarm; terminating pods too). */
  deprecatedEnv: boolean;
}

function podIneligibility(pod: Pod, policy: Policy, deprecatedEnv: boolean): PodFacts['ineligible'] {
  if (pod.metadata?.deletionTimestamp) return 'terminating';
  if (deprecatedEnv) return 'deprecated-env';
  if (pod.status?.phase !== 'Running') return 'not-running';
  if (pod.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') return 'not-ready';
  if (!pod.spec?.nodeName) return 'unscheduled';
  if (policy === 'watch-disabled') return 'watch-disabled';
  return undefined;
}

/** The facts of an agent pod of the elected namespaces; null for any other pod. */
export function podFacts(pod: Pod, config: Config): PodFacts | null {
  const namespace = pod.metadata?.namespace ?? 'default';
  const namespaces = config.election.namespaces;
  if (namespaces.length > 0 && !namespaces.includes(namespace)) return null;
  if (agentContainers(pod.spec, config.agent).length === 0) return null;
  const policy = podPolicy(pod, config);
  const deprecatedEnv = allContainers(pod.spec).some(({ container }) => hasEnv(container, DEPRECATED_ENV));
  const createdAt = time(pod.metadata?.creationTimestamp);
  const readyAt = time(pod.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime);
  return {
    namespace,
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    node: pod.spec?.nodeName ?? '',
    policy,
    ineligible: podIneligibility(pod, policy, deprecatedEnv),
    readySince: Number.isFinite(readyAt) ? readyAt : createdAt,
    createdAt,
    watcherLabel: pod.metadata?.labels?.[WATCHER_LABEL] === 'true',
    deprecatedEnv,
  };
}

/**
 * The candidate an agent pod is, given which nodes are known NotReady. The order of DESIGN §6's
 * reasons: a pod that is fine in itself can still be on a NotReady node; watch-disabled is named
 * last, after every state that would exclude any agent.
 */
export function candidateOf(facts: PodFacts, nodeNotReady: (node: string) => boolean): CandidatePod {
  let ineligible: IneligibleReason | undefined = facts.ineligible;
  if ((ineligible === undefined || ineligible === 'watch-disabled') && nodeNotReady(facts.node))
    ineligible = 'node-not-ready';
  return {
    namespace: facts.namespace,
    name: facts.name,
    uid: facts.uid,
    node: facts.node,
    policy: facts.policy,
    eligible: ineligible === undefined,
    ...(ineligible && { ineligible }),
    readySince: facts.readySince,
    createdAt: facts.createdAt,
  };
}

/** Every agent pod of the elected namespaces, with its policy and eligibility. */
export function candidatePods(pods: readonly Pod[], nodes: readonly Node[], config: Config): CandidatePod[] {
  const notReady = new Set<string>();
  for (const node of nodes) if (node.metadata?.name && knownNotReady(node)) notReady.add(node.metadata.name);
  const out: CandidatePod[] = [];
  for (const pod of pods) {
    const facts = podFacts(pod, config);
    if (facts !== null) out.push(candidateOf(facts, (name) => notReady.has(name)));
  }
  return out;
}
