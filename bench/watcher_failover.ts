#!/usr/bin/env node
/**
 * Election benchmark: the watcher-election controller (`k8s-watch-policy controller`, dist/)
 * against the local control plane (test/cluster: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler and kwok, whose fake nodes run the pods).
 *
 *   1. failover: the watcher pod of a watcher Deployment (only-watch) is deleted; how long until
 *      the Lease `election.leaseName` names the next watcher, and until that pod carries the
 *      `deepflow.io/k8s-watcher` label (timed by watches in this process, from the DELETE's return);
 *   2. scale: N kwok nodes each running an agent pod (a DaemonSet); a fresh controller is started
 *      and timed to /readyz 200 (caches synced) and to the first published Lease; its RSS after
 *      sync and after a minute of steady state; then failover again, at that size.
 *
 *   npm run bench:failover -- [--phases failover,scale] [--trials 30] [--sizes 1000,5000]
 *                             [--scale-trials 20] [--steady 60] [--replicas 1] [--watchers 3]
 *                             [--cluster-dir DIR] [--node-lease S] [--heap chart|node] [--keep-cluster|--down] [--cpu-prof DIR]
 *                             [--heap-snapshot DIR] [--logs DIR] [--strict]
 *
 * See bench/README.md ("Election benchmark"). Runs on Node 24 with type stripping and imports
 * nothing from src/: it talks to processes and to the API server.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchCommandLine, sleep, type BenchCommandLine } from './options.ts';
import { chartHeap } from './chart_heap.ts';
import { children, Controller } from './watcher_failover/controller.ts';
import { ApiError, clusterFiles, Kube, pool, type ClusterFiles, type Json, type WatchEvent } from './kube.ts';
import {
  AGENT_APP,
  agentDaemonSet,
  BENCH_NODE_LABEL,
  benchNode,
  benchNodeName,
  controllerConfig,
  namespace,
  WATCHER_APP,
  WATCHER_LABEL,
  watcherDeployment,
} from './watcher_failover/objects.ts';
import { componentFlag, cpuBetween, cpuSample, type CpuCores } from './proc.ts';
import { fmt, table } from './report.ts';
import { clusterCommand, clusterRunning } from './cluster.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LEASE_NAME = 'k8s-watcher';
const t0 = performance.now();
const log = (message: string) =>
  process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);

// ---------------------------------------------------------------------------------------------
// Options

const PHASES = ['failover', 'scale'] as const;
type Phase = (typeof PHASES)[number];

interface Options {
  phases: Phase[];
  trials: number;
  sizes: number[];
  scaleTrials: number;
  steady: number;
  replicas: number;
  watchers: number;
  settleMs: number;
  setupTimeout: number;
  clusterDir: string;
  /** kwok's node Lease duration when this run brings the cluster up. */
  nodeLeaseSeconds: number;
  keepCluster: boolean;
  down: boolean;
  cleanup: boolean;
  cli: string;
  nodeFlags: string[];
  /** `chart`: the heap settings the Helm chart runs the controller with; `node`: Node's defaults. */
  heap: 'chart' | 'node';
  /** Environment for the controllers (MALLOC_ARENA_MAX with the chart's heap). */
  controllerEnv: Record<string, string>;
  cpuProf: string | undefined;
  heapSnapshot: string | undefined;
  logs: string | undefined;
  strict: boolean;
  targetP99: number;
  targetRss: number;
}

const USAGE = `usage: npm run bench:failover -- [options]   (or node bench/watcher_failover.ts [options])

  --phases LIST       failover,scale                                        (BENCH_PHASES, failover,scale)
  --trials N          failover trials on the small cluster                  (BENCH_TRIALS, 30)
  --sizes LIST        agent pods (= kwok nodes) of the scale phase          (BENCH_SIZES, 1000,5000)
  --scale-trials N    failover trials at each size (0: none)                (BENCH_SCALE_TRIALS, 20)
  --steady S          seconds of steady state after the first Lease         (BENCH_STEADY, 60)
  --replicas N        controller replicas (1 or 2; figures are the leader's) (BENCH_REPLICAS, 1)
  --watchers N        replicas of the watcher Deployment (>= 2)             (BENCH_WATCHERS, 3)
  --settle MS         quiet time before each deletion                       (BENCH_SETTLE, 500)
  --setup-timeout S   limit for creating one size's nodes and pods          (BENCH_SETUP_TIMEOUT, 900)
  --cluster-dir DIR   the cluster's state directory  (K8S_WATCH_POLICY_CLUSTER_DIR, <tmp>/kwp-bench-cluster)
  --heap chart|node   the controller's heap: the Helm chart's caps (values.yaml controller.heap,
                      MALLOC_ARENA_MAX=2) or Node's defaults                (BENCH_HEAP, chart)
  --node-lease S      kwok's node Lease duration when this run starts the cluster (K8S_WATCH_POLICY_NODE_LEASE_SECONDS, 300)
  --keep-cluster      leave the cluster up even if this run started it
  --down              bring the cluster down at the end even if it was already up
  --no-cleanup        leave the benchmark's namespaces and nodes in the cluster
  --cli FILE          the built CLI                                         (BENCH_CLI, dist/cli/main.js)
  --node-flags=FLAGS  node flags for the controllers, e.g. --node-flags=--optimize-for-size (BENCH_NODE_FLAGS)
  --cpu-prof DIR      run the controllers under node --cpu-prof             (BENCH_CPU_PROF)
  --heap-snapshot DIR write a heap snapshot of the controller at the end of each steady state (BENCH_HEAP_SNAPSHOT)
  --logs DIR          keep the controllers' logs here                       (BENCH_LOGS)
  --strict            exit 2 when a target is missed                        (BENCH_STRICT=1)
  --target-p99 MS     failover p99 target                                   (1000)
  --target-rss MB     controller RSS target at the largest size             (150)
`;

