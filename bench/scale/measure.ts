/**
 * What the scale benchmark measures at one size, on processes it starts: the controller (first
 * sync, first Lease, RSS every second, CPU per pod event, failover, its election histogram), the
 * CLI's `status` and `audit` (wall time, peak RSS), and once the webhook's node cache (RSS with
 * and without it).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { chartHeap } from '../chart_heap.ts';
import type { ClusterFiles, Kube } from '../kube.ts';
import { freePort, sleep } from '../options.ts';
import { clusterPids, measureChild, procCpuSeconds, procStatusMb, type ChildRun } from '../proc.ts';
import { percentile } from '../report.ts';
import { children, Controller } from '../watcher_failover/controller.ts';
import { LeaseWatch } from './lease_watch.ts';
import { controllerConfig, DEEPFLOW_NS, namespace, readiness, sidecarPlace, WATCHER_RS } from './objects.ts';
import { createWatcher, retrying, type Log, type Populator } from './populate.ts';

export const LEASE_NAME = 'k8s-watcher';

export interface MeasureOptions {
  cli: string;
  steady: number;
  events: number;
  eventRate: number;
  trials: number;
  settleMs: number;
  setupTimeout: number;
  cliTimeout: number;
  webhookSettle: number;
  namespaces: number;
  nodeFlags: string[];
  controllerEnv: Record<string, string>;
}

export interface Ctx {
  opts: MeasureOptions;
  files: ClusterFiles;
  kube: Kube;
  populator: Populator;
  scratch: string;
  logDir: string;
  run: string;
  log: Log;
}

const round = (n: number | undefined, digits = 1) =>
  n === undefined || !Number.isFinite(n) ? undefined : Math.round(n * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------
// The controller

export interface EventFigures {
  events: number;
  pods: number;
  /** Events per second the benchmark sent (paced; 0 = unpaced). */
  rate: number;
  /** Seconds of the idle baseline and of the events window (until the controller was quiet again). */
  idleS: number;
  windowS: number;
  /** Controller CPU: idle (cores), in the window (ms), above idle (ms). */
  idleCores: number;
  cpuMs: number;
  cpuAboveIdleMs: number;
  usPerEvent: number;
  /** From the last PATCH's return until the controller's CPU was back at idle. */
  drainMs: number;
  elections: number | undefined;
  electionMeanMs: number | undefined;
  /** The window ended at the deadline, not at quiet. */
  timedOut: boolean;
}

export interface FailoverTrial {
  trial: number;
  old: string;
  next: string | undefined;
  deleteMs: number;
  /** DELETE returned -> the Lease names another pod (the figure). */
  leaseMs: number | undefined;
  /** The new watcher pod (created before the deletion) took the Lease directly. */
  toNew: boolean;
  sawNoHolder: boolean;
  /** The Lease moved to the new watcher before the old one was deleted (stickiness broken). */
  movedEarly: boolean;
  error?: string;
}

export interface FailoverFigures {
  trials: FailoverTrial[];
  n: number;
  p50: number | undefined;
  p90: number | undefined;
  p99: number | undefined;
  max: number | undefined;
  deleteP50: number | undefined;
  bad: number;
}

export interface ControllerFigures {
  systemNs: string;
  /** Why the measurements stopped early (the controller died, a timeout). */
  error?: string;
  readyMs: number | undefined;
  leaseMs: number | undefined;
  startingLogMs: number | undefined;
  syncedLogMs: number | undefined;
  /** What the controller's log line `caches synced` says (agentPods, nodes). */
  syncedPods: number | undefined;
  syncedNodes: number | undefined;
  firstHolder: string | undefined;
  rssReadyMb: number | undefined;
  rssLeaseMb: number | undefined;
  /** VmRSS `steady` seconds after the first Lease. */
  rssSteadyMb: number | undefined;
  /** Largest 1 s sample from spawn to the end of the steady state, and VmHWM then. */
  rssMaxMb: number | undefined;
  peakMb: number | undefined;
  /** VmHWM when the controller was stopped (events, failover and the CLI's reads included). */
  peakEndMb: number | undefined;
  heapUsedMb: number | undefined;
  heapTotalMb: number | undefined;
  candidates: number | undefined;
  steadyElections: number | undefined;
  steadyElectionMeanMs: number | undefined;
  /** The whole life of the controller at this size: every election, mean. */
  elections: number | undefined;
  electionMeanMs: number | undefined;
  events: EventFigures | undefined;
  failover: FailoverFigures | undefined;
  exit: { code: number | null; signal: string | null; ms: number };
  /** VmRSS every second from spawn, MB. */
  rssSamples: number[];
}

