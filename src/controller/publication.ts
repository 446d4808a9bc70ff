/**
 * What the leader writes to publish an election (DESIGN §6), as a pure plan of ordered actions:
 *
 *   1. remove the `deepflow.io/k8s-watcher` label from every pod but the new watcher (old first,
 *      so that no instant has two labelled pods);
 *   2. write the Lease `election.leaseName`: holderIdentity `<namespace>/<pod>` (absent when
 *      none), leaseTransitions counting changes, the watcher-uid/node/policy and election-reason
 *      annotations;
 *   3. label the new watcher;
 *   4. an Event: `WatcherElected` (Normal, on the new watcher) on a change, `NoWatcherCandidate`
 *      (Warning, on the Lease) when the cluster falls into having no watcher.
 *
 * Every action is idempotent and derived from what is observed, so a restarted controller (or a
 * new leader) re-adopts the Lease's watcher and only repairs what differs.
 */
import { tallyOf, tallyText, type Election, type ElectionTally, type Watcher } from '../watcher_election/elect.ts';
import type { Policy } from '../policy/policy.ts';

/** The watcher as the Lease records it. */
export interface PublishedWatcher {
  /** `<namespace>/<name>`, absent when there is no watcher. */
  holder?: string;
  uid?: string;
  node?: string;
  policy?: Policy;
  reason?: string;
  transitions: number;
}

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

export type Action =
  | { type: 'unlabel'; pod: PodRef }
  | { type: 'lease'; record: PublishedWatcher }
  | { type: 'label'; pod: PodRef }
  | { type: 'event'; reason: 'WatcherElected'; eventType: 'Normal'; pod: PodRef; message: string }
  | { type: 'event'; reason: 'NoWatcherCandidate'; eventType: 'Warning'; message: string };

export function holderOf(w: Pick<Watcher, 'namespace' | 'name'>): string {
  return `${w.namespace}/${w.name}`;
}

/** The record the Lease should hold for this election, given what it holds now. */
export function leaseRecord(election: Election, published: PublishedWatcher | undefined): PublishedWatcher {
  const w = election.watcher;
  const changed = (w ? holderOf(w) : undefined) !== published?.holder || (w?.uid ?? undefined) !== published?.uid;
  const transitions = (published?.transitions ?? 0) + (changed && published !== undefined ? 1 : 0);
  // The reason says why the watcher became the watcher: it is kept while the watcher stays (the
  // next elections only find it `sticky`), so an unchanged outcome writes nothing.
  const reason = !changed && published?.reason ? published.reason : election.reason;
  if (!w) return { reason, transitions };
  return { holder: holderOf(w), uid: w.uid, node: w.node, policy: w.policy, reason, transitions };
}

function sameRecord(a: PublishedWatcher, b: PublishedWatcher | undefined): boolean {
  return (
    b !== undefined &&
    a.holder === b.holder &&
    a.uid === b.uid &&
    a.node === b.node &&
    a.policy === b.policy &&
    a.reason === b.reason &&
    a.transitions === b.transitions
  );
}

/**
 * The writes that bring the cluster to the election's outcome.
 * @param labelled the pods that carry `deepflow.io/k8s-watcher: "true"` now
 * @param onlyWatchValue the configured only-watch spelling, named in the advice of NoWatcherCandidate
 * @param tally every agent pod by reason, for NoWatcherCandidate's message (default: the election's candidates)
 */
export function planPublication(
  election: Election,
  published: PublishedWatcher | undefined,
  labelled: readonly PodRef[],
  onlyWatchValue: string,
  tally: ElectionTally = tallyOf(election.candidates),
): Action[] {
  const w = election.watcher;
  const actions: Action[] = [];
  for (const pod of labelled) if (!w || pod.uid !== w.uid) actions.push({ type: 'unlabel', pod });

  const record = leaseRecord(election, published);
  if (!sameRecord(record, published)) actions.push({ type: 'lease', record });

  if (w && !labelled.some((p) => p.uid === w.uid))
    actions.push({ type: 'label', pod: { namespace: w.namespace, name: w.name, uid: w.uid } });

  const changed = record.holder !== published?.holder || record.uid !== published?.uid;
  if (w && changed) {
    const from = published?.holder ? ` (was ${published.holder})` : '';
    actions.push({
      type: 'event',
      reason: 'WatcherElected',
      eventType: 'Normal',
      pod: { namespace: w.namespace, name: w.name, uid: w.uid },
      message: `${holderOf(w)} on node ${w.node || '<none>'} is the Kubernetes watcher (policy ${w.policy}, ${election.reason})${from}`,
    });
  }
  if (!w && (published === undefined || published.holder !== undefined)) {
    const ineligible = tally.total;
    actions.push({
      type: 'event',
      reason: 'NoWatcherCandidate',
      eventType: 'Warning',
      message:
        ineligible === 0
          ? 'no agent pod found: no deepflow-agent watches the Kubernetes API'
          : `none of ${ineligible} agent pods is eligible (${tallyText(tally)}): no deepflow-agent watches the Kubernetes API; add a watcher Deployment (one agent pod with K8S_WATCH_POLICY=${onlyWatchValue}) or agents that may watch`,
    });
  }
  return actions;
}
