/**
 * The watcher-election controller (DESIGN §6): informers on agent pods and nodes; every change
 * re-runs the pure election (coalesced, so a burst of events costs one election); the replica
 * that holds the leader Lease publishes the result (see publication.ts). Followers keep their
 * caches warm and compute the election too, for /status and a fast takeover.
 *
 * The DeepFlow server, not this controller, assigns the watch: it reads only the agents'
 * K8S_WATCH_POLICY (which the webhook sets). The published election says which agent should
 * watch under the design's rules, and the alarms (NoWatcherCandidate, MultipleWatchOnlyAgents,
 * DeprecatedEnv) are the ones the server does not raise.
 */
import { PODS, resourcePath } from '../kube/paths.ts';
import { allContainers } from '../agent/agent_containers.ts';
import { hasEnv } from '../agent/container_env.ts';
import type { PodFactsCache } from '../watcher_election/candidates.ts';
import { ASSIGNMENT_NOTE, elect, type Election, type WatcherRef } from '../watcher_election/elect.ts';
import { SharedInformerFactory } from '../kube/cache/informer_factory.ts';
import { LeaderElector } from '../kube/leaderelection/elector.ts';
import type { KubeObject, Pod } from '../kube/objects.ts';
import type { SharedInformer } from '../kube/cache/shared_informer.ts';
import { errorMessage } from '../log.ts';
import { DEPRECATED_ENV, WATCHER_LABEL } from '../policy/labels.ts';
import { POLICIES } from '../policy/policy.ts';
import { Coalescer } from './coalescer.ts';
import { planPublication, type PodRef, type PublishedWatcher } from './publication.ts';
import { Publisher } from './publisher.ts';
import { trimNode, trimPod } from './trim_pod.ts';
import { QUIET, stepWatchOnlyAlarm, type WatchOnlyAlarmState } from './watch_only_alarm.ts';
import type { Lease } from '../kube/objects.ts';
import { publishedWatcher } from './watcher_lease.ts';
import type { ControllerOptions } from './controller_options.ts';
import type { ControllerStatus } from './status_server.ts';

export type { ControllerOptions } from './controller_options.ts';
import { recordDeprecatedEnv, recordMultipleWatchOnly } from './alarm_events.ts';

const refOf = (pod: Pod): PodRef => ({
  namespace: pod.metadata?.namespace ?? '',
  name: pod.metadata?.name ?? '',
  uid: pod.metadata?.uid ?? '',
});

/** What an election showed besides the watcher: the pods with the old variable, the watch-only agents, the alarm. */
interface Observed {
  deprecated: Pod[];
  watchOnly: Election['candidates'];
  raised: boolean;
}

function currentOf(published: PublishedWatcher | undefined): WatcherRef | undefined {
  const [namespace, name] = published?.holder?.split('/') ?? [];
  return namespace && name ? { namespace, name, ...(published?.uid && { uid: published.uid }) } : undefined;
}

export class WatcherController {
  private readonly factory: SharedInformerFactory;
  private readonly podInformers: SharedInformer<Pod>[];
  private readonly nodeInformer: SharedInformer<KubeObject>;
  private readonly publisher: Publisher;
  private readonly elector: LeaderElector;
  private readonly coalescer: Coalescer;
  private leading: AbortSignal | undefined;
  private lease: Lease | undefined;
  private last: Election | undefined;
  private synced = false;
  private readonly reportedDeprecated = new Set<string>();
  /** The store replaces a pod object on every change, so the facts of unchanged pods are kept. */
  private readonly podFacts: PodFactsCache = new WeakMap();
  private warnedNoWatcher = false;
  private watchOnlyAlarm: WatchOnlyAlarmState = QUIET;
  /** Whether this occurrence's Event was recorded (by this replica, while leading). */
  private watchOnlyReported = false;
  private watchOnlyRecheck: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private electorRun: Promise<void> | undefined;
  private stopping = false;

  private readonly now: () => number;