export interface CliFigures {
  command: string;
  code: number | null;
  signal: string | null;
  wallS: number;
  peakRssMb: number | undefined;
  rssBy: string;
  stdoutBytes: number;
  ok: boolean;
  timedOut: boolean;
  stderr?: string;
}

const metric = (m: Map<string, number>, name: string) => m.get(name);

/** Eligible candidates of the last election (`k8s_watch_policy_candidates{eligible="true"}`), of one policy or all. */
function eligibleCandidates(m: Map<string, number>, policy?: string): number | undefined {
  let sum: number | undefined;
  for (const [key, value] of m)
    if (
      key.startsWith('k8s_watch_policy_candidates{') &&
      key.includes('eligible="true"') &&
      (policy === undefined || key.includes(`policy="${policy}"`))
    )
      sum = (sum ?? 0) + value;
  return sum;
}

/** Polls `probe` every 50 ms until it returns a value; rejects after `timeoutMs`. */
async function pollFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(50);
  }
}
const ELECTION = 'k8s_watch_policy_election_duration_seconds';

async function metricsOf(c: Controller): Promise<Map<string, number>> {
  return c.metrics().catch(() => new Map<string, number>());
}

function electionDelta(a: Map<string, number>, b: Map<string, number>): { count?: number; meanMs?: number } {
  const count = (metric(b, `${ELECTION}_count`) ?? NaN) - (metric(a, `${ELECTION}_count`) ?? 0);
  const sum = (metric(b, `${ELECTION}_sum`) ?? NaN) - (metric(a, `${ELECTION}_sum`) ?? 0);
  if (!Number.isFinite(count)) return {};
  return { count, ...(count > 0 && { meanMs: (sum / count) * 1000 }) };
}

