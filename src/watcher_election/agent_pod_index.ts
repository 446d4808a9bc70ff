/**
 * The agent pods of the cluster as the controller files them, one pod event at a time, so that
 * an election costs the pods that may ever watch, not the `watch-disabled` sidecars beside them.
 *
 * In a serverless cluster nearly every pod carries a watch-disabled agent: they can never be
 * elected and only their number matters (the candidates metric, NoWatcherCandidate's message).
 * So the index keeps the pods that may watch by name, and counts the watch-disabled ones: by
 * node for those that are fine in themselves (their reason is `node-not-ready` while the node is
 * known NotReady, else `watch-disabled`), by their own reason for the others. An event costs a
 * few map updates; an election costs the pods that may watch and the NotReady nodes.
 *
 * The election over the index equals `elect` over every agent pod, but for the candidates it
 * reports: only the pods that may watch (the watch-disabled ones are in the tally).
 */
import { candidateOf, type IneligibleReason, type PodFacts } from './candidates.ts';
import {
  electAmong,
  reportOf,
  type CandidateReport,
  type Election,
  type ElectionTally,
  type WatcherRef,
} from './elect.ts';

const keyOf = (f: PodFacts): string => `${f.namespace}/${f.name}`;

function count<K>(map: Map<K, number>, key: K, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n === 0) map.delete(key);
  else map.set(key, n);
}

function file(map: Map<string, PodFacts>, f: PodFacts, by: 1 | -1): void {
  if (by > 0) map.set(keyOf(f), f);
  else map.delete(keyOf(f));
}

export class AgentPodIndex {
  /** Agent pods whose policy is not watch-disabled, by namespace/name. */
  private readonly mayWatch = new Map<string, PodFacts>();
  /** Watch-disabled pods that are fine in themselves, by node. */
  private readonly disabledByNode = new Map<string, number>();
  private disabledFine = 0;
  /** The other watch-disabled pods, by their own reason. */
  private readonly disabledByReason = new Map<IneligibleReason, number>();
  private disabledTotal = 0;
  private readonly labelled = new Map<string, PodFacts>();
  private readonly deprecated = new Map<string, PodFacts>();
  private readonly notReady = new Set<string>();
  private readonly nodeNotReady = (node: string): boolean => this.notReady.has(node);

  /** One pod event: `before` leaves and `after` enters (null or undefined: absent, or not an agent pod). */
  update(before: PodFacts | null | undefined, after: PodFacts | null | undefined): void {
    if (before) this.file(before, -1);
    if (after) this.file(after, 1);
  }

  /** One node event: whether the node is known NotReady (false also when it is deleted). */
  setNodeNotReady(node: string, notReady: boolean): void {
    if (notReady) this.notReady.add(node);
    else this.notReady.delete(node);
  }

  private file(f: PodFacts, by: 1 | -1): void {
    if (f.policy !== 'watch-disabled') file(this.mayWatch, f, by);
    else {
      this.disabledTotal += by;
      if (f.ineligible === 'watch-disabled' || f.ineligible === undefined) {
        this.disabledFine += by;
        count(this.disabledByNode, f.node, by);
      } else count(this.disabledByReason, f.ineligible, by);
    }
    if (f.watcherLabel) file(this.labelled, f, by);
    if (f.deprecatedEnv) file(this.deprecated, f, by);
  }

  /** The election (DESIGN §6); its candidates are the pods that may watch. */
  elect(current: WatcherRef | undefined): Election {
    return electAmong(
      Array.from(this.mayWatch.values(), (f) => candidateOf(f, this.nodeNotReady)),
      current,
    );
  }

  /** Every agent pod by reason: the election's candidates and the watch-disabled pods. */
  tally(election: Election): ElectionTally {
    const byReason = new Map<CandidateReport['reason'], number>();
    for (const c of election.candidates) count(byReason, c.reason, 1);
    for (const [reason, n] of this.disabledByReason) count(byReason, reason, n);
    let onNotReady = 0;
    for (const node of this.notReady) onNotReady += this.disabledByNode.get(node) ?? 0;
    count(byReason, 'node-not-ready', onNotReady);
    count(byReason, 'watch-disabled', this.disabledFine - onNotReady);
    return { total: election.candidates.length + this.disabledTotal, byReason };
  }

  /** How many agent pods are filed. */
  get size(): number {
    return this.mayWatch.size + this.disabledTotal;
  }

  /** How many agent pods are watch-disabled. */
  get watchDisabled(): number {
    return this.disabledTotal;
  }

  /** The agent pods labelled as the watcher. */
  labelledPods(): PodFacts[] {
    return [...this.labelled.values()];
  }

  /** The agent pods that carry `ONLY_WATCH_K8S_RESOURCE`. */
  deprecatedPods(): PodFacts[] {
    return [...this.deprecated.values()];
  }

  /** A watch-disabled pod as /status lists it (the index counts them; the caller has them). */
  reportOf(f: PodFacts): CandidateReport {
    return reportOf(candidateOf(f, this.nodeNotReady), 'standby');
  }
}
