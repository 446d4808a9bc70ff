/**
 * The watcher-election controller (DESIGN §6): informers on agent pods and nodes; every change an
 * election can see re-runs the pure election (coalesced, so a burst of events costs one election;
 * a watch-disabled sidecar's events only update its count); the replica that holds the leader
 * Lease publishes the result (see publication.ts). Followers keep their caches warm and compute
 * the election too, for /status and a fast takeover.
 *
 * The DeepFlow server, not this controller, assigns the watch: it reads only the agents'
 * K8S_WATCH_POLICY (which the webhook sets). The published election says which agent should
 * watch under the design's rules, and the alarms (NoWatcherCandidate, MultipleWatchOnlyAgents,
 * DeprecatedEnv) are the ones the server does not raise.
 */
import type { PodFacts } from '../watcher_election/candidates.ts';
import {
  ASSIGNMENT_NOTE,
  type CandidateReport,
  type Election,
  type ElectionTally,
  type WatcherRef,
} from '../watcher_election/elect.ts';
import { SharedInformerFactory } from '../kube/cache/informer_factory.ts';
import { LeaderElector } from '../kube/leaderelection/elector.ts';
import { errorMessage } from '../log.ts';
import { Coalescer } from './coalescer.ts';
import { planPublication, type PodRef, type PublishedWatcher } from './publication.ts';
import { Publisher } from './publisher.ts';
import { AgentPodCache } from './agent_pod_cache.ts';
import { setCandidateMetrics, setWatchDisabledMetric } from './metrics.ts';
import { QUIET, stepWatchOnlyAlarm, type WatchOnlyAlarmState } from './watch_only_alarm.ts';
import type { Lease } from '../kube/objects.ts';
import { publishedWatcher } from './watcher_lease.ts';
import type { ControllerOptions } from './controller_options.ts';
import type { ControllerStatus } from './status_server.ts';

export type { ControllerOptions } from './controller_options.ts';
import { recordDeprecatedEnv, recordMultipleWatchOnly } from './alarm_events.ts';

const refOf = ({ namespace, name, uid }: PodFacts): PodRef => ({ namespace, name, uid });

/** What an election showed besides the watcher: the pods with the old variable, the watch-only agents, the alarm. */
interface Observed {
  deprecated: PodFacts[];
  watchOnly: Election['candidates'];
  raised: boolean;
}

function currentOf(published: PublishedWatcher | undefined): WatcherRef | undefined {
  const [namespace, name] = published?.holder?.split('/') ?? [];
  return namespace && name ? { namespace, name, ...(published?.uid && { uid: published.uid }) } : undefined;
}

export class WatcherController {
  private readonly factory: SharedInformerFactory;
  private readonly pods: AgentPodCache;
  private readonly publisher: Publisher;
  private readonly elector: LeaderElector;
  private readonly coalescer: Coalescer;
  private leading: AbortSignal | undefined;
  private lease: Lease | undefined;
  private last: Election | undefined;
  private synced = false;
  private readonly reportedDeprecated = new Set<string>();
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
    this.pods = new AgentPodCache(this.factory, config, {
      changed: () => this.coalescer.request(),
      // A watch-disabled sidecar came, went or changed: no election can change, only its count.
      counted: () => setWatchDisabledMetric(this.o.metrics, this.pods.index.watchDisabled),
    });
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

  /** /status's rows: the last election's candidates, then every watch-disabled agent pod. */
  private *candidateRows(): Generator<CandidateReport> {
    yield* this.last?.candidates ?? [];
    yield* this.pods.watchDisabledRows();
  }

  async start(): Promise<void> {
    this.factory.start();
    await this.factory.waitForCacheSync();
    await this.pods.whenFiled();
    this.synced = true;
    this.o.logger.info({ agentPods: this.pods.index.size, nodes: this.pods.nodes }, 'caches synced');
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

  /** One election: compute, update metrics and alarms, publish and report when leading. */
  private async reconcile(): Promise<void> {
    if (!this.synced) return;
    const started = process.hrtime.bigint();
    const signal = this.leading;
    // The leader re-adopts the published watcher once and then tracks its own writes; followers
    // read it each time, so that their /status shows the election with its stickiness.
    if (signal ? !this.lease : true) this.lease = await this.publisher.readLease(signal);
    const published = publishedWatcher(this.lease);
    const election = this.pods.index.elect(currentOf(published));
    const tally = this.pods.index.tally(election);
    this.last = election;
    const observed = this.observe(election);
    if (signal && !signal.aborted) await this.lead(election, tally, published, observed, signal);
    this.o.metrics.electionDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }

  /** The metrics of an election, and the step of the several-watch-only alarm (rechecked when due). */
  private observe(election: Election): Observed {
    const { metrics } = this.o;
    setCandidateMetrics(metrics, election.candidates, this.pods.index.watchDisabled);
    const deprecated = this.pods.index.deprecatedPods();
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
    tally: ElectionTally,
    published: PublishedWatcher | undefined,
    observed: Observed,
    signal: AbortSignal,
  ): Promise<void> {
    const { config, logger } = this.o;
    await this.publish(election, tally, published, signal);
    // Once per fall, like the NoWatcherCandidate Event; the metric shows it meanwhile.
    if (!election.watcher && !this.warnedNoWatcher)
      logger.warn({ candidates: tally.total }, 'no agent pod is eligible to watch Kubernetes');
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
    tally: ElectionTally,
    published: PublishedWatcher | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const labelled = this.pods.index.labelledPods().map(refOf);
    const actions = planPublication(election, published, labelled, this.o.config.onlyWatchValue, tally);
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
      candidates: this.candidateRows(),
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