/** Starts a controller at this size, measures everything on it, runs the CLI while it runs, stops it. */
export async function measureController(
  ctx: Ctx,
  size: number,
  nodes: number,
  sidecars: number,
): Promise<{ controller: ControllerFigures; cli: CliFigures[] }> {
  const { opts, kube, log } = ctx;
  const systemNs = `kwp-scale-sys-${ctx.run}-${size}`;
  await kube.request('POST', '/api/v1/namespaces', namespace(systemNs));
  const lease = new LeaseWatch();
  await lease.start(kube, systemNs, LEASE_NAME);
  const configFile = join(ctx.scratch, 'controller.yaml');
  writeFileSync(configFile, controllerConfig(LEASE_NAME));
  log(`${size}: starting the controller (${[...opts.nodeFlags].join(' ') || 'Node defaults'}) in ${systemNs}`);
  const c = await Controller.start({
    cli: opts.cli,
    kubeconfig: ctx.files.kubeconfig,
    configFile,
    namespace: systemNs,
    identity: 'bench-scale-controller',
    logFile: join(ctx.logDir, `controller-${ctx.run}-${size}.log`),
    nodeFlags: opts.nodeFlags,
    env: opts.controllerEnv,
  });
  const samples: number[] = [];
  const sampler = setInterval(() => {
    const rss = c.rssMb();
    if (rss !== undefined) samples.push(rss);
  }, 1000);
  const figures: ControllerFigures = {
    systemNs,
    readyMs: undefined,
    leaseMs: undefined,
    startingLogMs: undefined,
    syncedLogMs: undefined,
    syncedPods: undefined,
    syncedNodes: undefined,
    firstHolder: undefined,
    rssReadyMb: undefined,
    rssLeaseMb: undefined,
    rssSteadyMb: undefined,
    rssMaxMb: undefined,
    peakMb: undefined,
    peakEndMb: undefined,
    heapUsedMb: undefined,
    heapTotalMb: undefined,
    candidates: undefined,
    steadyElections: undefined,
    steadyElectionMeanMs: undefined,
    elections: undefined,
    electionMeanMs: undefined,
    events: undefined,
    failover: undefined,
    exit: { code: null, signal: null, ms: 0 },
    rssSamples: [],
  };
  const cli: CliFigures[] = [];
  try {
    try {
      const readyAt = await c.waitReady(opts.setupTimeout * 1000);
      figures.readyMs = readyAt - c.spawnedAt;
      figures.rssReadyMb = c.rssMb();
      const first = await lease.next('the first published Lease', 0, (e) => e.holder !== undefined, 300_000);
      figures.leaseMs = first.at - c.spawnedAt;
      figures.firstHolder = first.holder;
      figures.rssLeaseMb = c.rssMb();
      // The CLI flushes its log at least every 250 ms.
      const synced = await pollFor('the log line "caches synced"', () => c.loggedAt('caches synced'), 5000).catch(
        () => undefined,
      );
      const starting = c.loggedAt('controller starting');
      figures.startingLogMs = starting?.ms;
      figures.syncedLogMs = synced?.ms;
      figures.syncedPods = synced?.line.agentPods ?? synced?.line.pods;
      figures.syncedNodes = synced?.line.nodes;
      log(
        `${size}: /readyz 200 after ${(figures.readyMs / 1000).toFixed(2)} s (its log at sync: ${figures.syncedPods} agent pods, ${figures.syncedNodes} nodes), ` +
          `Lease after ${(figures.leaseMs / 1000).toFixed(2)} s naming ${first.holder}; RSS ${figures.rssReadyMb?.toFixed(1)} MB at ready`,
      );
      // Steady state: `steady` seconds after the first Lease.
      const steadyEnd = first.at + opts.steady * 1000;
      while (performance.now() < steadyEnd) await sleep(Math.min(1000, steadyEnd - performance.now()));
      figures.rssSteadyMb = c.rssMb();
      figures.peakMb = c.peakRssMb();
      figures.rssMaxMb = Math.max(...samples, figures.rssSteadyMb ?? 0);
      const m1 = await metricsOf(c);
      const steadyMetrics = electionDelta(new Map(), m1);
      const mb = (name: string) => (m1.has(name) ? m1.get(name)! / 2 ** 20 : undefined);
      figures.heapUsedMb = mb('nodejs_heap_size_used_bytes');
      figures.heapTotalMb = mb('nodejs_heap_size_total_bytes');
      figures.candidates = eligibleCandidates(m1);
      figures.steadyElections = steadyMetrics.count;
      figures.steadyElectionMeanMs = steadyMetrics.meanMs;
      log(
        `${size}: after ${opts.steady} s: RSS ${figures.rssSteadyMb?.toFixed(1)} MB (largest sample ${figures.rssMaxMb.toFixed(1)}, VmHWM ${figures.peakMb?.toFixed(1)}), ` +
          `heap ${figures.heapUsedMb?.toFixed(1)}/${figures.heapTotalMb?.toFixed(1)} MB, ` +
          `${steadyMetrics.count} elections (${steadyMetrics.meanMs?.toFixed(1)} ms mean)`,
      );
      if (opts.events > 0) figures.events = await podEvents(ctx, c, sidecars, size);
      if (opts.trials > 0) figures.failover = await failoverTrials(ctx, lease, opts.trials, nodes, size, c);
    } catch (err) {
      // The controller may die (out of heap at a size too large for its caps): the size is still
      // measured for the CLI, and the failure reported.
      figures.error = `${(err as Error).message}${c.alive ? '' : ` (exited ${c.proc.exitCode ?? c.proc.signalCode}: ${(c.stderr || c.logTail()).trim().split('\n').slice(-3).join(' | ')})`}`;
      log(`${size}: the controller's measurements stopped: ${figures.error}`);
    }
    for (const command of ['status', 'audit'] as const) cli.push(await runCli(ctx, command, size));
    if (c.alive) {
      const total = electionDelta(new Map(), await metricsOf(c));
      figures.elections = total.count;
      figures.electionMeanMs = total.meanMs;
      figures.peakEndMb = c.peakRssMb();
    }
  } finally {
    clearInterval(sampler);
    lease.stop();
    figures.exit = await c.stop();
    figures.rssSamples = samples.map((x) => round(x)!);
    await kube.request('DELETE', `/api/v1/namespaces/${systemNs}`).catch(() => undefined);
  }
  return { controller: figures, cli };
}