const cli: BenchCommandLine = benchCommandLine('bench:failover', USAGE);
const usage: (message: string) => never = cli.usage;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      phases: { type: 'string' },
      trials: { type: 'string' },
      sizes: { type: 'string' },
      'scale-trials': { type: 'string' },
      steady: { type: 'string' },
      replicas: { type: 'string' },
      watchers: { type: 'string' },
      settle: { type: 'string' },
      'setup-timeout': { type: 'string' },
      'cluster-dir': { type: 'string' },
      'node-lease': { type: 'string' },
      'keep-cluster': { type: 'boolean' },
      down: { type: 'boolean' },
      'no-cleanup': { type: 'boolean' },
      cli: { type: 'string' },
      'node-flags': { type: 'string' },
      heap: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'heap-snapshot': { type: 'string' },
      logs: { type: 'string' },
      strict: { type: 'boolean' },
      'target-p99': { type: 'string' },
      'target-rss': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  cli.helpIf(values.help);
  const env = process.env;
  const num = (name: string, flag: string | undefined, envName: string | undefined, dflt: number, min = 1): number =>
    cli.number(name, flag, envName, dflt, { integer: true, min });
  const list = cli.list;
  const phases = list(values.phases ?? env.BENCH_PHASES ?? PHASES.join(','));
  for (const p of phases)
    if (!(PHASES as readonly string[]).includes(p))
      usage(`--phases: unknown phase ${JSON.stringify(p)} (failover, scale)`);
  const sizes = list(values.sizes ?? env.BENCH_SIZES ?? '1000,5000').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1 || n > 60_000)
      usage(`--sizes: ${JSON.stringify(s)} is not a number of nodes (1-60000)`);
    return n;
  });
  const opts: Options = {
    phases: phases as Phase[],
    trials: num('trials', values.trials, 'BENCH_TRIALS', 30),
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    scaleTrials: num('scale-trials', values['scale-trials'], 'BENCH_SCALE_TRIALS', 20, 0),
    steady: num('steady', values.steady, 'BENCH_STEADY', 60, 0),
    replicas: num('replicas', values.replicas, 'BENCH_REPLICAS', 1),
    watchers: num('watchers', values.watchers, 'BENCH_WATCHERS', 3, 2),
    settleMs: num('settle', values.settle, 'BENCH_SETTLE', 500, 0),
    setupTimeout: num('setup-timeout', values['setup-timeout'], 'BENCH_SETUP_TIMEOUT', 900),
    clusterDir: resolve(
      values['cluster-dir'] ?? env.K8S_WATCH_POLICY_CLUSTER_DIR ?? join(tmpdir(), 'kwp-bench-cluster'),
    ),
    nodeLeaseSeconds: num('node-lease', values['node-lease'], 'K8S_WATCH_POLICY_NODE_LEASE_SECONDS', 300, 40),
    keepCluster: values['keep-cluster'] ?? false,
    down: values.down ?? false,
    cleanup: !(values['no-cleanup'] ?? false),
    cli: resolve(values.cli ?? env.BENCH_CLI ?? join(ROOT, 'dist/cli/main.js')),
    nodeFlags: (values['node-flags'] ?? env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== ''),
    heap: heapOption(values.heap ?? env.BENCH_HEAP ?? 'chart'),
    controllerEnv: {},
    cpuProf: optionalDir(values['cpu-prof'] ?? env.BENCH_CPU_PROF),
    heapSnapshot: optionalDir(values['heap-snapshot'] ?? env.BENCH_HEAP_SNAPSHOT),
    logs: optionalDir(values.logs ?? env.BENCH_LOGS),
    strict: values.strict ?? env.BENCH_STRICT === '1',
    targetP99: num('target-p99', values['target-p99'], undefined, 1000),
    targetRss: num('target-rss', values['target-rss'], undefined, 150),
  };
  if (opts.heap === 'chart') {
    const chart = chartHeap('controller');
    opts.nodeFlags = [...chart.flags, ...opts.nodeFlags]; // later flags win in node
    opts.controllerEnv = chart.env;
  }
  if (opts.replicas > 2) usage('--replicas must be 1 or 2');
  if (opts.keepCluster && opts.down) usage('--keep-cluster and --down contradict each other');
  return opts;
}

function heapOption(raw: string): 'chart' | 'node' {
  if (raw !== 'chart' && raw !== 'node') usage(`--heap must be chart or node, got ${JSON.stringify(raw)}`);
  return raw;
}

function optionalDir(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const dir = resolve(value);
  mkdirSync(dir, { recursive: true });
  return dir;
}

// ---------------------------------------------------------------------------------------------
// What the benchmark observes through its own watches: the watcher Lease, the labelled pods and
// the watcher Deployment's pods. Every event carries its arrival time.

interface PodState {
  uid: string;
  ready: boolean;
  terminating: boolean;
  /** performance.now() of the first event that showed it Running but not Ready. */
  notReadySince: number | undefined;
}

class Observer {
  holder: string | undefined;
  leaseSeen = false;
  readonly leaseLog: { at: number; holder: string | undefined; transitions: number | undefined }[] = [];
  readonly labelled = new Set<string>();
  readonly labelLog: { at: number; type: string; name: string }[] = [];
  readonly watchers = new Map<string, PodState>();
  private waiters = new Set<() => void>();
  private readonly stops: (() => void)[] = [];
  private leaseStop: (() => void) | undefined;

  readonly kube: Kube;
  readonly agentsNs: string;

  constructor(kube: Kube, agentsNs: string) {
    this.kube = kube;
    this.agentsNs = agentsNs;
  }

  async start(): Promise<void> {
    const pods = `/api/v1/namespaces/${this.agentsNs}/pods`;
    const labelled = this.kube.watch(pods, { labelSelector: `${WATCHER_LABEL}=true` }, (e) => this.onLabelled(e));
    const watchers = this.kube.watch(pods, { labelSelector: `app=${WATCHER_APP}` }, (e) => this.onWatcherPod(e));
    this.stops.push(labelled.stop, watchers.stop);
    await Promise.all([labelled.ready, watchers.ready]);
  }

  /** Follows the Lease of one controller namespace (each controller start gets a fresh one). */
  async followLease(systemNs: string): Promise<void> {
    this.leaseStop?.();
    this.holder = undefined;
    this.leaseSeen = false;
    this.leaseLog.length = 0;
    const w = this.kube.watch(
      `/apis/coordination.k8s.io/v1/namespaces/${systemNs}/leases`,
      { fieldSelector: `metadata.name=${LEASE_NAME}` },
      (e) => {
        this.holder = e.type === 'DELETED' ? undefined : (e.object?.spec?.holderIdentity ?? undefined);
        this.leaseSeen = e.type !== 'DELETED';
        this.leaseLog.push({ at: e.at, holder: this.holder, transitions: e.object?.spec?.leaseTransitions });
        this.notify();
      },
    );
    this.leaseStop = w.stop;
    await w.ready;
  }

  private onLabelled(e: WatchEvent): void {
    const name = e.object?.metadata?.name as string;
    if (e.type === 'DELETED') this.labelled.delete(name);
    else this.labelled.add(name);
    this.labelLog.push({ at: e.at, type: e.type, name });
    this.notify();
  }

  private onWatcherPod(e: WatchEvent): void {
    const pod = e.object;
    const name = pod?.metadata?.name as string;
    if (e.type === 'DELETED') this.watchers.delete(name);
    else {
      const ready =
        pod.status?.phase === 'Running' &&
        (pod.status?.conditions ?? []).some((c: Json) => c.type === 'Ready' && c.status === 'True');
      const notReady = pod.status?.phase === 'Running' && !ready;
      const before = this.watchers.get(name);
      this.watchers.set(name, {
        uid: pod.metadata.uid,
        ready,
        terminating: Boolean(pod.metadata.deletionTimestamp),
        notReadySince: notReady ? (before?.notReadySince ?? e.at) : undefined,
      });
    }
    this.notify();
  }

  private notify(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  /** Resolves with the first truthy value of `probe`, re-evaluated after every event. */
  async until<T>(what: string, probe: () => T | undefined | false, timeoutMs: number): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v) return v;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => (this.waiters.delete(wake), resolve()), Math.min(left, 1000));
        const wake = () => (clearTimeout(timer), resolve());
        this.waiters.add(wake);
      });
    }
  }

  /** The state a trial starts from: a watcher, labelled alone, and every watcher pod Ready. */
  stable(replicas: number): string | undefined {
    const holder = this.holder;
    if (!holder) return undefined;
    const name = holder.split('/')[1]!;
    const pods = [...this.watchers.values()];
    if (pods.length !== replicas || !pods.every((p) => p.ready && !p.terminating)) return undefined;
    if (!this.watchers.get(name)?.ready) return undefined;
    if (this.labelled.size !== 1 || !this.labelled.has(name)) return undefined;
    return holder;
  }

  /**
   * Watcher pods that run but have been not Ready for `ms`: the node controller marked them so
   * while their kwok node's heartbeat was late, and kwok never readies a Running pod again (a
   * kubelet would). A real cluster has no such pods; the trials need the Deployment whole.
   */
  stuck(ms: number): string[] {
    const now = performance.now();
    return [...this.watchers]
      .filter(([, p]) => !p.terminating && p.notReadySince !== undefined && now - p.notReadySince > ms)
      .map(([n]) => n);
  }

  stop(): void {
    this.leaseStop?.();
    for (const s of this.stops) s();
  }
}