  constructor(private readonly o: ControllerOptions) {
    this.now = o.now ?? (() => performance.now());
    const { kc, config, logger } = o;
    this.factory = new SharedInformerFactory(kc, logger);
    const paths =
      config.election.namespaces.length === 0
        ? ['/api/v1/pods']
        : config.election.namespaces.map((ns) => resourcePath(PODS, ns));
    this.podInformers = paths.map((path) => this.factory.informer<Pod>({ path, transform: trimPod(config) }));
    this.nodeInformer = this.factory.informer<KubeObject>({ path: '/api/v1/nodes', transform: trimNode });
    this.publisher = new Publisher({
      kc,
      namespace: o.namespace,
      leaseName: config.election.leaseName,
      identity: o.identity,
      logger,
      stillLeading: () => this.elector.isLeader(),
    });
    this.coalescer = new Coalescer(
      () => this.reconcile(),
      (err, retryInMs) => logger.warn({ err: errorMessage(err), retryInMs }, 'election failed; retrying'),
      o.minElectionIntervalMs ?? 200,
    );
    const request = () => this.coalescer.request();
    // The transforms keep only what the election reads: an update that leaves that unchanged
    // (a heartbeat, an annotation, any change to a pod without an agent) costs no election.
    const changed = (before: unknown, after: unknown): void => {
      if (JSON.stringify(before) !== JSON.stringify(after)) request();
    };
    for (const informer of [...this.podInformers, this.nodeInformer])
      informer.addEventHandler({ add: request, update: changed, delete: request });
    const le = o.leaderElection ?? {};
    this.elector = new LeaderElector({
      kc,
      namespace: o.namespace,
      name: o.leaderLeaseName,
      identity: o.identity,
      logger,
      ...(le.leaseDurationMs !== undefined && { leaseDurationMs: le.leaseDurationMs }),
      ...(le.renewDeadlineMs !== undefined && { renewDeadlineMs: le.renewDeadlineMs }),
      ...(le.retryPeriodMs !== undefined && { retryPeriodMs: le.retryPeriodMs }),
      onStartedLeading: (signal) => this.startLeading(signal),
      onStoppedLeading: () => this.stopLeading(),
      onNewLeader: (leader) => logger.info({ leader }, 'controller leader'),
    });
  }

  async start(): Promise<void> {
    this.factory.start();
    await this.factory.waitForCacheSync();
    this.synced = true;
    this.o.logger.info(
      { pods: this.agentPods().length, nodes: this.nodeInformer.indexer.list().length },
      'caches synced',
    );
    this.electorRun = this.elector.run();
    this.coalescer.request();
    this.resync = setInterval(() => this.coalescer.request(), this.o.resyncMs ?? 30_000);
  }

  private startLeading(signal: AbortSignal): void {
    this.o.logger.info({ identity: this.o.identity }, 'leading: publishing the election');
    this.o.metrics.leader.set(1);
    this.lease = undefined;
    this.leading = signal;
    this.coalescer.request();
  }

  private stopLeading(): void {
    if (!this.leading) return;
    this.leading = undefined;
    this.o.metrics.leader.set(0);
    if (this.stopping) return; // released on purpose
    this.o.logger.warn({ identity: this.o.identity }, 'lost the leader lease: writes stopped');
    this.o.onLostLeadership?.();
  }

  private agentPods(): Pod[] {
    return this.podInformers.flatMap((i) => i.indexer.list()).filter((p) => p.spec !== undefined);
  }

  /** One election: compute, update metrics and alarms, publish and report when leading. */
  private async reconcile(): Promise<void> {
    if (!this.synced) return;
    const started = process.hrtime.bigint();
    const signal = this.leading;
    // The leader re-adopts the published watcher once and then tracks its own writes; followers
    // read it each time, so that their /status shows the election with its stickiness.
    if (signal ? !this.lease : true) this.lease = await this.publisher.readLease(signal);
    const published = publishedWatcher(this.lease);
    const pods = this.agentPods();
    const nodes = this.nodeInformer.indexer.list();
    const election = elect(pods, nodes, currentOf(published), this.o.config, this.podFacts);
    this.last = election;
    const observed = this.observe(election, pods);
    if (signal && !signal.aborted) await this.lead(election, published, pods, observed, signal);
    this.o.metrics.electionDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }

  /** The metrics of an election, and the step of the several-watch-only alarm (rechecked when due). */
  private observe(election: Election, pods: readonly Pod[]): Observed {
    const { metrics } = this.o;
    const counts = new Map<string, number>();
    for (const c of election.candidates)
      counts.set(`${c.policy}/${c.eligible}`, (counts.get(`${c.policy}/${c.eligible}`) ?? 0) + 1);
    for (const policy of POLICIES)
      for (const eligible of [true, false])
        metrics.candidates.set({ policy, eligible: String(eligible) }, counts.get(`${policy}/${eligible}`) ?? 0);
    const deprecated = pods.filter((p) =>
      allContainers(p.spec).some(({ container }) => hasEnv(container, DEPRECATED_ENV)),
    );
    metrics.deprecatedEnvPods.set(deprecated.length);
    metrics.watcherElected.set(election.watcher ? 1 : 0);
    const watchOnly = election.candidates.filter((c) => c.eligible && c.policy === 'only-watch');
    const alarm = stepWatchOnlyAlarm(this.watchOnlyAlarm, watchOnly.length, this.now(), this.graceMs);
    this.watchOnlyAlarm = alarm.state;
    metrics.multipleWatchOnlyAgents.set(alarm.state.raised ? 1 : 0);
    if (!alarm.state.raised) this.watchOnlyReported = false;
    clearTimeout(this.watchOnlyRecheck);
    if (alarm.dueInMs !== undefined)
      this.watchOnlyRecheck = setTimeout(() => this.coalescer.request(), alarm.dueInMs).unref();
    return { deprecated, watchOnly, raised: alarm.state.raised };
  }

  private get graceMs(): number {
    return this.o.multipleWatchOnlyGraceMs ?? 60_000;
  }

  /** The leader's share: publish the election, warn of no watcher, raise the alarms' Events. */
  private async lead(
    election: Election,
    published: PublishedWatcher | undefined,
    pods: readonly Pod[],
    observed: Observed,
    signal: AbortSignal,
  ): Promise<void> {
    const { config, logger } = this.o;
    await this.publish(election, published, pods, signal);
    // Once per fall, like the NoWatcherCandidate Event; the metric shows it meanwhile.
    if (!election.watcher && !this.warnedNoWatcher)
      logger.warn({ candidates: election.candidates.length }, 'no agent pod is eligible to watch Kubernetes');
    this.warnedNoWatcher = !election.watcher;
    const alarms = { publisher: this.publisher, logger, onlyWatchValue: config.onlyWatchValue, signal };
    // Reported by whichever replica leads once the grace period has passed, also after a failed
    // publication or a change of leader: not only at the moment the alarm became due.
    if (observed.raised && !this.watchOnlyReported) {
      this.watchOnlyReported = true;
      const lease = { namespace: this.o.namespace, name: config.election.leaseName, uid: this.lease?.metadata?.uid };
      await recordMultipleWatchOnly(alarms, observed.watchOnly, this.graceMs, lease);
    }
    await recordDeprecatedEnv(alarms, observed.deprecated.map(refOf), this.reportedDeprecated);
  }

  /** The writes that make the Lease and the label say what the election says. */
  private async publish(
    election: Election,
    published: PublishedWatcher | undefined,
    pods: readonly Pod[],
    signal: AbortSignal,
  ): Promise<void> {
    const labelled = pods.filter((p) => p.metadata?.labels?.[WATCHER_LABEL] === 'true').map(refOf);
    const actions = planPublication(election, published, labelled, this.o.config.onlyWatchValue);
    if (actions.length === 0) return;
    const before = published?.holder;
    this.lease = await this.publisher.execute(actions, this.lease, signal).catch((err: unknown) => {
      this.lease = undefined; // re-read next time (a 409 means someone else wrote it)
      throw err;
    });
    const after = publishedWatcher(this.lease);
    if (published && before !== after?.holder) this.o.metrics.transitions.inc();
    if (actions.some((a) => a.type === 'lease')) {
      this.o.logger.info(
        { watcher: after?.holder ?? null, reason: election.reason, transitions: after?.transitions },
        election.watcher ? 'watcher elected' : 'no watcher',
      );
    }
  }

  status(): ControllerStatus {
    const published = publishedWatcher(this.lease);
    return {
      identity: this.o.identity,
      leader: this.elector.getLeader() ?? null,
      isLeader: this.leading !== undefined && !this.leading.aborted,
      synced: this.synced,
      watcher: this.last?.watcher ?? null,
      reason: this.last?.reason ?? null,
      candidates: this.last?.candidates ?? [],
      published: published ?? null,
      note: ASSIGNMENT_NOTE,
    };
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Waits until no election is running or pending (for tests and shutdown). */
  settled(): Promise<void> {
    return this.coalescer.whenIdle();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.resync) clearInterval(this.resync);
    clearTimeout(this.watchOnlyRecheck);
    this.coalescer.stop();
    await this.elector.stop();
    await this.electorRun;
    await this.factory.stop();
  }
}