/**
 * CPU per pod event: an idle baseline, then `events` status PATCHes of sidecar pods (Ready False,
 * then True again: a change the controller's store keeps), paced at `eventRate`/s, until the
 * controller's CPU is back at idle; the CPU above idle over that window, per event.
 */
async function podEvents(ctx: Ctx, c: Controller, sidecars: number, size: number): Promise<EventFigures> {
  const { opts, kube, log } = ctx;
  const k = opts.events;
  const pods = Math.max(1, Math.ceil(k / 2));
  const refs = Array.from({ length: pods }, (_, n) =>
    sidecarPlace(Math.floor(((n + 0.5) * sidecars) / pods), opts.namespaces),
  );
  // At least 30 s: the idle baseline includes the controller's periodic resync (an election).
  const idleS = Math.max(30, opts.eventRate > 0 ? k / opts.eventRate : 0);
  log(`${size}: CPU per pod event: ${idleS.toFixed(0)} s idle baseline, then ${k} events on ${pods} sidecar pods`);
  const m0 = await metricsOf(c);
  let cpuA = procCpuSeconds(c.pid);
  let tA = performance.now();
  await sleep(idleS * 1000);
  const idleCores = (procCpuSeconds(c.pid) - cpuA) / ((performance.now() - tA) / 1000);
  const m1 = await metricsOf(c);
  const idleElections = electionDelta(m0, m1).count ?? 0;

  cpuA = procCpuSeconds(c.pid);
  tA = performance.now();
  for (let e = 0; e < k; e++) {
    if (opts.eventRate > 0) {
      const due = tA + (e * 1000) / opts.eventRate;
      if (due > performance.now()) await sleep(due - performance.now());
    }
    const ref = refs[Math.floor(e / 2)]!;
    await retrying(`PATCH ${ref.name}/status`, () =>
      kube.request(
        'PATCH',
        `/api/v1/namespaces/${ref.namespace}/pods/${ref.name}/status?fieldManager=kubelet`,
        readiness(e % 2 === 1),
      ),
    );
  }
  const lastPatch = performance.now();
  // Quiet: 2 s in which the controller used no more than idle + 0.02 cores.
  const window: { t: number; cpu: number }[] = [{ t: lastPatch, cpu: procCpuSeconds(c.pid) }];
  const deadline = lastPatch + 120_000;
  let timedOut = false;
  /** The latest sample at least 2 s before `t`. */
  const twoSecondsBefore = (t: number) => window.findLast((x) => t - x.t >= 2000);
  for (;;) {
    await sleep(250);
    const now = { t: performance.now(), cpu: procCpuSeconds(c.pid) };
    window.push(now);
    const from = twoSecondsBefore(now.t);
    if (from && (now.cpu - from.cpu) / ((now.t - from.t) / 1000) <= idleCores + 0.02) break;
    if (now.t > deadline) {
      timedOut = true;
      break;
    }
  }
  const end = window.at(-1)!;
  const quietFrom = twoSecondsBefore(end.t) ?? end;
  const m2 = await metricsOf(c);
  const windowS = (end.t - tA) / 1000;
  const cpuMs = (end.cpu - cpuA) * 1000;
  const aboveMs = cpuMs - idleCores * windowS * 1000;
  const el = electionDelta(m1, m2);
  const figures: EventFigures = {
    events: k,
    pods,
    rate: opts.eventRate,
    idleS,
    windowS,
    idleCores,
    cpuMs,
    cpuAboveIdleMs: aboveMs,
    usPerEvent: (aboveMs * 1000) / k,
    drainMs: Math.max(0, quietFrom.t - lastPatch),
    elections: el.count,
    electionMeanMs: el.meanMs,
    timedOut,
  };
  log(
    `${size}: ${k} pod events: controller CPU ${cpuMs.toFixed(0)} ms in ${windowS.toFixed(1)} s (idle ${(idleCores * 1000).toFixed(1)} ms/s, ` +
      `${idleElections} elections while idle) -> ${figures.usPerEvent.toFixed(0)} µs per event; ${el.count} elections (${el.meanMs === undefined ? '-' : el.meanMs.toFixed(1)} ms mean); ` +
      `quiet ${(figures.drainMs / 1000).toFixed(1)} s after the last event${timedOut ? ' (NOT quiet within 120 s)' : ''}`,
  );
  return figures;
}