// ---------------------------------------------------------------------------------------------
// Failover trials

interface Trial {
  trial: number;
  old: string;
  next: string | undefined;
  /** DELETE round trip. */
  deleteMs: number;
  /** From the DELETE's return to the Lease naming another pod (the figure). */
  leaseMs: number | undefined;
  /** The same from when the DELETE was sent. */
  leaseFromSendMs: number | undefined;
  /** From the DELETE's return to the new watcher carrying the label. */
  labelMs: number | undefined;
  /** From the DELETE's return to the old pod losing the label (or disappearing). */
  unlabelMs: number | undefined;
  /** The Lease showed no holder in between. */
  sawNoHolder: boolean;
  /** The new watcher was one of the Ready watcher pods before the deletion (not the replacement). */
  nextWasReady: boolean;
  /**
   * The new watcher is an agent of the DaemonSet (normal tier): no other watcher pod was
   * eligible, i.e. their kwok nodes were NotReady at that moment. Correct, but not the failover
   * between watcher pods this benchmark means to time; counted apart.
   */
  fallback: boolean;
  /** From the DELETE's return until the Deployment was whole again and the state stable. */
  recoveredMs: number | undefined;
  error?: string;
}

interface FailoverResult {
  label: string;
  agents: number;
  nodes: number;
  trials: Trial[];
  cpu: CpuCores;
  stats: {
    leaseMs: Stats;
    leaseFromSendMs: Stats;
    labelMs: Stats;
    unlabelMs: Stats;
    deleteMs: Stats;
  };
  failed: number;
  /** Watcher pods deleted between trials because they were stuck not Ready (see Observer.stuck). */
  repaired: number;
  /** Trials whose new watcher was a DaemonSet agent (see Trial.fallback). */
  fallbacks: number;
}

interface Stats {
  n: number;
  p50?: number;
  p90?: number;
  p99?: number;
  max?: number;
  mean?: number;
}

/** Nearest-rank percentiles (p99 of 20-30 samples is the largest or second largest: say so). */
function stats(values: (number | undefined)[]): Stats {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { n: 0 };
  const q = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))]!;
  return {
    n: v.length,
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    max: v[v.length - 1]!,
    mean: v.reduce((a, b) => a + b, 0) / v.length,
  };
}

async function runFailover(
  label: string,
  agents: number,
  nodes: number,
  ctx: Context,
  controllers: Controller[],
  trials: number,
): Promise<FailoverResult> {
  const { observer: obs, kube, opts } = ctx;
  const results: Trial[] = [];
  let repaired = 0;
  let consecutiveFailures = 0;
  log(`${label}: ${trials} failover trials (${opts.watchers} watcher pods, ${agents} agents)`);
  const a = cpuSample(
    controllers.map((c) => c.pid),
    opts.clusterDir,
  );
  for (let i = 1; i <= trials; i++) {
    let trial: Trial | undefined;
    try {
      const old = await obs.until(
        'a stable watcher',
        () => {
          for (const name of obs.stuck(5000)) {
            obs.watchers.get(name)!.notReadySince = undefined;
            repaired++;
            log(
              `${label}: watcher pod ${name} is Running but not Ready (its kwok node was NotReady for a moment): deleting it so the Deployment replaces it`,
            );
            void kube.request('DELETE', `/api/v1/namespaces/${ctx.agentsNs}/pods/${name}`).catch(() => undefined);
          }
          return obs.stable(opts.watchers);
        },
        120_000,
      );
      await sleep(opts.settleMs);
      if (obs.stable(opts.watchers) !== old) {
        i--;
        continue;
      }
      const oldName = old.split('/')[1]!;
      const readyBefore = new Set([...obs.watchers].filter(([n, p]) => n !== oldName && p.ready).map(([n]) => n));
      const leaseIndex = obs.leaseLog.length;
      const labelIndex = obs.labelLog.length;
      const sent = performance.now();
      await kube.request('DELETE', `/api/v1/namespaces/${ctx.agentsNs}/pods/${oldName}`);
      const returned = performance.now();
      trial = {
        trial: i,
        old,
        next: undefined,
        deleteMs: returned - sent,
        leaseMs: undefined,
        leaseFromSendMs: undefined,
        labelMs: undefined,
        unlabelMs: undefined,
        sawNoHolder: false,
        nextWasReady: false,
        fallback: false,
        recoveredMs: undefined,
      };
      const t = trial;
      const changed = await obs.until(
        'the Lease to name another pod',
        () => obs.leaseLog.slice(leaseIndex).find((e) => e.holder !== old && e.holder !== undefined),
        30_000,
      );
      t.next = changed.holder;
      t.leaseMs = changed.at - returned;
      t.leaseFromSendMs = changed.at - sent;
      t.sawNoHolder = obs.leaseLog.slice(leaseIndex).some((e) => e.holder === undefined && e.at <= changed.at);
      const nextName = changed.holder!.split('/')[1]!;
      t.nextWasReady = readyBefore.has(nextName);
      t.fallback = !nextName.startsWith(`${WATCHER_APP}-`);
      const labelled = await obs.until(
        'the label on the new watcher',
        () => obs.labelLog.slice(labelIndex).find((e) => e.name === nextName && e.type !== 'DELETED'),
        30_000,
      );
      t.labelMs = labelled.at - returned;
      const unlabelled = obs.labelLog.slice(labelIndex).find((e) => e.name === oldName && e.type === 'DELETED');
      if (unlabelled) t.unlabelMs = unlabelled.at - returned;
      await obs.until('the watcher Deployment whole again', () => obs.stable(opts.watchers), 120_000);
      t.recoveredMs = performance.now() - returned;
      results.push(t);
      log(
        `${label} trial ${String(i).padStart(2)}: Lease ${fmt(t.leaseMs, 0).padStart(5)} ms, label ${fmt(t.labelMs, 0).padStart(5)} ms ` +
          `(DELETE ${fmt(t.deleteMs, 0)} ms; ${old.split('/')[1]} -> ${nextName}${t.fallback ? ', an agent of the DaemonSet: no other watcher pod eligible' : t.nextWasReady ? '' : ', NOT a pod Ready before'}${t.sawNoHolder ? ', no holder in between' : ''})`,
      );
      consecutiveFailures = 0;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log(`${label} trial ${i}: FAILED: ${message}`);
      results.push({
        ...(trial ?? {
          trial: i,
          old: obs.holder ?? '?',
          next: undefined,
          deleteMs: NaN,
          leaseMs: undefined,
          leaseFromSendMs: undefined,
          labelMs: undefined,
          unlabelMs: undefined,
          sawNoHolder: false,
          nextWasReady: false,
          fallback: false,
          recoveredMs: undefined,
        }),
        error: message,
      });
      for (const c of controllers)
        if (!c.alive) throw new Error(`the controller died: ${c.stderr || c.logTail()}`, { cause: err });
      if (++consecutiveFailures >= 3) {
        log(`${label}: 3 failed trials in a row: no more trials at this size`);
        break;
      }
    }
  }
  const b = cpuSample(
    controllers.map((c) => c.pid),
    opts.clusterDir,
  );
  return {
    label,
    agents,
    nodes,
    trials: results,
    cpu: cpuBetween(a, b),
    stats: {
      leaseMs: stats(results.map((r) => r.leaseMs)),
      leaseFromSendMs: stats(results.map((r) => r.leaseFromSendMs)),
      labelMs: stats(results.map((r) => r.labelMs)),
      unlabelMs: stats(results.map((r) => r.unlabelMs)),
      deleteMs: stats(results.map((r) => r.deleteMs)),
    },
    failed: results.filter((r) => r.error || r.sawNoHolder || (!r.nextWasReady && !r.fallback)).length,
    fallbacks: results.filter((r) => r.fallback).length,
    repaired,
  };
}

