#!/usr/bin/env node
/**
 * Scale benchmark (issue "Scale of a serverless cluster: 100,000 agent pods"): the controller,
 * the CLI and the webhook's node cache against the real local control plane (test/cluster:
 * etcd, kube-apiserver, kube-controller-manager) holding N agent pods: 95% watch-disabled
 * sidecars in application pods, 5% DaemonSet agents (one per node, on N x 5% nodes), one
 * watch-only watcher. Nodes and pods are created directly through the API (bench/scale/objects.ts:
 * no kwok, no workload controller plays them) and the cluster grows from size to size.
 *
 * At each size: a fresh controller (the chart's heap settings) is timed to its first sync
 * (/readyz 200) and first Lease, its RSS read every second (peak, and `--steady` s after the
 * Lease), its CPU per pod event measured against an idle baseline, its failover timed, its
 * election histogram read; `status` and `audit -A` are run and measured; at the largest size the
 * webhook's RSS with and without its node cache.
 *
 *   npm run bench:scale -- [--sizes 1000,10000,50000,100000] [--trials 20] [--steady 60]
 *                          [--events 200] [--event-rate 20] [--concurrency 32] [--write-docs]
 *                          [--cluster-dir DIR] [--keep-cluster|--down] [--no-cleanup] [--fresh]
 *
 * See docs/bench/scale.md. Runs on Node 24 with type stripping and imports nothing from src/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chartHeap } from './chart_heap.ts';
import { clusterCommand, clusterRunning } from './cluster.ts';
import { clusterFiles, Kube } from './kube.ts';
import { benchCommandLine, sleep } from './options.ts';
import { childGroups, componentFlag } from './proc.ts';
import { table } from './report.ts';
import { markdownTable, timingLine, webhookLine, writeDocs, type RunInfo, type SizeResult } from './scale/docs.ts';
import {
  clusterRss,
  measureController,
  webhookNodeCache,
  type Ctx,
  type MeasureOptions,
  type WebhookFigures,
} from './scale/measure.ts';
import { SCALE_LABEL, shape } from './scale/objects.ts';
import { cleanUp, grow, LeaseRenewer, waitTerminated, type Populator } from './scale/populate.ts';
import { children } from './watcher_failover/controller.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const t0 = performance.now();
const log = (message: string) =>
  process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(7)} s] ${message}\n`);

interface Options extends MeasureOptions {
  sizes: number[];
  concurrency: number;
  leaseRenew: number;
  nodeLeaseSeconds: number;
  clusterDir: string;
  keepCluster: boolean;
  down: boolean;
  cleanup: boolean;
  fresh: boolean;
  webhook: boolean;
  writeDocs: boolean;
  logs: string | undefined;
}

const USAGE = `usage: npm run bench:scale -- [options]   (or node bench/scale.ts [options])

  --sizes LIST        agent pods (95% sidecars, 5% DaemonSet agents on as many nodes), grown in
                      one cluster                                   (BENCH_SIZES, 1000,10000,50000,100000)
  --trials N          failover trials at each size (0: none)        (BENCH_TRIALS, 20)
  --steady S          seconds after the first Lease for the steady RSS (BENCH_STEADY, 60)
  --events N          pod events for the CPU per event (0: none)    (BENCH_EVENTS, 200)
  --event-rate R      events per second (0: as fast as one client)  (BENCH_EVENT_RATE, 20)
  --settle MS         a new watcher's time before the old one's deletion (BENCH_SETTLE, 500)
  --concurrency N     concurrent requests creating nodes and pods  (BENCH_CONCURRENCY, 32)
  --namespaces N      application namespaces of the sidecars        (BENCH_NAMESPACES, 50)
  --setup-timeout S   limit for the controller's first sync and the webhook's (BENCH_SETUP_TIMEOUT, 1800)
  --cli-timeout S     limit for one run of status or audit          (BENCH_CLI_TIMEOUT, 900)
  --webhook-settle S  seconds after the webhook's /readyz before its RSS (BENCH_WEBHOOK_SETTLE, 10)
  --no-webhook        skip the webhook's node cache at the largest size
  --lease-renew S     renew the benchmark nodes' Leases this often  (BENCH_LEASE_RENEW, 600)
  --node-lease S      node Lease seconds when this run starts the cluster (grace: S - 20)
                      (K8S_WATCH_POLICY_NODE_LEASE_SECONDS, 3600)
  --cluster-dir DIR   the cluster's state directory  (K8S_WATCH_POLICY_CLUSTER_DIR, <tmp>/kwp-scale-cluster)
  --keep-cluster      leave the cluster up (and its objects: the next run grows it) even if this run started it
  --down              bring the cluster down at the end even if it was already up
  --no-cleanup        leave the benchmark's namespaces and nodes in a cluster that stays up
  --fresh             delete what earlier runs left before starting (default: grow it)
  --cli FILE          the built CLI                                  (BENCH_CLI, dist/cli/main.js)
  --heap chart|node   the controller's heap: the Helm chart's or Node's defaults (BENCH_HEAP, chart)
  --node-flags=FLAGS  more node flags for the controller             (BENCH_NODE_FLAGS)
  --logs DIR          keep the controllers' and webhooks' logs here  (BENCH_LOGS)
  --write-docs        rewrite the results of docs/bench/scale.md and docs/bench/scale.svg
`;

const cli = benchCommandLine('bench:scale', USAGE);

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string' },
      trials: { type: 'string' },
      steady: { type: 'string' },
      events: { type: 'string' },
      'event-rate': { type: 'string' },
      settle: { type: 'string' },
      concurrency: { type: 'string' },
      namespaces: { type: 'string' },
      'setup-timeout': { type: 'string' },
      'cli-timeout': { type: 'string' },
      'webhook-settle': { type: 'string' },
      'no-webhook': { type: 'boolean' },
      'lease-renew': { type: 'string' },
      'node-lease': { type: 'string' },
      'cluster-dir': { type: 'string' },
      'keep-cluster': { type: 'boolean' },
      down: { type: 'boolean' },
      'no-cleanup': { type: 'boolean' },
      fresh: { type: 'boolean' },
      cli: { type: 'string' },
      heap: { type: 'string' },
      'node-flags': { type: 'string' },
      logs: { type: 'string' },
      'write-docs': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  cli.helpIf(values.help);
  const env = process.env;
  const int = (name: string, flag: string | undefined, envName: string | undefined, dflt: number, min = 1) =>
    cli.number(name, flag, envName, dflt, { integer: true, min });
  const sizes = cli.list(values.sizes ?? env.BENCH_SIZES ?? '1000,10000,50000,100000').map((raw) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 20 || n > 200_000)
      cli.usage(`--sizes: ${JSON.stringify(raw)} is not a number of agent pods (20-200000)`);
    return n;
  });
  const heap = values.heap ?? env.BENCH_HEAP ?? 'chart';
  if (heap !== 'chart' && heap !== 'node') cli.usage(`--heap must be chart or node, got ${JSON.stringify(heap)}`);
  const chart = heap === 'chart' ? chartHeap('controller') : { flags: [], env: {} };
  const logs = values.logs ?? env.BENCH_LOGS;
  if (logs) mkdirSync(resolve(logs), { recursive: true });
  const opts: Options = {
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    trials: int('trials', values.trials, 'BENCH_TRIALS', 20, 0),
    steady: int('steady', values.steady, 'BENCH_STEADY', 60, 0),
    events: int('events', values.events, 'BENCH_EVENTS', 200, 0),
    eventRate: int('event-rate', values['event-rate'], 'BENCH_EVENT_RATE', 20, 0),
    settleMs: int('settle', values.settle, 'BENCH_SETTLE', 500, 0),
    concurrency: int('concurrency', values.concurrency, 'BENCH_CONCURRENCY', 32),
    namespaces: int('namespaces', values.namespaces, 'BENCH_NAMESPACES', 50),
    setupTimeout: int('setup-timeout', values['setup-timeout'], 'BENCH_SETUP_TIMEOUT', 1800),
    cliTimeout: int('cli-timeout', values['cli-timeout'], 'BENCH_CLI_TIMEOUT', 900),
    webhookSettle: int('webhook-settle', values['webhook-settle'], 'BENCH_WEBHOOK_SETTLE', 10, 0),
    webhook: !(values['no-webhook'] ?? false),
    leaseRenew: int('lease-renew', values['lease-renew'], 'BENCH_LEASE_RENEW', 600, 10),
    nodeLeaseSeconds: int('node-lease', values['node-lease'], 'K8S_WATCH_POLICY_NODE_LEASE_SECONDS', 3600, 40),
    clusterDir: resolve(
      values['cluster-dir'] ?? env.K8S_WATCH_POLICY_CLUSTER_DIR ?? join(tmpdir(), 'kwp-scale-cluster'),
    ),
    keepCluster: values['keep-cluster'] ?? false,
    down: values.down ?? false,
    cleanup: !(values['no-cleanup'] ?? false),
    fresh: values.fresh ?? false,
    cli: resolve(values.cli ?? env.BENCH_CLI ?? join(ROOT, 'dist/cli/main.js')),
    nodeFlags: [
      ...chart.flags,
      ...(values['node-flags'] ?? env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter((x) => x !== ''),
    ],
    controllerEnv: chart.env,
    logs: logs ? resolve(logs) : undefined,
    writeDocs: values['write-docs'] ?? false,
  };
  if (opts.keepCluster && opts.down) cli.usage('--keep-cluster and --down contradict each other');
  return opts;
}

// ---------------------------------------------------------------------------------------------

process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pgid of childGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(
      `\nbench:scale: ${signal}: stopping the processes it started (the cluster and its objects are left; the next run grows or cleans them)\n`,
    );
    for (const child of children) child.kill('SIGTERM');
    setTimeout(() => process.exit(130), 2000).unref();
  });
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (!existsSync(opts.cli)) cli.usage(`${relative(ROOT, opts.cli)} not found: run npm run build first`);
  const date = new Date().toISOString();
  const cpus = availableParallelism();
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  log(`bench:scale  ${date}  node ${process.version}  ${cpus} CPUs  load ${load}  cluster ${opts.clusterDir}`);

  let startedCluster = false;
  if (!clusterRunning(opts.clusterDir)) {
    log(`bringing the local cluster up (node test/cluster/main.ts up, node Leases of ${opts.nodeLeaseSeconds} s)`);
    const up = clusterCommand(opts.clusterDir, 'up', opts.nodeLeaseSeconds);
    if (up.status !== 0) throw new Error(`cluster up failed:\n${up.stderr}`);
    startedCluster = true;
  }
  const files = clusterFiles(opts.clusterDir);
  // kube-controller-manager calls a node dead after (kwok's node Lease seconds - 20) without a heartbeat.
  const lease = Number(componentFlag(opts.clusterDir, 'kwok', 'node-lease-duration-seconds') ?? 40);
  if (lease !== opts.nodeLeaseSeconds)
    log(
      `note: the cluster was already up with node Leases of ${lease} s (grace ${lease - 20} s), not ${opts.nodeLeaseSeconds}`,
    );
  const renewS = Math.min(opts.leaseRenew, Math.max(10, Math.floor((lease - 20) / 3)));
  const kube = new Kube(files, { maxSockets: Math.max(64, opts.concurrency) });
  const deadline = performance.now() + 300_000;
  while (
    !(await kube.request('GET', '/readyz', undefined, { accept: 'text/plain' }, 10_000).then(
      () => true,
      () => false,
    ))
  ) {
    if (performance.now() > deadline) throw new Error('kube-apiserver /readyz: not ready after 300 s');
    await sleep(500);
  }
  const version = await kube.get('/version').catch(() => undefined);
  const scratch = mkdtempSync(join(tmpdir(), 'bench-scale-'));
  const populator: Populator = {
    root: ROOT,
    kube,
    namespaces: opts.namespaces,
    concurrency: opts.concurrency,
    leaseSeconds: lease,
    clusterDir: opts.clusterDir,
    log,
  };
  const renewer = new LeaseRenewer(kube, renewS, lease, log);
  const goesDown = opts.down || (startedCluster && !opts.keepCluster);
  try {
    if (opts.fresh) {
      log('--fresh: deleting what earlier runs left');
      await cleanUp(kube, log, true);
    } else await waitTerminated(kube, log);
    // Controller namespaces of an interrupted run.
    for (const ns of await kube.list('/api/v1/namespaces', { labelSelector: `${SCALE_LABEL}=true` }))
      if (String(ns.metadata.name).startsWith('kwp-scale-sys-'))
        await kube.request('DELETE', `/api/v1/namespaces/${ns.metadata.name}`).catch(() => undefined);
    log(`node Leases of the benchmark's nodes renewed every ${renewS} s (grace ${lease - 20} s)`);
    renewer.start();
    return await measure(opts, {
      date,
      cpus,
      load,
      kubernetes: version?.gitVersion,
      ctx: {
        opts,
        files,
        kube,
        populator,
        scratch,
        logDir: opts.logs ?? scratch,
        run: Math.random().toString(36).slice(2, 7),
        log,
      },
    });
  } finally {
    await renewer.stop();
    for (const child of children) child.kill('SIGKILL');
    if (goesDown) {
      log('bringing the local cluster down');
      clusterCommand(opts.clusterDir, 'down');
      // Everything the run created is in etcd's data: a cluster brought down is wiped, unless
      // kept (--no-cleanup) or the repository's own (.cluster).
      if (opts.cleanup && basename(opts.clusterDir) !== '.cluster') {
        rmSync(join(opts.clusterDir, 'etcd'), { recursive: true, force: true });
        log(`removed the cluster's etcd data (${join(opts.clusterDir, 'etcd')}): the next run starts empty`);
      }
    } else if (opts.cleanup && !opts.keepCluster) {
      log('cleanup: deleting the benchmark namespaces and nodes');
      await cleanUp(kube, log, true).catch((err: unknown) => log(`cleanup failed: ${String(err)}`));
    } else log('the cluster stays up with the benchmark objects: the next run grows it (--fresh: starts over)');
    kube.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function measure(
  opts: Options,
  run: { date: string; cpus: number; load: string; kubernetes: string | undefined; ctx: Ctx },
): Promise<number> {
  const { ctx } = run;
  const results: SizeResult[] = [];
  const problems: string[] = [];
  let webhook: WebhookFigures | undefined;
  let skipped: string | undefined;
  for (const size of opts.sizes) {
    const started = performance.now();
    const want = shape(size);
    let growth;
    try {
      growth = await grow(ctx.populator, size);
    } catch (err) {
      skipped = `${size} and larger: set-up failed: ${(err as Error).message}`;
      log(`${size}: set-up failed, not measured: ${(err as Error).message}`);
      break;
    }
    if (growth.running < size + 1) problems.push(`${size}: ${growth.running} agent pods Running, expected ${size + 1}`);
    if (growth.running > size + 1)
      log(`note: ${growth.running} agent pods Running, more than ${size + 1} (an earlier run's larger size?)`);
    const grown = performance.now();
    const { controller, cli: cliRuns } = await measureController(ctx, size, want.nodes, want.sidecars);
    if (controller.error) problems.push(`${size}: controller: ${controller.error}`);
    if (controller.exit.code !== 0)
      problems.push(`${size}: the controller exited with ${controller.exit.code ?? controller.exit.signal} on SIGTERM`);
    if (controller.events?.timedOut)
      problems.push(`${size}: the controller was not quiet within 120 s of the pod events`);
    for (const t of controller.failover?.trials ?? []) {
      if (t.error) problems.push(`${size} failover trial ${t.trial}: ${t.error}`);
      else if (!t.toNew)
        problems.push(`${size} failover trial ${t.trial}: the Lease went to ${t.next}, not the new watcher`);
      else if (t.movedEarly) problems.push(`${size} failover trial ${t.trial}: the Lease moved before the deletion`);
    }
    for (const c of cliRuns)
      if (!c.ok)
        problems.push(
          `${size}: ${c.command} exited ${c.code ?? c.signal}${c.timedOut ? ' (timed out)' : ''}: ${(c.stderr ?? '').trim().split('\n').at(-1)}`,
        );
    const measured = performance.now();
    if (opts.webhook && size === opts.sizes.at(-1)) {
      try {
        webhook = await webhookNodeCache(ctx, want.nodes);
      } catch (err) {
        problems.push(`webhook node cache: ${(err as Error).message}`);
      }
    }
    const done = performance.now();
    results.push({
      agents: size,
      nodes: want.nodes,
      sidecars: want.sidecars,
      daemonset: want.daemonset,
      running: growth.running,
      growth,
      controller,
      cli: cliRuns,
      clusterRssMb: clusterRss(opts.clusterDir),
      timing: {
        growS: (grown - started) / 1000,
        measureS: (measured - grown) / 1000,
        webhookS: (done - measured) / 1000,
        totalS: (done - started) / 1000,
      },
    });
    log(`${size}: done in ${((done - started) / 60_000).toFixed(1)} min`);
  }

  const info: RunInfo = {
    date: run.date,
    node: process.version,
    cpus: run.cpus,
    kubernetes: run.kubernetes,
    command: `node bench/scale.ts ${docArgs(process.argv.slice(2)).join(' ')}`.trim(),
    totalS: (performance.now() - t0) / 1000,
    results,
    webhook,
  };
  const out: string[] = [''];
  out.push(
    `scale benchmark  ${run.date}  node ${process.version}  ${run.cpus} CPUs  load average ${run.load}  Kubernetes ${run.kubernetes ?? '?'}`,
  );
  out.push(
    `controller: ${Object.entries(opts.controllerEnv)
      .map(([k, v]) => `${k}=${v} `)
      .join(
        '',
      )}node ${opts.nodeFlags.join(' ')} ${relative(ROOT, opts.cli)} controller (election over all namespaces); ` +
      `CPU per event: ${opts.events} status PATCHes at ${opts.eventRate || 'max'}/s; failover: ${opts.trials} trials`,
  );
  out.push('');
  if (results.length > 0) {
    out.push(markdownTable(info));
    out.push('');
    const wl = webhookLine(webhook);
    if (wl) out.push(wl, '');
    out.push(timingLine(info));
    out.push('');
    const rows = [['detail', ...results.map((r) => String(r.agents))]];
    const row = (name: string, f: (r: SizeResult) => string) => rows.push([name, ...results.map(f)]);
    const fx = (n: number | undefined, d = 1) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(d));
    row('nodes created / s', (r) => `${r.growth.createdNodes} / ${fx(r.growth.nodesS)}`);
    row('pods created / s', (r) => `${r.growth.createdPods + r.growth.patchedPods} / ${fx(r.growth.podsS)}`);
    row(
      'log: starting / synced, s',
      (r) =>
        `${fx((r.controller.startingLogMs ?? NaN) / 1000, 2)} / ${fx((r.controller.syncedLogMs ?? NaN) / 1000, 2)}`,
    );
    row('synced pods / nodes', (r) => `${r.controller.syncedPods ?? '-'} / ${r.controller.syncedNodes ?? '-'}`);
    row(
      'RSS ready / Lease / max sample, MB',
      (r) => `${fx(r.controller.rssReadyMb)} / ${fx(r.controller.rssLeaseMb)} / ${fx(r.controller.rssMaxMb)}`,
    );
    row('VmHWM at stop, MB', (r) => fx(r.controller.peakEndMb));
    row('heap used / total, MB', (r) => `${fx(r.controller.heapUsedMb)} / ${fx(r.controller.heapTotalMb)}`);
    row(
      'elections in steady (mean ms)',
      (r) => `${r.controller.steadyElections ?? '-'} (${fx(r.controller.steadyElectionMeanMs)})`,
    );
    row('events: CPU ms / idle ms/s / drain s', (r) =>
      r.controller.events
        ? `${fx(r.controller.events.cpuMs, 0)} / ${fx(r.controller.events.idleCores * 1000)} / ${fx(r.controller.events.drainMs / 1000)}`
        : '-',
    );
    row('events: elections (mean ms)', (r) =>
      r.controller.events ? `${r.controller.events.elections ?? '-'} (${fx(r.controller.events.electionMeanMs)})` : '-',
    );
    row('failover p90 / max / DELETE p50, ms', (r) => {
      const fo = r.controller.failover;
      return fo ? `${fx(fo.p90, 0)} / ${fx(fo.max, 0)} / ${fx(fo.deleteP50, 0)}` : '-';
    });
    row('kube-controller-manager RSS, MB', (r) => fx(r.clusterRssMb['kube-controller-manager'], 0));
    row(
      'SIGTERM -> exit (ms)',
      (r) => `${r.controller.exit.code ?? r.controller.exit.signal} (${fx(r.controller.exit.ms, 0)})`,
    );
    out.push(table(rows));
  }
  if (skipped) out.push(`not measured: ${skipped}`);
  if (problems.length > 0) {
    out.push('');
    out.push(`FAILED: ${problems.length} problem(s):`);
    for (const p of problems) out.push(`  - ${p}`);
  }
  if (opts.writeDocs && results.length > 0) {
    writeDocs(join(ROOT, 'docs/bench/scale.md'), join(ROOT, 'docs/bench/scale.svg'), info);
    out.push('', 'wrote docs/bench/scale.md (results section) and docs/bench/scale.svg');
  }
  process.stdout.write(out.join('\n') + '\n');
  const round = (_k: string, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v;
  const json = {
    benchmark: 'scale',
    date: run.date,
    node: process.version,
    cpus: run.cpus,
    load: run.load,
    kubernetes: run.kubernetes,
    options: { ...opts },
    results,
    webhook,
    skipped,
    problems,
    totalS: info.totalS,
  };
  process.stdout.write(JSON.stringify(json, round) + '\n');
  return problems.length > 0 ? 1 : 0;
}

/** The command line as the doc shows it: without the machine's paths and --write-docs. */
function docArgs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--write-docs' || /^--(logs|cluster-dir|cli)=/.test(a)) continue;
    if (['--logs', '--cluster-dir', '--cli'].includes(a)) {
      i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:scale: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