const isWatcher = (holder: string | undefined) => holder?.startsWith(`${DEEPFLOW_NS}/${WATCHER_RS}-`) ?? false;

/**
 * Failover: a second watch-only watcher pod is created (Running, Ready) and left `settle` ms; the
 * Lease stays with the current one (stickiness); the current one is deleted (grace 0) and the
 * Lease's next holder timed by the watch from the DELETE's return. The new pod is the watcher of
 * the next trial.
 */
async function failoverTrials(
  ctx: Ctx,
  lease: LeaseWatch,
  trials: number,
  nodes: number,
  size: number,
  c: Controller,
): Promise<FailoverFigures> {
  const { opts, kube, log } = ctx;
  log(`${size}: ${trials} failover trials`);
  const results: FailoverTrial[] = [];
  let failures = 0;
  let current = (
    await lease.next('a watcher pod in the Lease', 0, (e) => isWatcher(e.holder) && e === lease.events.at(-1), 60_000)
  ).holder!;
  for (let t = 1; t <= trials; t++) {
    const trial: FailoverTrial = {
      trial: t,
      old: current,
      next: undefined,
      deleteMs: NaN,
      leaseMs: undefined,
      toNew: false,
      sawNoHolder: false,
      movedEarly: false,
    };
    try {
      const fresh = await createWatcher(ctx.populator, undefined, t % nodes);
      const freshId = `${fresh.namespace}/${fresh.name}`;
      // The controller has seen it (Running, Ready) when its election counts two eligible watch-only pods.
      await pollFor(
        'the controller to count the new watcher pod',
        async () => ((eligibleCandidates(await metricsOf(c), 'only-watch') ?? 0) >= 2 ? true : undefined),
        60_000,
      );
      await sleep(opts.settleMs); // quiet time before the deletion, as in bench:failover
      if (lease.holder !== current) {
        trial.movedEarly = true;
        current = lease.holder ?? current;
        trial.old = current;
      }
      const from = lease.events.length;
      const [ns, name] = current.split('/') as [string, string];
      const sent = performance.now();
      await kube.request('DELETE', `/api/v1/namespaces/${ns}/pods/${name}?gracePeriodSeconds=0`);
      const returned = performance.now();
      trial.deleteMs = returned - sent;
      const old = current;
      const ev = await lease.next(
        'the Lease to name another pod',
        from,
        (e) => e.holder !== undefined && e.holder !== old,
        60_000,
      );
      trial.next = ev.holder;
      trial.leaseMs = ev.at - returned;
      trial.toNew = ev.holder === freshId;
      trial.sawNoHolder = lease.events.slice(from).some((e) => e.holder === undefined && e.at <= ev.at);
      if (!trial.toNew) await lease.next(`the Lease to name ${freshId}`, from, (e) => e.holder === freshId, 60_000);
      current = freshId;
      failures = 0;
      log(
        `${size} trial ${String(t).padStart(2)}: Lease ${trial.leaseMs.toFixed(0).padStart(5)} ms (DELETE ${trial.deleteMs.toFixed(0)} ms) -> ${trial.next?.split('/')[1]}` +
          `${trial.toNew ? '' : ' (NOT the new watcher first)'}${trial.movedEarly ? ' (the Lease had moved before the deletion)' : ''}${trial.sawNoHolder ? ' (no holder in between)' : ''}`,
      );
    } catch (err) {
      trial.error = (err as Error).message;
      log(`${size} trial ${t}: FAILED: ${trial.error}`);
      if (!c.alive) throw new Error(`the controller died: ${c.stderr || c.logTail()}`, { cause: err });
      if (lease.holder) current = lease.holder;
      if (++failures >= 3) {
        results.push(trial);
        log(`${size}: 3 failed trials in a row: no more trials at this size`);
        break;
      }
    }
    results.push(trial);
  }
  const ms = results
    .map((r) => r.leaseMs)
    .filter((v): v is number => v !== undefined)
    .sort((a, b) => a - b);
  const del = results
    .map((r) => r.deleteMs)
    .filter((v) => Number.isFinite(v))
    .sort((a, b) => a - b);
  const q = (p: number) => (ms.length > 0 ? percentile(ms, p) : undefined);
  return {
    trials: results,
    n: ms.length,
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    max: ms.at(-1),
    deleteP50: del.length > 0 ? percentile(del, 0.5) : undefined,
    bad: results.filter((r) => r.error || !r.toNew || r.sawNoHolder || r.movedEarly).length,
  };
}