// ---------------------------------------------------------------------------------------------
// Controller start-up: fresh namespace (so the Lease does not exist yet), spawn, time.

interface Context {
  opts: Options;
  files: ClusterFiles;
  kube: Kube;
  observer: Observer;
  run: string;
  agentsNs: string;
  scratch: string;
  logDir: string;
}

interface Startup {
  label: string;
  agents: number;
  nodes: number;
  systemNs: string;
  /** From spawn, by the bench: /readyz answered 200; the Lease was first seen with a holder. */
  readyMs: number;
  leaseMs: number;
  /** From spawn, from the controller's own log: "controller starting" (modules loaded, RBAC checked, HTTP up), "caches synced". */
  startingLogMs: number | undefined;
  syncedLogMs: number | undefined;
  syncedPods: number | undefined;
  syncedNodes: number | undefined;
  rssReadyMb: number | undefined;
  rssLeaseMb: number | undefined;
  leader: string;
  followerRssMb?: number | undefined;
}

async function startControllers(
  ctx: Context,
  label: string,
  agents: number,
  nodes: number,
): Promise<{ controllers: Controller[]; leader: Controller; startup: Startup }> {
  const { opts, kube, observer } = ctx;
  const systemNs = `kwp-bench-sys-${ctx.run}-${label.replace(/[^a-z0-9]+/g, '')}`;
  await kube.request('POST', '/api/v1/namespaces', namespace(systemNs));
  await observer.followLease(systemNs);
  const configFile = join(ctx.scratch, 'config.yaml');
  writeFileSync(configFile, controllerConfig(ctx.agentsNs, LEASE_NAME));
  const ids = Array.from({ length: opts.replicas }, (_, i) => `bench-controller-${String.fromCharCode(97 + i)}`);
  log(`${label}: starting ${ids.length} controller(s) in ${systemNs}`);
  const controllers: Controller[] = [];
  for (const identity of ids) {
    controllers.push(
      await Controller.start({
        cli: opts.cli,
        kubeconfig: ctx.files.kubeconfig,
        configFile,
        namespace: systemNs,
        identity,
        logFile: join(ctx.logDir, `controller-${ctx.run}-${label.replace(/[^a-z0-9]+/g, '')}-${identity}.log`),
        nodeFlags: opts.nodeFlags,
        env: opts.controllerEnv,
        ...(opts.cpuProf && { cpuProfDir: opts.cpuProf }),
        ...(opts.heapSnapshot && { heapSnapshotDir: opts.heapSnapshot }),
        // Fast takeover between replicas (as the e2e runs them); no effect on the watcher failover.
        extraArgs: ['--lease-duration', '4s', '--renew-deadline', '3s', '--retry-period', '500ms'],
      }),
    );
  }
  const first = controllers[0]!;
  const readies = await Promise.all(
    controllers.map(async (c) => ({ c, at: await c.waitReady(opts.setupTimeout * 1000), rss: c.rssMb() })),
  );
  const firstReady = readies.reduce((a, b) => (b.at < a.at ? b : a));
  const leaseAt = await observer.until(
    'the first published Lease',
    () => (observer.holder ? performance.now() : undefined),
    300_000,
  );
  const leaseEvent = observer.leaseLog.find((e) => e.holder !== undefined);
  const rssLease = controllers.map((c) => c.rssMb());
  let leader = first;
  for (let attempt = 0; attempt < 50; attempt++) {
    const statuses = await Promise.all(controllers.map((c) => c.status().catch(() => undefined)));
    const i = statuses.findIndex((s) => s?.isLeader);
    if (i >= 0) {
      leader = controllers[i]!;
      break;
    }
    await sleep(100);
  }
  await sleep(600); // the log is flushed at least every 250 ms
  const starting = leader.loggedAt('controller starting');
  const synced = leader.loggedAt('caches synced');
  const leaderReady = readies.find((r) => r.c === leader) ?? firstReady;
  const startup: Startup = {
    label,
    agents,
    nodes,
    systemNs,
    readyMs: leaderReady.at - leader.spawnedAt,
    leaseMs: (leaseEvent?.at ?? leaseAt) - leader.spawnedAt,
    startingLogMs: starting?.ms,
    syncedLogMs: synced?.ms,
    syncedPods: synced?.line.pods,
    syncedNodes: synced?.line.nodes,
    rssReadyMb: leaderReady.rss,
    rssLeaseMb: rssLease[controllers.indexOf(leader)],
    leader: leader.spec.identity,
    ...(controllers.length > 1 && { followerRssMb: controllers.find((c) => c !== leader)?.rssMb() }),
  };
  log(
    `${label}: /readyz 200 after ${fmt(startup.readyMs, 0)} ms (caches synced at ${fmt(startup.syncedLogMs, 0)} ms by its log: ${startup.syncedPods} pods, ${startup.syncedNodes} nodes), ` +
      `Lease after ${fmt(startup.leaseMs, 0)} ms; RSS ${fmt(startup.rssReadyMb, 1)} MB at ready, ${fmt(startup.rssLeaseMb, 1)} MB at the Lease`,
  );
  return { controllers, leader, startup };
}

interface Steady {
  label: string;
  seconds: number;
  rssEndMb: number | undefined;
  rssMaxMb: number | undefined;
  peakRssMb: number | undefined;
  heapUsedMb: number | undefined;
  heapTotalMb: number | undefined;
  externalMb: number | undefined;
  cpu: CpuCores;
  elections: number | undefined;
  electionMeanMs: number | undefined;
  candidates: number | undefined;
  eligible: number | undefined;
  watcher: string | undefined;
  heapSnapshot?: string | undefined;
}

