/**
 * The controller's view of the cluster: informers on the agent pods of the elected namespaces and
 * on the nodes, storing only their records (agent_pod_record.ts), and their handlers filing every
 * change in an {@link AgentPodIndex}, which is what an election reads.
 */
import type { Config } from '../config/config.ts';
import { finalState } from '../kube/cache/deltas.ts';
import type { SharedInformerFactory } from '../kube/cache/informer_factory.ts';
import type { HandlerRegistration, SharedInformer } from '../kube/cache/shared_informer.ts';
import { PODS, resourcePath } from '../kube/paths.ts';
import { AgentPodIndex } from '../watcher_election/agent_pod_index.ts';
import type { PodFacts } from '../watcher_election/candidates.ts';
import type { CandidateReport } from '../watcher_election/elect.ts';
import { agentPodRecord, nodeReadiness, type NodeReadiness } from './agent_pod_record.ts';

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * A watch-disabled agent pod that is neither labelled as the watcher nor carries the old variable
 * (or no agent pod at all): no election reads it, only its number does (the candidates metric).
 * In a serverless cluster nearly every pod event is of one.
 */
const onlyCounted = (f: PodFacts | null | undefined): boolean =>
  !f || (f.policy === 'watch-disabled' && !f.watcherLabel && !f.deprecatedEnv);

/** What the handlers call: `changed` for a change an election can see, `counted` for one only the counts can. */
export interface CacheListeners {
  changed: () => void;
  counted: () => void;
}

export class AgentPodCache {
  readonly index = new AgentPodIndex();
  private readonly podInformers: SharedInformer<PodFacts | null>[];
  private readonly nodeInformer: SharedInformer<NodeReadiness>;
  private readonly registrations: HandlerRegistration[] = [];

  constructor(factory: Pick<SharedInformerFactory, 'informer'>, config: Config, on: CacheListeners) {
    const paths =
      config.election.namespaces.length === 0
        ? ['/api/v1/pods']
        : config.election.namespaces.map((ns) => resourcePath(PODS, ns));
    const record = agentPodRecord(config);
    this.podInformers = paths.map((path) => factory.informer({ path, transform: record }));
    this.nodeInformer = factory.informer({ path: '/api/v1/nodes', transform: nodeReadiness });
    for (const informer of this.podInformers) this.registrations.push(this.handlePods(informer, on));
    this.registrations.push(this.handleNodes(on.changed));
  }

  /**
   * Resolves once the handlers have filed everything the informers hold (call after the
   * informers synced): the handlers run after the store is written, so a synced store alone does
   * not mean a complete index (client-go waits for the handlers' HasSynced the same way).
   */
  async whenFiled(): Promise<void> {
    await Promise.all(this.registrations.map((r) => r.whenIdle()));
  }

  /** An update that leaves a pod's record as it was (a heartbeat, an annotation, a pod without an agent) changes nothing. */
  private handlePods(informer: SharedInformer<PodFacts | null>, on: CacheListeners): HandlerRegistration {
    const tell = (before: PodFacts | null | undefined, after: PodFacts | null | undefined) => {
      if (!before && !after) return;
      if (onlyCounted(before) && onlyCounted(after)) on.counted();
      else on.changed();
    };
    return informer.addEventHandler({
      add: (f) => {
        this.index.update(undefined, f);
        tell(undefined, f);
      },
      update: (before, after) => {
        this.index.update(before, after);
        if (!same(before, after)) tell(before, after);
      },
      delete: (gone) => {
        const f = finalState(gone);
        this.index.update(f, undefined);
        tell(f, undefined);
      },
    });
  }

  private handleNodes(changed: () => void): HandlerRegistration {
    return this.nodeInformer.addEventHandler({
      add: (n) => {
        this.index.setNodeNotReady(n.name, n.notReady);
        changed();
      },
      update: (before, after) => {
        this.index.setNodeNotReady(after.name, after.notReady);
        if (before.notReady !== after.notReady) changed();
      },
      delete: (gone) => {
        this.index.setNodeNotReady(finalState(gone).name, false);
        changed();
      },
    });
  }

  get nodes(): number {
    return this.nodeInformer.indexer.size;
  }

  /** Every watch-disabled agent pod as /status lists it, read from the stores when asked. */
  *watchDisabledRows(): Generator<CandidateReport> {
    for (const informer of this.podInformers)
      for (const f of informer.indexer.list()) if (f?.policy === 'watch-disabled') yield this.index.reportOf(f);
  }
}
