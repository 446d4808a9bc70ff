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
import { candidatePods, type CandidatePod } from './candidates.ts';

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

/** A candidate as an election reports it: its own reason when ineligible, else `standing`. */
export function reportOf(c: CandidatePod, standing: StandingReason): CandidateReport {
  return {
    namespace: c.namespace,
    name: c.name,
    node: c.node,
    policy: c.policy,
    eligible: c.eligible,
    reason: c.ineligible ?? standing,
  };
}

/** The election over every agent pod (the CLI's `elect`, `status`): see {@link electAmong}. */
export function elect(
  pods: readonly Pod[],
  nodes: readonly Node[],
  current: WatcherRef | undefined,
  config: Config,
): Election {
  return electAmong(candidatePods(pods, nodes, config), current);
}

/**
 * The election among `all` candidates; `candidates` reports each of them, oldest first. The
 * controller passes only the pods that may ever watch (not the watch-disabled ones, which can
 * never win and which it counts instead): the watcher and reason are the same.
 */
export function electAmong(all: readonly CandidatePod[], current: WatcherRef | undefined): Election {
  const eligible = all.filter((c) => c.eligible);
  const tier = TIERS.find((t) => eligible.some((c) => c.policy === t));
  const inTier = eligible.filter((c) => c.policy === tier).sort(olderFirst);
  const sticky = inTier.find((c) => isCurrent(c, current));
  const chosen = sticky ?? inTier[0];
  const reason: ElectionReason = !chosen ? 'no-candidate' : sticky ? 'sticky' : 'oldest-ready';

  const candidates = [...all]
    .sort(olderFirst)
    .map((c) => reportOf(c, c === chosen ? 'elected' : c.policy === tier ? 'standby' : 'lower-tier'));
  const watcher = chosen
    ? { namespace: chosen.namespace, name: chosen.name, uid: chosen.uid, node: chosen.node, policy: chosen.policy }
    : null;
  return { watcher, reason, candidates };
}

/** How many agent pods stand for each reason (what NoWatcherCandidate's message counts). */
export interface ElectionTally {
  total: number;
  byReason: ReadonlyMap<CandidateReport['reason'], number>;
}

/** The order a tally is told in: the standings, then DESIGN §6's reasons. */
export const REASON_ORDER: readonly CandidateReport['reason'][] = [
  'elected',
  'standby',
  'lower-tier',
  'terminating',
  'deprecated-env',
  'not-running',
  'not-ready',
  'unscheduled',
  'node-not-ready',
  'watch-disabled',
];

export function tallyOf(candidates: readonly Pick<CandidateReport, 'reason'>[]): ElectionTally {
  const byReason = new Map<CandidateReport['reason'], number>();
  for (const c of candidates) byReason.set(c.reason, (byReason.get(c.reason) ?? 0) + 1);
  return { total: candidates.length, byReason };
}

/** `3 watch-disabled, 1 not-ready`: the reasons present, in {@link REASON_ORDER}. */
export function tallyText(tally: ElectionTally): string {
  return REASON_ORDER.filter((r) => (tally.byReason.get(r) ?? 0) > 0)
    .map((r) => `${tally.byReason.get(r)} ${r}`)
    .join(', ');
}