async function steadyState(
  ctx: Context,
  label: string,
  controllers: Controller[],
  leader: Controller,
): Promise<Steady> {
  const { opts } = ctx;
  log(`${label}: ${opts.steady} s of steady state`);
  const a = cpuSample(
    controllers.map((c) => c.pid),
    opts.clusterDir,
  );
  const m0 = await leader.metrics().catch(() => new Map<string, number>());
  let rssMax = leader.rssMb();
  const end = performance.now() + opts.steady * 1000;
  while (performance.now() < end) {
    await sleep(Math.min(1000, Math.max(0, end - performance.now())));
    rssMax = Math.max(rssMax ?? 0, leader.rssMb() ?? 0);
  }
  const b = cpuSample(
    controllers.map((c) => c.pid),
    opts.clusterDir,
  );
  const m = await leader.metrics().catch(() => new Map<string, number>());
  const status = await leader.status().catch(() => undefined);
  const mb = (name: string) => (m.has(name) ? m.get(name)! / 2 ** 20 : undefined);
  const count =
    (m.get('k8s_watch_policy_election_duration_seconds_count') ?? NaN) -
    (m0.get('k8s_watch_policy_election_duration_seconds_count') ?? 0);
  const sum =
    (m.get('k8s_watch_policy_election_duration_seconds_sum') ?? NaN) -
    (m0.get('k8s_watch_policy_election_duration_seconds_sum') ?? 0);
  const result: Steady = {
    label,
    seconds: opts.steady,
    rssEndMb: leader.rssMb(),
    rssMaxMb: rssMax,
    peakRssMb: leader.peakRssMb(),
    heapUsedMb: mb('nodejs_heap_size_used_bytes'),
    heapTotalMb: mb('nodejs_heap_size_total_bytes'),
    externalMb: mb('nodejs_external_memory_bytes'),
    cpu: cpuBetween(a, b),
    elections: Number.isFinite(count) ? count : undefined,
    electionMeanMs: count > 0 ? (sum / count) * 1000 : undefined,
    candidates: status?.candidates?.length,
    eligible: status?.candidates?.filter((c: Json) => c.eligible).length,
    watcher: status?.watcher ? `${status.watcher.namespace}/${status.watcher.name}` : undefined,
  };
  log(
    `${label}: steady: RSS ${fmt(result.rssEndMb, 1)} MB (max ${fmt(result.rssMaxMb, 1)}, peak ${fmt(result.peakRssMb, 1)}), heap ${fmt(result.heapUsedMb, 1)}/${fmt(result.heapTotalMb, 1)} MB, ` +
      `CPU controller ${fmt(result.cpu.controller)} cluster ${fmt(result.cpu.cluster)} other ${fmt(result.cpu.other)}; ${result.elections} elections (${fmt(result.electionMeanMs, 1)} ms mean); ` +
      `${result.candidates} candidates, ${result.eligible} eligible`,
  );
  if (opts.heapSnapshot) {
    log(`${label}: writing a heap snapshot`);
    result.heapSnapshot = await leader.heapSnapshot();
  }
  return result;
}

async function stopControllers(
  ctx: Context,
  controllers: Controller[],
  systemNs: string,
): Promise<{ code: number | null; signal: string | null; ms: number }[]> {
  const exits = await Promise.all(controllers.map((c) => c.stop()));
  await ctx.kube.request('DELETE', `/api/v1/namespaces/${systemNs}`).catch(() => undefined);
  return exits;
}

// ---------------------------------------------------------------------------------------------
// Scale set-up: kwok nodes (created concurrently), the agent DaemonSet, and waiting for them.

interface Setup {
  nodes: number;
  createdNodes: number;
  createNodesS: number;
  nodesReadyS: number;
  podsRunningS: number;
  /** Agent pods Ready (DaemonSet status) when all were Running. */
  podsReady: number;
  notReadyNodes: number;
  cpu: CpuCores;
}

/**
 * Benchmark nodes by their STATUS column (kubectl get nodes): `Ready`; `NotReady` (a Ready
 * condition that is False or Unknown); `Unknown` (no condition yet: kwok has not initialised it).
 */
async function readyNodes(kube: Kube): Promise<{ ready: number; initialised: number }> {
  const rows = await kube.table('/api/v1/nodes', { labelSelector: `${BENCH_NODE_LABEL}=true` });
  return {
    ready: rows.filter((r) => r.cells[1] === 'Ready').length,
    initialised: rows.filter((r) => r.cells[1] !== 'Unknown').length,
  };
}

async function setUpSize(ctx: Context, size: number): Promise<Setup> {
  const { kube, opts } = ctx;
  const started = performance.now();
  const deadline = started + opts.setupTimeout * 1000;
  const a = cpuSample([], opts.clusterDir);
  const existing = new Set(
    (await kube.table('/api/v1/nodes', { labelSelector: `${BENCH_NODE_LABEL}=true` })).map((r) => r.name),
  );
  const missing = Array.from({ length: size }, (_, i) => i).filter((i) => !existing.has(benchNodeName(i)));
  log(`scale ${size}: creating ${missing.length} kwok nodes (${existing.size} exist)`);
  let created = 0;
  const progress = setInterval(() => log(`scale ${size}: ${created}/${missing.length} nodes created`), 10_000);
  try {
    await pool(missing, 16, async (i) => {
      try {
        await kube.request('POST', '/api/v1/nodes', benchNode(i));
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 409)) throw err;
      }
      created++;
    });
  } finally {
    clearInterval(progress);
  }
  const createdAt = performance.now();
  log(
    `scale ${size}: ${missing.length} nodes created in ${((createdAt - started) / 1000).toFixed(1)} s; waiting for kwok to make them Ready`,
  );
  let lastLog = 0;
  // Every node initialised by kwok. Not every node Ready: under load kwok renews node Leases
  // late (it renews each every 10 s: 500 writes/s at 5,000 nodes) and the node controller flips
  // those nodes NotReady until the next renewal; the agents tolerate that.
  for (;;) {
    const { ready, initialised } = await readyNodes(kube);
    if (initialised >= size) break;
    if (performance.now() > deadline)
      throw new Error(`scale ${size}: only ${ready}/${size} nodes Ready after ${opts.setupTimeout} s`);
    if (performance.now() - lastLog > 10_000) {
      log(`scale ${size}: ${initialised}/${size} nodes initialised by kwok, ${ready} Ready`);
      lastLog = performance.now();
    }
    await sleep(3000);
  }
  const nodesReadyAt = performance.now();
  log(
    `scale ${size}: nodes initialised after ${((nodesReadyAt - started) / 1000).toFixed(1)} s; waiting for the DaemonSet's ${size} agent pods to run`,
  );
  lastLog = 0;
  // Running is counted on the pods themselves (a Table list: rows, no objects). The DaemonSet's
  // numberReady is not enough: a node whose kwok heartbeat came late was NotReady for a moment,
  // the node controller marked its pods Ready=False, and kwok (whose stage readies Pending pods
  // only) never marks them Ready again; they run, but stay not Ready.
  let running = 0;
  let ds: Json;
  for (;;) {
    ds = await kube.get(`/apis/apps/v1/namespaces/${ctx.agentsNs}/daemonsets/${AGENT_APP}`);
    const s = ds.status ?? {};
    if (s.desiredNumberScheduled === size && s.currentNumberScheduled === size) {
      running = await kube.count(`/api/v1/namespaces/${ctx.agentsNs}/pods`, {
        labelSelector: `app=${AGENT_APP}`,
        fieldSelector: 'status.phase=Running',
      });
      if (running >= size) break;
    }
    if (performance.now() > deadline) {
      throw new Error(
        `scale ${size}: the DaemonSet has ${s.currentNumberScheduled}/${size} pods, ${running} Running, after ${opts.setupTimeout} s (--setup-timeout)`,
      );
    }
    if (performance.now() - lastLog > 10_000) {
      log(
        `scale ${size}: DaemonSet desired ${s.desiredNumberScheduled ?? 0}, created ${s.currentNumberScheduled ?? 0}, ready ${s.numberReady ?? 0}${running ? `, running ${running}` : ''}`,
      );
      lastLog = performance.now();
    }
    await sleep(running > 0 ? 5000 : 2000);
  }
  const podsReadyAt = performance.now();
  const b = cpuSample([], opts.clusterDir);
  const notReadyNodes = size - (await readyNodes(kube)).ready;
  log(
    `scale ${size}: ${size} agent pods Running after ${((podsReadyAt - started) / 1000).toFixed(1)} s (${ds.status?.numberReady} Ready; ${notReadyNodes} nodes NotReady now)`,
  );
  return {
    nodes: size,
    createdNodes: missing.length,
    createNodesS: (createdAt - started) / 1000,
    nodesReadyS: (nodesReadyAt - started) / 1000,
    podsRunningS: (podsReadyAt - started) / 1000,
    podsReady: ds.status?.numberReady ?? 0,
    notReadyNodes,
    cpu: cpuBetween(a, b),
  };
}