// ---------------------------------------------------------------------------------------------
// The CLI

/** `status` / `audit -A` of the built CLI against the cluster, as a user runs them (Node's defaults). */
async function runCli(ctx: Ctx, command: 'status' | 'audit', size: number): Promise<CliFigures> {
  const { opts, log } = ctx;
  const args = [opts.cli, command, ...(command === 'audit' ? ['-A'] : []), '--kubeconfig', ctx.files.kubeconfig];
  const r: ChildRun = await measureChild(process.execPath, args, {
    timeoutMs: opts.cliTimeout * 1000,
    env: { NO_COLOR: '1' },
  });
  // status: 0 healthy, 1 warning, 2 no watcher; audit: 0, 1 drift. Anything else is a failure.
  const ok = !r.timedOut && r.code !== null && [0, 1, 2].includes(r.code);
  const figures: CliFigures = {
    command: command === 'audit' ? 'audit -A' : command,
    code: r.code,
    signal: r.signal,
    wallS: r.wallMs / 1000,
    peakRssMb: r.peakRssMb,
    rssBy: r.rssBy,
    stdoutBytes: r.stdoutBytes,
    ok,
    timedOut: r.timedOut,
    ...(!ok && { stderr: r.stderr.slice(-2000) }),
  };
  log(
    `${size}: ${figures.command}: exit ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''} in ${figures.wallS.toFixed(2)} s, ` +
      `peak RSS ${r.peakRssMb?.toFixed(1)} MB, ${r.stdoutBytes} bytes of output${ok ? '' : `: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`}`,
  );
  return figures;
}

// ---------------------------------------------------------------------------------------------
// The webhook's node cache

export interface WebhookRun {
  nodeCache: boolean;
  readyMs: number;
  rssMb: number | undefined;
  peakMb: number | undefined;
  syncedNodes: number | undefined;
  exit: number | string | null;
}

export interface WebhookFigures {
  nodes: number;
  off: WebhookRun;
  on: WebhookRun;
  /** RSS with the node cache synced minus RSS without it, MB. */
  costMb: number | undefined;
}

