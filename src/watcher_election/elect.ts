/**
 * The election of DESIGN §6, as a pure function of (pods, nodes, current watcher, config).
 *
 *   1. exclude watch-disabled (and every ineligible pod, see candidates.ts);
 *   2. the best non-empty tier wins: only-watch, then normal;
 *   3. stickiness: the current watcher stays while it is eligible and in the winning tier;
 *   4. otherwise the oldest Ready candidate of the tier (Ready transition time, then creation
 *      time, then namespace/name) becomes the watcher;
 *   5. no candidate: no watcher.
 *
 * Identity is the pod (namespace/name/uid): two agents on one node are two candidates, and a pod
 * re-created under the same name is a new pod.
 */
import type { Config } from '../config/config.ts';
import type { Node, Pod } from '../kube/objects.ts';
import type { Policy } from '../policy/policy.ts';
import { candidatePods, type CandidatePod, type PodFactsCache } from './candidates.ts';

/** The current watcher, as the Lease names it (`holderIdentity` and the watcher-uid annotation). */
export interface WatcherRef {
  namespace: string;
  name: string;
  uid?: string;
}

export interface Watcher {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  policy: Policy;
}

export type ElectionReason = 'sticky' | 'oldest-ready' | 'no-candidate';

/** Why an eligible candidate is or is not the watcher. */
export type StandingReason = 'elected' | 'standby' | 'lower-tier';

export interface CandidateReport {
  namespace: string;
  name: string;
  node: string;
  policy: Policy;
  eligible: boolean;
  reason: StandingReason | NonNullable<CandidatePod['ineligible']>;
}

export interface Election {
  watcher: Watcher | null;
  reason: ElectionReason;
  candidates: CandidateReport[];
}

const TIERS: readonly Policy[] = ['only-watch', 'normal'];

/**
 * What an election means for DeepFlow, said wherever one is shown (`elect`, the controller's
 * /status): the server, not this election, assigns the watch.
 */
export const ASSIGNMENT_NOTE =
  "The DeepFlow server assigns the Kubernetes watch, steered only by the agents' K8S_WATCH_POLICY (which the webhook sets): " +
  'a watch-only agent takes it over, watch-disabled agents never get it. This is the agent the same rules choose; ' +
  'without a watch-only agent the server keeps whichever normal agent asked first, which may be another one.';

/** Code-unit order: the same everywhere, whatever the process's locale (unlike localeCompare). */
function byCode(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function olderFirst(a: CandidatePod, b: CandidatePod): number {
  return (
    a.readySince - b.readySince ||
    a.createdAt - b.createdAt ||
    byCode(a.namespace, b.namespace) ||
    byCode(a.name, b.name)
  );
}

function isCurrent(c: CandidatePod, current: WatcherRef | undefined): boolean {
  return (
    !!current && c.namespace === current.namespace && c.name === current.name && (!current.uid || current.uid === c.uid)
  );
}

/** `cache`: see {@link PodFactsCache}; the result is the same with or without it. */
export function elect(
  pods: readonly Pod[],
  nodes: readonly Node[],
  current: WatcherRef | undefined,
  config: Config,
  cache?: PodFactsCache,
): Election {
  const all = candidatePods(pods, nodes, config, cache);
  const eligible = all.filter((c) => c.eligible);
  const tier = TIERS.find((t) => eligible.some((c) => c.policy === t));
  const inTier = eligible.filter((c) => c.policy === tier).sort(olderFirst);
  const sticky = inTier.find((c) => isCurrent(c, current));
  const chosen = sticky ?? inTier[0];
  const reason: ElectionReason = !chosen ? 'no-candidate' : sticky ? 'sticky' : 'oldest-ready';

  const candidates = [...all].sort(olderFirst).map((c): CandidateReport => ({
    namespace: c.namespace,
    name: c.name,
    node: c.node,
    policy: c.policy,
    eligible: c.eligible,
    reason: c.ineligible ?? (c === chosen ? 'elected' : c.policy === tier ? 'standby' : 'lower-tier'),
  }));
  const watcher = chosen
    ? { namespace: chosen.namespace, name: chosen.name, uid: chosen.uid, node: chosen.node, policy: chosen.policy }
    : null;
  return { watcher, reason, candidates };
}