/** Deletes what earlier runs (this one included) left: benchmark namespaces, then benchmark nodes. */
async function cleanUp(kube: Kube, wait: boolean): Promise<void> {
  const namespaces = await kube.list('/api/v1/namespaces', { labelSelector: 'kwp-bench=true' });
  for (const ns of namespaces.map((n) => n.metadata.name as string)) {
    const orphan = '?propagationPolicy=Orphan';
    // Workloads go first without cascading, then the pods at once (grace 0): no controller
    // recreates them and kwok has nothing to play; then the namespace.
    for (const path of [
      `/apis/apps/v1/namespaces/${ns}/daemonsets`,
      `/apis/apps/v1/namespaces/${ns}/deployments`,
      `/apis/apps/v1/namespaces/${ns}/replicasets`,
    ]) {
      await kube.request('DELETE', path + orphan, undefined, {}, 300_000).catch(() => undefined);
    }
    await kube
      .request('DELETE', `/api/v1/namespaces/${ns}/pods?gracePeriodSeconds=0`, undefined, {}, 300_000)
      .catch(() => undefined);
    await kube.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
  }
  const nodes = await kube.table('/api/v1/nodes', { labelSelector: `${BENCH_NODE_LABEL}=true` });
  if (nodes.length > 0) {
    log(`cleanup: deleting ${nodes.length} benchmark nodes`);
    // One DELETE each (a deletecollection of thousands outlives the API server's 60 s request timeout).
    await pool(nodes, 16, async (n) => {
      await kube.request('DELETE', `/api/v1/nodes/${n.name}`).catch((err: unknown) => {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      });
    });
  }
  if (!wait) return;
  const deadline = performance.now() + 180_000;
  while (performance.now() < deadline) {
    const left = await kube.list('/api/v1/namespaces', { labelSelector: 'kwp-bench=true' });
    if (left.length === 0) return;
    await sleep(1000);
  }
  log('cleanup: benchmark namespaces still terminating after 180 s (left to the namespace controller)');
}

// ---------------------------------------------------------------------------------------------
// Output

const round = (n: number | undefined, digits = 1) =>
  n === undefined || !Number.isFinite(n) ? undefined : Math.round(n * 10 ** digits) / 10 ** digits;

function roundStats(s: Stats): Stats {
  return { n: s.n, p50: round(s.p50), p90: round(s.p90), p99: round(s.p99), max: round(s.max), mean: round(s.mean) };
}

function roundCpu(c: CpuCores): CpuCores {
  return {
    seconds: round(c.seconds)!,
    controller: round(c.controller, 3)!,
    bench: round(c.bench, 3)!,
    cluster: round(c.cluster, 3)!,
    other: round(c.other, 3)!,
  };
}

// ---------------------------------------------------------------------------------------------

let cleanupOnExit: (() => void) | undefined;
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  cleanupOnExit?.();
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(
      `\nbench:failover: ${signal}: stopping the controllers (the cluster and its benchmark objects are left; the next run cleans them up)\n`,
    );
    for (const child of children) child.kill('SIGTERM');
    setTimeout(() => process.exit(130), 2000).unref();
  });
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (!existsSync(opts.cli)) usage(`${relative(ROOT, opts.cli)} not found: run npm run build first`);
  const date = new Date().toISOString();
  const cpus = availableParallelism();
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  log(`bench:failover  ${date}  node ${process.version}  ${cpus} CPUs  load ${load}  cluster ${opts.clusterDir}`);

  let startedCluster = false;
  const running = clusterRunning(opts.clusterDir);
  if (!running) {
    log(`bringing the local cluster up (node test/cluster/main.ts up, node Leases of ${opts.nodeLeaseSeconds} s)`);
    const up = clusterCommand(opts.clusterDir, 'up', opts.nodeLeaseSeconds);
    if (up.status !== 0) throw new Error(`cluster up failed:\n${up.stderr}`);
    startedCluster = true;
  }
  const files = clusterFiles(opts.clusterDir);
  const lease = componentFlag(opts.clusterDir, 'kwok', 'node-lease-duration-seconds');
  if (lease !== String(opts.nodeLeaseSeconds))
    log(
      `note: the cluster was already up with node Leases of ${lease ?? '(unknown)'} s, not --node-lease ${opts.nodeLeaseSeconds}`,
    );
  if (lease !== undefined) opts.nodeLeaseSeconds = Number(lease); // what the figures ran with
  const kube = new Kube(files);
  await pollFor(
    'kube-apiserver /readyz',
    () => kube.request('GET', '/readyz', undefined, { accept: 'text/plain' }, 10_000).then(() => true),
    300_000,
  );
  const scratch = mkdtempSync(join(tmpdir(), 'bench-election-'));
  cleanupOnExit = () => rmSync(scratch, { recursive: true, force: true });
  try {
    return await measure(opts, files, kube, scratch, { date, cpus, load });
  } finally {
    for (const child of children) child.kill('SIGKILL');
    // Leave the cluster as found (minus what this run created), or down.
    if (opts.cleanup) {
      log('cleanup: deleting the benchmark namespaces and nodes');
      await cleanUp(kube, !(startedCluster && !opts.keepCluster)).catch((err: unknown) =>
        log(`cleanup failed: ${String(err)}`),
      );
    }
    kube.close();
    if (opts.down || (startedCluster && !opts.keepCluster)) {
      log('bringing the local cluster down');
      clusterCommand(opts.clusterDir, 'down');
    }
  }
}