function httpsStatus(url: string, ca: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { ca, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** The webhook (chart heap settings) without and with its node cache; RSS `webhookSettle` s after /readyz. */
export async function webhookNodeCache(ctx: Ctx, nodes: number): Promise<WebhookFigures> {
  const { opts, log } = ctx;
  const certDir = join(ctx.scratch, 'webhook-certs');
  mkdirSync(certDir, { recursive: true });
  const certs = await measureChild(process.execPath, [opts.cli, 'certs', '--out', certDir], { timeoutMs: 60_000 });
  if (certs.code !== 0) throw new Error(`certs: ${certs.stderr}`);
  const ca = readFileSync(join(certDir, 'ca.crt'));
  const heap = chartHeap('webhook');
  const runs: WebhookRun[] = [];
  for (const nodeCache of [false, true]) {
    const port = await freePort();
    const metricsPort = await freePort();
    const logFile = join(ctx.logDir, `webhook-${ctx.run}-${nodeCache ? 'node-cache' : 'no-node-cache'}.log`);
    const out = openSync(logFile, 'w');
    const args = [
      ...heap.flags,
      opts.cli,
      'webhook',
      '--cert-dir',
      certDir,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--metrics-port',
      String(metricsPort),
      '--drain-delay',
      '0',
      ...(nodeCache ? ['--kubeconfig', ctx.files.kubeconfig] : ['--no-node-cache']),
    ];
    const env: NodeJS.ProcessEnv = { ...process.env, ...heap.env };
    delete env.KUBECONFIG;
    const t0 = performance.now();
    const proc = spawn(process.execPath, args, { stdio: ['ignore', out, 'pipe'], env });
    closeSync(out);
    children.add(proc);
    let stderr = '';
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d.slice(0, 4096)));
    const exited = new Promise<number | string | null>((resolve) =>
      proc.once('exit', (code, signal) => (children.delete(proc), resolve(code ?? signal))),
    );
    const pid = proc.pid!;
    const deadline = t0 + opts.setupTimeout * 1000;
    let readyMs: number | undefined;
    while (readyMs === undefined) {
      if (proc.exitCode !== null) throw new Error(`the webhook exited (${proc.exitCode}): ${stderr}`);
      if ((await httpsStatus(`https://127.0.0.1:${port}/readyz`, ca)) === 200) readyMs = performance.now() - t0;
      else if (performance.now() > deadline) throw new Error('the webhook was not ready in time');
      else await sleep(20);
    }
    await sleep(opts.webhookSettle * 1000);
    const rssMb = procStatusMb(pid, 'VmRSS');
    const peakMb = procStatusMb(pid, 'VmHWM');
    const synced = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as { msg?: string; nodes?: number };
        } catch {
          return {};
        }
      })
      .find((l) => l.msg === 'node cache synced');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    const exit = await exited;
    clearTimeout(timer);
    const run: WebhookRun = { nodeCache, readyMs, rssMb, peakMb, syncedNodes: synced?.nodes, exit };
    runs.push(run);
    log(
      `webhook ${nodeCache ? `with its node cache (${synced?.nodes} nodes)` : 'without a node cache'}: /readyz after ${(readyMs / 1000).toFixed(2)} s, ` +
        `RSS ${rssMb?.toFixed(1)} MB ${opts.webhookSettle} s later (VmHWM ${peakMb?.toFixed(1)}); exit ${exit}`,
    );
  }
  const [off, on] = runs as [WebhookRun, WebhookRun];
  return {
    nodes,
    off,
    on,
    costMb: on.rssMb !== undefined && off.rssMb !== undefined ? on.rssMb - off.rssMb : undefined,
  };
}

// ---------------------------------------------------------------------------------------------

/** VmRSS of the control plane's processes, MB. */
export function clusterRss(clusterDir: string): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {};
  for (const [name, pid] of clusterPids(clusterDir)) out[name] = round(procStatusMb(pid, 'VmRSS'));
  return out;
}
