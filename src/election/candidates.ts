/**
 * Who may be the watcher: DESIGN §6 candidates and their eligibility.
 *
 * A candidate is a pod with an agent container in `election.namespaces`. It is eligible when it
 * is not terminating, is Running and Ready, is bound to a node not known to be NotReady, does not
 * carry `ONLY_WATCH_K8S_RESOURCE` (its agent exits) and its policy is not `watch-disabled`.
 * The policy is read the way the agent reads it: unknown and `valueFrom` values count as normal.
 */
import { agentContainers, allContainers } from '../agent/agent_containers.js';
import { findEnv, hasEnv, policyOfEnv } from '../admission/container_env.js';
import type { Config } from '../config/config.js';
import type { Node, Pod } from '../kube/objects.js';
import { DEPRECATED_ENV, POLICY_ENV } from '../policy/labels.js';
import type { Policy } from '../policy/policy.js';

/** Why a candidate is not eligible; eligible candidates carry their standing instead. */
export type IneligibleReason = 'terminating' | 'deprecated-env' | 'not-running' | 'not-ready' | 'unscheduled' | 'node-not-ready' | 'watch-disabled';

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

/** The policy the pod's (first) agent container runs with. */
export function podPolicy(pod: Pod, config: Config): Policy {
  const agent = agentContainers(pod.spec, config.agent)[0];
  return policyOfEnv(agent && findEnv(agent.container, POLICY_ENV));
}

/** Known NotReady: a Ready condition that is not True (False, or Unknown when the node stopped reporting). */
function knownNotReady(node: Node): boolean {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  return ready !== undefined && ready.status !== 'True';
}

function ineligibility(pod: Pod, policy: Policy, nodes: ReadonlyMap<string, Node>): IneligibleReason | undefined {
  if (pod.metadata?.deletionTimestamp) return 'terminating';
  if (allContainers(pod.spec).some(({ container }) => hasEnv(container, DEPRECATED_ENV))) return 'deprecated-env';
  if (pod.status?.phase !== 'Running') return 'not-running';
  if (pod.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') return 'not-ready';
  const nodeName = pod.spec?.nodeName;
  if (!nodeName) return 'unscheduled';
  const node = nodes.get(nodeName);
  if (node && knownNotReady(node)) return 'node-not-ready';
  if (policy === 'watch-disabled') return 'watch-disabled';
  return undefined;
}

/** Every agent pod of the elected namespaces, with its policy and eligibility. */
export function candidatePods(pods: readonly Pod[], nodes: readonly Node[], config: Config): CandidatePod[] {
  const byName = new Map<string, Node>();
  for (const node of nodes) if (node.metadata?.name) byName.set(node.metadata.name, node);
  const namespaces = config.election.namespaces;
  const out: CandidatePod[] = [];
  for (const pod of pods) {
    const namespace = pod.metadata?.namespace ?? 'default';
    if (namespaces.length > 0 && !namespaces.includes(namespace)) continue;
    if (agentContainers(pod.spec, config.agent).length === 0) continue;
    const policy = podPolicy(pod, config);
    const ineligible = ineligibility(pod, policy, byName);
    const createdAt = time(pod.metadata?.creationTimestamp);
    const readyAt = time(pod.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime);
    out.push({
      namespace,
      name: pod.metadata?.name ?? '',
      uid: pod.metadata?.uid ?? '',
      node: pod.spec?.nodeName ?? '',
      policy,
      eligible: ineligible === undefined,
      ...(ineligible && { ineligible }),
      readySince: Number.isFinite(readyAt) ? readyAt : createdAt,
      createdAt,
    });
  }
  return out;
}