async function measure(
  opts: Options,
  files: ClusterFiles,
  kube: Kube,
  scratch: string,
  { date, cpus, load }: { date: string; cpus: number; load: string },
): Promise<number> {
  const logDir = opts.logs ?? scratch;
  const run = Math.random().toString(36).slice(2, 7);
  const agentsNs = `kwp-bench-agents-${run}`;
  const problems: string[] = [];
  const failovers: FailoverResult[] = [];
  const startups: Startup[] = [];
  const steadies: Steady[] = [];
  const setups: Setup[] = [];
  const exits: { label: string; code: number | null; signal: string | null; ms: number }[] = [];
  let skipped: string | undefined;

  log('cleaning up what earlier runs left');
  await cleanUp(kube, true);

  await kube.request('POST', '/api/v1/namespaces', namespace(agentsNs));
  await pollFor(
    'the default ServiceAccount',
    () => kube.find(`/api/v1/namespaces/${agentsNs}/serviceaccounts/default`),
    60_000,
  );
  const observer = new Observer(kube, agentsNs);
  await observer.start();
  const ctx: Context = { opts, files, kube, observer, run, agentsNs, scratch, logDir };

  await kube.request(
    'POST',
    `/apis/apps/v1/namespaces/${agentsNs}/deployments`,
    watcherDeployment(ROOT, agentsNs, opts.watchers),
  );
  await kube.request('POST', `/apis/apps/v1/namespaces/${agentsNs}/daemonsets`, agentDaemonSet(ROOT, agentsNs));
  await observer.until(
    `${opts.watchers} Ready watcher pods`,
    () => observer.watchers.size === opts.watchers && [...observer.watchers.values()].every((p) => p.ready),
    120_000,
  );
  const baseNodes = await kube.count('/api/v1/nodes');

  try {
    if (opts.phases.includes('failover')) {
      const { controllers, leader, startup } = await startControllers(ctx, 'small', 0, baseNodes);
      startups.push(startup);
      steadies.push(await steadyState(ctx, 'small', controllers, leader));
      failovers.push(await runFailover('small', 0, baseNodes, ctx, controllers, opts.trials));
      for (const e of await stopControllers(ctx, controllers, startup.systemNs)) exits.push({ label: 'small', ...e });
    }
    if (opts.phases.includes('scale')) {
      for (const size of opts.sizes) {
        let setup: Setup;
        try {
          setup = await setUpSize(ctx, size);
        } catch (err) {
          skipped = `${size}: ${(err as Error).message}`;
          log(`scale ${size}: set-up failed, not measured: ${(err as Error).message}`);
          break;
        }
        setups.push(setup);
        const label = `${size}`;
        const nodes = await kube.count('/api/v1/nodes');
        await sleep(5000); // let the DaemonSet's last status writes pass
        const { controllers, leader, startup } = await startControllers(ctx, label, size, nodes);
        startups.push(startup);
        const expected = size + opts.watchers;
        if (startup.syncedPods !== undefined && startup.syncedPods < expected)
          problems.push(`${label}: the controller synced ${startup.syncedPods} agent pods, expected ${expected}`);
        steadies.push(await steadyState(ctx, label, controllers, leader));
        if (opts.scaleTrials > 0)
          failovers.push(await runFailover(label, size, nodes, ctx, controllers, opts.scaleTrials));
        for (const e of await stopControllers(ctx, controllers, startup.systemNs)) exits.push({ label, ...e });
      }
    }
  } finally {
    observer.stop();
  }

  return report({ opts, date, cpus, load, failovers, startups, steadies, setups, exits, problems, skipped });
}

/** What a run of measure() collected, for the report. */
interface Results {
  opts: Options;
  date: string;
  cpus: number;
  load: string;
  failovers: FailoverResult[];
  startups: Startup[];
  steadies: Steady[];
  setups: Setup[];
  exits: { label: string; code: number | null; signal: string | null; ms: number }[];
  problems: string[];
  skipped: string | undefined;
}

/** The tables, the verdicts against the targets and the JSON line of a run; the exit code. */
function report(r: Results): number {
  const { opts, date, cpus, load, failovers, startups, steadies, setups, exits, problems, skipped } = r;
  // Problems: failed trials, a wrong winner, unclean exits.
  for (const f of failovers) {
    for (const t of f.trials) {
      if (t.error) problems.push(`${f.label} trial ${t.trial}: ${t.error}`);
      else if (!t.nextWasReady && !t.fallback)
        problems.push(
          `${f.label} trial ${t.trial}: ${t.next} was elected, not one of the pods that were Ready before the deletion`,
        );
      else if (t.sawNoHolder) problems.push(`${f.label} trial ${t.trial}: the Lease had no holder in between`);
    }
  }
  for (const e of exits)
    if (e.code !== 0) problems.push(`${e.label}: the controller exited with ${e.code ?? e.signal} on SIGTERM`);

  // Output
  const out: string[] = [''];
  out.push(`election benchmark  ${date}  node ${process.version}  ${cpus} CPUs  load average ${load}`);
  out.push(
    `controller: ${Object.entries(opts.controllerEnv)
      .map(([k, v]) => `${k}=${v} `)
      .join(
        '',
      )}${opts.nodeFlags.length > 0 ? `node ${opts.nodeFlags.join(' ')} ` : ''}${relative(ROOT, opts.cli)} controller x${opts.replicas} (figures: the leader); watcher Deployment ${opts.watchers} x only-watch; ` +
      `agents: DaemonSet, one pod per kwok node; times by this process's watches, from the DELETE's return; CPU in cores (${cpus} on this machine)`,
  );
  out.push('');
  const frows: string[][] = [
    [
      'failover',
      'agents',
      'nodes',
      'trials',
      'Lease p50',
      'Lease p90',
      'Lease p99',
      'Lease max',
      'sent->Lease p50',
      'sent->Lease p99',
      'label p50',
      'label p99',
      'label max',
      'DELETE p50',
      'bad',
      'to agent',
      'CPU ctl',
      'CPU cluster',
      'CPU other',
    ],
  ];
  for (const f of failovers) {
    const s = f.stats;
    frows.push([
      f.label === 'small' ? 'small cluster' : `${f.label} agents`,
      String(f.agents + opts.watchers),
      String(f.nodes),
      String(f.trials.length),
      fmt(s.leaseMs.p50, 0),
      fmt(s.leaseMs.p90, 0),
      fmt(s.leaseMs.p99, 0),
      fmt(s.leaseMs.max, 0),
      fmt(s.leaseFromSendMs.p50, 0),
      fmt(s.leaseFromSendMs.p99, 0),
      fmt(s.labelMs.p50, 0),
      fmt(s.labelMs.p99, 0),
      fmt(s.labelMs.max, 0),
      fmt(s.deleteMs.p50, 0),
      String(f.failed),
      String(f.fallbacks),
      fmt(f.cpu.controller),
      fmt(f.cpu.cluster),
      fmt(f.cpu.other),
    ]);
  }
  if (failovers.length > 0) {
    out.push(
      'failover latency, ms (watcher pod DELETE returned -> Lease names the next pod; -> that pod has the label)',
    );
    out.push(table(frows));
    out.push('');
  }
  const srows: string[][] = [
    [
      'start-up',
      'agents',
      'nodes',
      'setup s',
      'log: starting',
      'log: synced',
      '/readyz 200',
      'Lease',
      'RSS ready',
      'RSS Lease',
      'RSS steady',
      'max',
      'peak',
      'heap used',
      'elections',
      'ms each',
      'CPU ctl',
      'CPU cluster',
      'CPU other',
    ],
  ];
  for (const s of startups) {
    const st = steadies.find((x) => x.label === s.label);
    const setup = setups.find((x) => String(x.nodes) === s.label);
    srows.push([
      s.label === 'small' ? 'small cluster' : `${s.label} agents`,
      String(s.syncedPods ?? s.agents + opts.watchers),
      String(s.syncedNodes ?? s.nodes),
      setup ? fmt(setup.podsRunningS, 0) : '',
      fmt(s.startingLogMs, 0),
      fmt(s.syncedLogMs, 0),
      fmt(s.readyMs, 0),
      fmt(s.leaseMs, 0),
      fmt(s.rssReadyMb, 1),
      fmt(s.rssLeaseMb, 1),
      fmt(st?.rssEndMb, 1),
      fmt(st?.rssMaxMb, 1),
      fmt(st?.peakRssMb, 1),
      fmt(st?.heapUsedMb, 1),
      st?.elections === undefined ? '-' : String(st.elections),
      fmt(st?.electionMeanMs, 1),
      fmt(st?.cpu.controller),
      fmt(st?.cpu.cluster),
      fmt(st?.cpu.other),
    ]);
  }
  out.push(
    `controller start-up (ms from spawn) and memory (MB; steady = after ${opts.steady} s, max = largest 1 s sample, peak = VmHWM); CPU over the steady state`,
  );
  out.push(table(srows));
  out.push('');
  for (const s of setups) {
    out.push(
      `set-up ${s.nodes}: ${s.createdNodes} nodes created in ${fmt(s.createNodesS, 1)} s, all Ready at ${fmt(s.nodesReadyS, 1)} s, all agent pods Running at ${fmt(s.podsRunningS, 1)} s (${s.podsReady} Ready; ${s.notReadyNodes} nodes NotReady then) ` +
        `(CPU cluster ${fmt(s.cpu.cluster)}, other ${fmt(s.cpu.other)})`,
    );
  }
  if (skipped) out.push(`not measured: ${skipped}`);

  const verdicts: Verdict[] = [];
  for (const f of failovers) {
    const p99 = f.stats.leaseMs.p99;
    verdicts.push({
      name: `failover p99, ${f.label === 'small' ? 'small cluster' : `${f.label} agents`} (ms)`,
      value: p99,
      target: `< ${opts.targetP99}`,
      pass: p99 !== undefined && p99 < opts.targetP99 && f.failed === 0,
    });
  }
  const largest = steadies.filter((s) => s.label !== 'small').at(-1);
  if (largest) {
    const st = startups.find((s) => s.label === largest.label);
    const rss = Math.max(st?.rssReadyMb ?? 0, st?.rssLeaseMb ?? 0, largest.rssMaxMb ?? 0, largest.rssEndMb ?? 0);
    verdicts.push({
      name: `controller RSS at ${largest.label} agents (MB, after sync / steady)`,
      value: rss,
      target: `< ${opts.targetRss}`,
      pass: rss < opts.targetRss,
    });
    if (Number(largest.label) < 5000)
      out.push(`note: the largest size measured is ${largest.label}, not 5,000: the RSS target is judged there`);
  }
  out.push('');
  for (const v of verdicts)
    out.push(
      `${v.name.padEnd(56)} ${fmt(v.value, 0).padStart(7)}  target ${v.target.padEnd(7)} ${v.pass ? 'PASS' : 'MISS'}`,
    );
  const notes: string[] = [];
  const busy = [
    ...failovers.map((f) => ({ l: f.label, c: f.cpu.other })),
    ...steadies.map((s) => ({ l: s.label, c: s.cpu.other })),
  ].filter((x) => x.c > 0.25);
  if (busy.length > 0)
    notes.push(
      `other processes used up to ${fmt(Math.max(...busy.map((b) => b.c)))} of ${cpus} cores (${busy.map((b) => b.l).join(', ')}): latencies there are pessimistic`,
    );
  const few = failovers.filter((f) => f.stats.leaseMs.n < 100);
  if (few.length > 0)
    notes.push(
      `p99 of ${few.map((f) => f.stats.leaseMs.n).join('/')} trials is the largest or second largest sample (nearest rank)`,
    );
  const fell = failovers.filter((f) => f.fallbacks > 0);
  if (fell.length > 0) {
    notes.push(
      `the Lease went to a DaemonSet agent (no other watcher pod eligible: their kwok nodes NotReady) in ${fell.map((f) => `${f.fallbacks} trials at ${f.label}`).join(', ')}; ` +
        'correct, and timed like the others',
    );
  }
  const repaired = failovers.filter((f) => f.repaired > 0);
  if (repaired.length > 0)
    notes.push(
      `watcher pods stuck not Ready (kwok node heartbeat late) were deleted between trials: ${repaired.map((f) => `${f.repaired} at ${f.label}`).join(', ')}`,
    );
  for (const n of notes) out.push(`note: ${n}`);
  for (const e of exits) out.push(`${e.label}: SIGTERM -> exit ${e.code ?? e.signal} in ${fmt(e.ms, 0)} ms`);
  if (opts.logs) out.push(`controller logs in ${opts.logs}`);
  if (opts.cpuProf) out.push(`CPU profiles in ${opts.cpuProf}`);
  const snaps = steadies.map((s) => s.heapSnapshot).filter(Boolean);
  if (snaps.length > 0) out.push(`heap snapshots: ${snaps.join(', ')}`);
  if (problems.length > 0) {
    out.push('');
    out.push(`FAILED: ${problems.length} problem(s):`);
    for (const p of problems) out.push(`  - ${p}`);
  }
  out.push('');
  process.stdout.write(out.join('\n') + '\n');

  process.stdout.write(JSON.stringify(resultJson(r, verdicts, notes)) + '\n');
  if (problems.length > 0) return 1;
  if (opts.strict && verdicts.some((v) => !v.pass)) return 2;
  return 0;
}

type Verdict = { name: string; value: number | undefined; target: string; pass: boolean };

/** The machine-readable line of a run (the last line of its output). */
function resultJson(
  { opts, date, cpus, failovers, startups, steadies, setups, exits, problems, skipped }: Results,
  verdicts: Verdict[],
  notes: string[],
) {
  return {
    bench: 'watcher-failover',
    date,
    node: process.version,
    cpus,
    loadavg: loadavg(),
    options: {
      nodeLeaseSeconds: opts.nodeLeaseSeconds,
      heap: opts.heap,
      controllerEnv: opts.controllerEnv,
      nodeFlags: opts.nodeFlags,
      replicas: opts.replicas,
      watchers: opts.watchers,
      trials: opts.trials,
      sizes: opts.sizes,
      scaleTrials: opts.scaleTrials,
      steadyS: opts.steady,
      settleMs: opts.settleMs,
    },
    failover: failovers.map((f) => ({
      label: f.label,
      agents: f.agents + opts.watchers,
      nodes: f.nodes,
      trials: f.trials.length,
      bad: f.failed,
      repaired: f.repaired,
      fallbacks: f.fallbacks,
      leaseMs: roundStats(f.stats.leaseMs),
      leaseFromSendMs: roundStats(f.stats.leaseFromSendMs),
      labelMs: roundStats(f.stats.labelMs),
      unlabelMs: roundStats(f.stats.unlabelMs),
      deleteMs: roundStats(f.stats.deleteMs),
      cpu: roundCpu(f.cpu),
      samples: f.trials.map((t) => ({
        lease: round(t.leaseMs),
        label: round(t.labelMs),
        del: round(t.deleteMs),
        ...(t.error && { error: t.error }),
      })),
    })),
    startup: startups.map((s) => ({
      label: s.label,
      agents: s.syncedPods,
      nodes: s.syncedNodes,
      startingMs: round(s.startingLogMs, 0),
      syncedMs: round(s.syncedLogMs, 0),
      readyMs: round(s.readyMs, 0),
      leaseMs: round(s.leaseMs, 0),
      rssReadyMb: round(s.rssReadyMb),
      rssLeaseMb: round(s.rssLeaseMb),
      ...(s.followerRssMb !== undefined && { followerRssMb: round(s.followerRssMb) }),
    })),
    steady: steadies.map((s) => ({
      label: s.label,
      seconds: s.seconds,
      rssEndMb: round(s.rssEndMb),
      rssMaxMb: round(s.rssMaxMb),
      peakRssMb: round(s.peakRssMb),
      heapUsedMb: round(s.heapUsedMb),
      heapTotalMb: round(s.heapTotalMb),
      externalMb: round(s.externalMb),
      elections: s.elections,
      electionMeanMs: round(s.electionMeanMs, 2),
      candidates: s.candidates,
      eligible: s.eligible,
      cpu: roundCpu(s.cpu),
    })),
    setup: setups.map((s) => ({
      ...s,
      createNodesS: round(s.createNodesS),
      nodesReadyS: round(s.nodesReadyS),
      podsRunningS: round(s.podsRunningS),
      cpu: roundCpu(s.cpu),
    })),
    skipped,
    targets: verdicts.map((v) => ({ ...v, value: round(v.value) })),
    exits,
    problems,
    notes,
  };
}

async function pollFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:failover: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
