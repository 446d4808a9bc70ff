#!/usr/bin/env node
/**
 * Pod-creation benchmark: pods created through kube-apiserver (the local control plane of
 * test/cluster) by N concurrent clients, in an opted-in namespace, with
 *
 *   none     no webhook registered;
 *   webhook  this project's webhook (`k8s-watch-policy webhook`, dist/), registered by URL with the
 *            configurations the chart ships (src/webhook/webhook_configuration.ts, from dist/);
 *   go       the controller-runtime Go baseline (bench/baseline-go/), registered the same way.
 *
 *   npm run bench:pods -- [--vus 50] [--duration 20] [--warmup 2] [--rounds 1]
 *                         [--phases none,webhook,go] [--json] [--strict]
 *
 * Every created pod is an agent pod labelled `deepflow.io/k8s-watch-policy=watch-disabled` and is
 * checked as the create returns it: `K8S_WATCH_POLICY=watch-disabled` and the reason annotation
 * with a webhook, neither without. The figure is the create latency of each phase and its ratio to
 * `none` (what a webhook adds to every pod creation). See docs/bench/pod_creation.md.
 *
 * Runs on Node 24 with type stripping; the cluster is brought up if it is not, and down again at
 * the end if this run brought it up.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { STATE_DIR } from '../test/cluster/paths.ts';
import { goBinary } from './baseline_go.ts';
import { clusterCommand, clusterRunning } from './cluster.ts';
import { ApiError, clusterFiles, Kube, type Json } from './kube.ts';
import { benchCommandLine, eventually, freePort, type BenchCommandLine } from './options.ts';
import { cpuBetween, cpuSample, type CpuCores } from './proc.ts';
import { fmt, median, percentile, table } from './report.ts';
import type * as WebhookConfigurationModule from '../src/webhook/webhook_configuration.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const NAMESPACE = 'kwp-bench-pods';
const CONFIG_NAME = 'kwp-bench-pods';
const OPT_IN = { 'deepflow.io/k8s-watch-policy-injection': 'enabled' };
const POLICY_LABEL = 'deepflow.io/k8s-watch-policy';
const REASON_ANNOTATION = 'deepflow.io/k8s-watch-policy-reason';
const EXPECTED_POLICY = 'watch-disabled';
const EXPECTED_REASON = 'watch-disabled/label';
/** Longer than the webhooks' timeout (10 s): a create that fails on the webhook still returns. */
const CREATE_TIMEOUT_MS = 30_000;
/** Kyverno's published figures for one mutate policy at 50 VUs (p95/p99, ms), for the report. */
const KYVERNO = { none: { p95: 97, p99: 103 }, mutate: { p95: 119, p99: 129 } };

const t0 = performance.now();
const log = (message: string) =>
  process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);

// ---------------------------------------------------------------------------------------------
// Options

const PHASES = ['none', 'webhook', 'go'] as const;
type Phase = (typeof PHASES)[number];
const PHASE_LABEL: Record<Phase, string> = {
  none: 'none (no webhook)',
  webhook: 'webhook (this project)',
  go: 'go controller-runtime',
};

interface Options {
  vus: number;
  duration: number;
  warmup: number;
  rounds: number;
  phases: Phase[];
  json: boolean;
  cli: string;
  strict: boolean;
  targetRatio: number;
}

const USAGE = `usage: npm run bench:pods -- [options]   (or node bench/pod_creation.ts [options])

  --vus N            concurrent clients creating pods (keep-alive connections)  (BENCH_VUS, 50)
  --duration S       seconds of each measured phase                             (BENCH_DURATION, 20)
  --warmup S         seconds of dry-run creates before each phase (not counted) (BENCH_WARMUP, 2)
  --rounds N         run the phases in turn N times; figures are medians        (BENCH_ROUNDS, 1)
  --phases LIST      none,webhook,go, in this order                             (BENCH_PHASES, none,webhook,go)
                     (go: the Go baseline in bench/baseline-go/, built with the go on PATH)
  --json             print only the JSON line on stdout
  --cli FILE         the built CLI                                              (BENCH_CLI, dist/cli/main.js)
  --strict           exit 2 when the target is missed                           (BENCH_STRICT=1)
  --target-ratio X   p99 webhook / none target                                  (1.05)
`;

const cli: BenchCommandLine = benchCommandLine('bench:pods', USAGE);

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      vus: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      phases: { type: 'string' },
      json: { type: 'boolean' },
      cli: { type: 'string' },
      strict: { type: 'boolean' },
      'target-ratio': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  cli.helpIf(values.help);
  const env = process.env;
  const phases = cli.list(values.phases ?? env.BENCH_PHASES ?? PHASES.join(','));
  for (const p of phases)
    if (!(PHASES as readonly string[]).includes(p))
      cli.usage(`--phases: unknown phase ${JSON.stringify(p)} (${PHASES.join(', ')})`);
  if (phases.length === 0) cli.usage('--phases: no phase');
  return {
    vus: cli.number('vus', values.vus, 'BENCH_VUS', 50, { integer: true }),
    duration: cli.number('duration', values.duration, 'BENCH_DURATION', 20),
    warmup: cli.number('warmup', values.warmup, 'BENCH_WARMUP', 2, { min: -1 }),
    rounds: cli.number('rounds', values.rounds, 'BENCH_ROUNDS', 1, { integer: true }),
    phases: phases as Phase[],
    json: values.json ?? false,
    cli: resolve(values.cli ?? env.BENCH_CLI ?? join(ROOT, 'dist/cli/main.js')),
    strict: values.strict ?? env.BENCH_STRICT === '1',
    targetRatio: cli.number('target-ratio', values['target-ratio'], undefined, 1.05),
  };
}

// ---------------------------------------------------------------------------------------------
// The webhook servers: the built CLI or the Go baseline, each in its own process, killed when this
// one ends.

const children = new Set<ChildProcess>();

interface Server {
  phase: Phase;
  proc: ChildProcess;
  pid: number;
  port: number;
  metricsPort: number;
  output: () => string;
  exited: Promise<number | null>;
}

function httpsStatus(url: string, ca: string): Promise<number> {
  return new Promise((done) => {
    const req = httpsRequest(url, { ca, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('error', () => done(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function startServer(phase: 'webhook' | 'go', opts: Options, certDir: string, ca: string): Promise<Server> {
  const port = await freePort();
  const metricsPort = await freePort();
  const listen = ['--cert-dir', certDir, '--host', HOST, '--port', String(port), '--metrics-port', String(metricsPort)];
  // The webhook as `npm start` and the end-to-end tests run it (its node cache from the cluster,
  // the default log level: one JSON line per review); the Go baseline as bench:admission runs it.
  const [command, args] =
    phase === 'webhook'
      ? [
          process.execPath,
          [opts.cli, 'webhook', '--kubeconfig', join(STATE_DIR, 'kubeconfig'), ...listen, '--drain-delay', '0'],
        ]
      : [goBinary(log), ['--mode', 'typed', ...listen]];
  const proc = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let output = '';
  const keep = (d: Buffer) => {
    // The start only: at log level info the webhook writes a line per review.
    if (output.length < 64 * 1024) output += d.toString('utf8');
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise<number | null>((r) =>
    proc.once('exit', (code) => {
      children.delete(proc);
      r(code);
    }),
  );
  if (proc.pid === undefined) throw new Error(`cannot start ${PHASE_LABEL[phase]}`);
  const server: Server = { phase, proc, pid: proc.pid, port, metricsPort, output: () => output, exited };
  await eventually(
    `${PHASE_LABEL[phase]} /readyz`,
    async () => {
      if (proc.exitCode !== null) throw new Error(`${PHASE_LABEL[phase]} exited (${proc.exitCode}): ${output}`);
      return (await httpsStatus(`https://${HOST}:${port}/readyz`, ca)) === 200;
    },
    { timeoutMs: 30_000, everyMs: 100 },
  );
  return server;
}

async function stopServer(server: Server): Promise<number | null> {
  if (server.proc.exitCode !== null || server.proc.signalCode !== null) return server.proc.exitCode;
  server.proc.kill('SIGTERM');
  const timer = setTimeout(() => server.proc.kill('SIGKILL'), 30_000);
  const code = await server.exited;
  clearTimeout(timer);
  return code;
}

/** The reviews a server counted (`k8s_watch_policy_admission_reviews_total`, both implement it), by result. */
function reviewsCounted(server: Server): Promise<Record<string, number>> {
  return new Promise((done) => {
    httpGet({ host: HOST, port: server.metricsPort, path: '/metrics', agent: false }, (res) => {
      let text = '';
      res
        .setEncoding('utf8')
        .on('data', (d: string) => (text += d))
        .on('end', () => {
          const counts: Record<string, number> = {};
          for (const m of text.matchAll(/^k8s_watch_policy_admission_reviews_total\{([^}]*)\} (\d+)/gm)) {
            const result = /result="([^"]*)"/.exec(m[1]!)?.[1] ?? '?';
            counts[result] = (counts[result] ?? 0) + Number(m[2]);
          }
          done(counts);
        });
    }).on('error', () => done({}));
  });
}

// ---------------------------------------------------------------------------------------------
// The cluster side: namespace, webhook configurations, pods.

const PODS = `/api/v1/namespaces/${NAMESPACE}/pods`;
const MUTATING = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${CONFIG_NAME}`;
const VALIDATING = `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${CONFIG_NAME}`;

/** An agent pod that rule 3 (the policy label) decides: `watch-disabled`. kwok "runs" it. */
const POD_BODY = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'bench-agent-', labels: { app: 'kwp-bench-pods', [POLICY_LABEL]: EXPECTED_POLICY } },
  spec: {
    terminationGracePeriodSeconds: 0,
    containers: [
      {
        name: 'deepflow-agent',
        image: 'registry.example.com/deepflow-ce/deepflow-agent:v6.6',
        env: [{ name: 'CTRL_NETWORK_INTERFACE', value: 'eth0' }],
      },
    ],
  },
});

/** What is wrong with a created pod, or undefined. */
function checkPod(pod: Json, mutated: boolean): string | undefined {
  const agent = (pod?.spec?.containers ?? []).find((c: Json) => c.name === 'deepflow-agent');
  if (!agent) return 'no deepflow-agent container in the answer';
  const env = ((agent.env ?? []) as Json[]).filter((e) => e.name === 'K8S_WATCH_POLICY');
  const reason = pod.metadata?.annotations?.[REASON_ANNOTATION];
  if (mutated) {
    if (env.length !== 1 || env[0].value !== EXPECTED_POLICY)
      return `K8S_WATCH_POLICY is ${JSON.stringify(env)}, not ${EXPECTED_POLICY}`;
    if (reason !== EXPECTED_REASON) return `reason annotation ${JSON.stringify(reason)}, not ${EXPECTED_REASON}`;
  } else {
    if (env.length !== 0) return `K8S_WATCH_POLICY set with no webhook registered: ${JSON.stringify(env)}`;
    if (reason !== undefined) return `reason annotation with no webhook registered: ${JSON.stringify(reason)}`;
  }
  return undefined;
}

async function ensureNamespace(kube: Kube): Promise<void> {
  const existing = await kube.find(`/api/v1/namespaces/${NAMESPACE}`);
  if (existing?.metadata?.deletionTimestamp) {
    log(`namespace ${NAMESPACE} is being deleted (an earlier run): waiting until it is gone`);
    await eventually(
      `namespace ${NAMESPACE} gone`,
      async () => (await kube.find(`/api/v1/namespaces/${NAMESPACE}`)) === undefined,
      180_000,
    );
  }
  await kube.apply(`/api/v1/namespaces/${NAMESPACE}`, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NAMESPACE, labels: OPT_IN },
  });
  await eventually(
    'the default ServiceAccount',
    async () => (await kube.find(`/api/v1/namespaces/${NAMESPACE}/serviceaccounts/default`)) !== undefined,
    60_000,
  );
}

type Configurations = typeof WebhookConfigurationModule;

async function register(kube: Kube, configurations: Configurations, server: Server, caBundle: string): Promise<void> {
  const { mutating, validating } = configurations.webhookConfigurations({
    name: CONFIG_NAME,
    clientConfig: (path) => ({ url: `https://${HOST}:${server.port}${path}`, caBundle }),
    excludeNamespaces: [],
    failurePolicy: 'Fail',
    timeoutSeconds: 10,
  });
  await kube.apply(MUTATING, mutating);
  await kube.apply(VALIDATING, validating);
}

async function unregister(kube: Kube): Promise<void> {
  for (const path of [MUTATING, VALIDATING]) {
    await kube.request('DELETE', path).catch((err: unknown) => {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    });
  }
}

/**
 * Until a dry-run create comes back as the phase expects: kube-apiserver applies a webhook
 * configuration change when its informer sees it. The previous phase's server is stopped by then,
 * so an answer from a stale configuration fails (failurePolicy Fail) and the probe waits on.
 */
async function waitForAdmission(kube: Kube, mutated: boolean): Promise<void> {
  await eventually(
    mutated ? 'the webhook configuration in effect' : 'no webhook in effect',
    async () => {
      const pod = await kube.request('POST', `${PODS}?dryRun=All`, POD_BODY, {}, CREATE_TIMEOUT_MS);
      return checkPod(pod, mutated) === undefined;
    },
    { timeoutMs: 60_000, everyMs: 100 },
  );
}

/**
 * Deletes every pod of the namespace (a collection DELETE, no grace) and waits until none is left.
 * kube-apiserver ends a request after 60 s (--request-timeout), before it has deleted thousands of
 * pods on this machine: the DELETE is then sent again for the rest.
 */
async function deletePods(kube: Kube): Promise<number> {
  const started = performance.now();
  const empty = async () => ((await kube.get<{ items: unknown[] }>(`${PODS}?limit=1`)).items ?? []).length === 0;
  await eventually(
    'the pods gone',
    async () => {
      if (await empty()) return true;
      await kube
        .request('DELETE', `${PODS}?gracePeriodSeconds=0`, undefined, {}, 120_000)
        .catch((err: unknown) => log(`  collection DELETE: ${errorKey(err)} (sent again)`));
      return empty();
    },
    { timeoutMs: 600_000, everyMs: 200 },
  );
  return performance.now() - started;
}

// ---------------------------------------------------------------------------------------------
// The load: `vus` clients, each creating the next pod as soon as the previous create returned.

interface Recorder {
  latencies: number[];
  ok: number;
  errors: Map<string, number>;
  started: number;
  ended: number;
}

function errorKey(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/bench-agent-[a-z0-9]+/g, 'bench-agent-<id>').slice(0, 300);
}

async function closedLoop(
  kube: Kube,
  vus: number,
  seconds: number,
  mutated: boolean,
  dryRun: boolean,
): Promise<Recorder> {
  const rec: Recorder = { latencies: [], ok: 0, errors: new Map(), started: performance.now(), ended: 0 };
  const end = rec.started + seconds * 1000;
  const path = dryRun ? `${PODS}?dryRun=All` : PODS;
  const fail = (key: string) => rec.errors.set(key, (rec.errors.get(key) ?? 0) + 1);
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      let pod: Json;
      try {
        pod = await kube.request('POST', path, POD_BODY, {}, CREATE_TIMEOUT_MS);
      } catch (err) {
        fail(errorKey(err));
        rec.ended = Math.max(rec.ended, performance.now());
        continue;
      }
      const t1 = performance.now();
      rec.ended = Math.max(rec.ended, t1);
      const problem = checkPod(pod, mutated);
      if (problem) {
        fail(`wrong pod: ${problem}`);
        continue;
      }
      rec.ok++;
      rec.latencies.push(t1 - t);
    }
  };
  await Promise.all(Array.from({ length: vus }, worker));
  return rec;
}

// ---------------------------------------------------------------------------------------------
// One phase

/** Successful creates: how many, how fast, and their latency. */
interface Creates {
  phase: Phase;
  creates: number;
  createsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface PhaseResult extends Creates {
  round: number;
  errors: number;
  errorKinds: Record<string, number>;
  warmupErrors: number;
  /** Reviews the server counted during the phase (warm-up and probes included), by result. */
  reviewsCounted?: Record<string, number>;
  cpu: CpuCores;
  /** CPU time of the cluster and the webhook server per created pod, in ms. */
  cpuMsPerCreate: number;
  /** Collection DELETE and wait for the pods to be gone, after the phase. */
  deleteMs: number;
  serverExit?: number | null;
  /** From SIGTERM to the server's exit. */
  serverStopMs?: number;
}

interface Context {
  opts: Options;
  kube: Kube;
  configurations: Configurations;
  certDir: string;
  ca: string;
  caBundle: string;
}

async function runPhase(phase: Phase, round: number, ctx: Context, problems: string[]): Promise<PhaseResult> {
  const { opts, kube } = ctx;
  const tag = `${opts.rounds > 1 ? `#${round} ` : ''}${PHASE_LABEL[phase]}`;
  const mutated = phase !== 'none';
  let server: Server | undefined;
  try {
    if (phase === 'none') {
      await unregister(kube);
    } else {
      log(`${tag}: starting the server`);
      server = await startServer(phase, opts, ctx.certDir, ctx.ca);
      await register(kube, ctx.configurations, server, ctx.caBundle);
    }
    await waitForAdmission(kube, mutated);
    let warmupErrors = 0;
    if (opts.warmup > 0) {
      log(`${tag}: warm-up, ${opts.vus} clients, ${opts.warmup} s of dry-run creates`);
      const warm = await closedLoop(kube, opts.vus, opts.warmup, mutated, true);
      warmupErrors = [...warm.errors.values()].reduce((a, b) => a + b, 0);
      if (warmupErrors > 0)
        problems.push(`${tag}: warm-up: ${warmupErrors} errors: ${JSON.stringify(Object.fromEntries(warm.errors))}`);
    }
    log(`${tag}: ${opts.vus} clients creating pods for ${opts.duration} s`);
    const a = cpuSample(server ? [server.pid] : [], STATE_DIR);
    const rec = await closedLoop(kube, opts.vus, opts.duration, mutated, false);
    const b = cpuSample(server ? [server.pid] : [], STATE_DIR);
    const sorted = Float64Array.from(rec.latencies).sort();
    const errors = [...rec.errors.values()].reduce((x, y) => x + y, 0);
    if (errors > 0)
      problems.push(`${tag}: ${errors} failed or wrong creates: ${JSON.stringify(Object.fromEntries(rec.errors))}`);
    const result: PhaseResult = {
      phase,
      round,
      creates: rec.ok,
      createsPerSecond: rec.ok / ((rec.ended - rec.started) / 1000),
      p50Ms: percentile(sorted, 0.5),
      p95Ms: percentile(sorted, 0.95),
      p99Ms: percentile(sorted, 0.99),
      maxMs: sorted.length ? sorted[sorted.length - 1]! : NaN,
      errors,
      errorKinds: Object.fromEntries(rec.errors),
      warmupErrors,
      cpu: cpuBetween(a, b),
      cpuMsPerCreate: NaN,
      deleteMs: NaN,
    };
    result.cpuMsPerCreate = ((result.cpu.cluster + result.cpu.controller) * result.cpu.seconds * 1000) / rec.ok;
    log(
      `${tag}: ${rec.ok} pods, ${fmt(result.createsPerSecond, 0)}/s, p50 ${fmt(result.p50Ms, 1)} ms, p99 ${fmt(result.p99Ms, 1)} ms, ${errors} errors`,
    );
    if (server) {
      result.reviewsCounted = await reviewsCounted(server);
      // Webhooks first: a Fail webhook must not point at a stopped server.
      await unregister(kube);
      const stopping = performance.now();
      result.serverExit = await stopServer(server);
      result.serverStopMs = Math.round(performance.now() - stopping);
      if (result.serverExit !== 0)
        problems.push(
          `${tag}: the server exited with ${result.serverExit} after SIGTERM: ${server.output().slice(-2000)}`,
        );
      const counted = Object.values(result.reviewsCounted).reduce((x, y) => x + y, 0);
      if (counted < rec.ok) problems.push(`${tag}: the server counted ${counted} reviews for ${rec.ok} created pods`);
    }
    log(`${tag}: deleting the pods`);
    result.deleteMs = await deletePods(kube);
    return result;
  } finally {
    if (server) {
      await unregister(kube).catch(() => undefined);
      await stopServer(server);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface Figures extends Creates {
  /** Ratios to phase none of the same round (medians over rounds). */
  p50Ratio?: number;
  p95Ratio?: number;
  p99Ratio?: number;
  /** Absolute increase over phase none of the same round, in ms (medians over rounds). */
  p95PlusMs?: number;
  p99PlusMs?: number;
}

function figures(results: PhaseResult[], phases: Phase[]): Figures[] {
  const rounds = [...new Set(results.map((r) => r.round))];
  const none = (round: number) => results.find((r) => r.phase === 'none' && r.round === round);
  const med = (values: (number | undefined)[]) =>
    median(values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
  return phases.map((phase) => {
    const runs = results.filter((r) => r.phase === phase);
    const of = (f: (r: PhaseResult) => number) => med(runs.map(f)) ?? NaN;
    const vsNone = (f: (r: PhaseResult, n: PhaseResult) => number) =>
      med(
        rounds.map((round) => {
          const r = runs.find((x) => x.round === round);
          const n = none(round);
          return r && n ? f(r, n) : undefined;
        }),
      );
    return {
      phase,
      creates: of((r) => r.creates),
      createsPerSecond: of((r) => r.createsPerSecond),
      p50Ms: of((r) => r.p50Ms),
      p95Ms: of((r) => r.p95Ms),
      p99Ms: of((r) => r.p99Ms),
      maxMs: of((r) => r.maxMs),
      p50Ratio: vsNone((r, n) => r.p50Ms / n.p50Ms),
      p95Ratio: vsNone((r, n) => r.p95Ms / n.p95Ms),
      p99Ratio: vsNone((r, n) => r.p99Ms / n.p99Ms),
      p95PlusMs: vsNone((r, n) => r.p95Ms - n.p95Ms),
      p99PlusMs: vsNone((r, n) => r.p99Ms - n.p99Ms),
    };
  });
}

function row(
  label: string,
  f: Omit<Figures, 'phase'>,
  errors: string,
  cpu: CpuCores | undefined,
  cpuMsPerCreate: number | undefined,
): string[] {
  return [
    label,
    String(Math.round(f.creates)),
    fmt(f.createsPerSecond, 0),
    fmt(f.p50Ms, 1),
    fmt(f.p95Ms, 1),
    fmt(f.p99Ms, 1),
    fmt(f.maxMs, 1),
    fmt(f.p50Ratio),
    fmt(f.p95Ratio),
    fmt(f.p99Ratio),
    errors,
    fmt(cpu?.cluster),
    fmt(cpu?.controller),
    fmt(cpu?.bench),
    fmt(cpu?.other),
    fmt(cpuMsPerCreate),
  ];
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const compiled = join(ROOT, 'dist/webhook/webhook_configuration.js');
  for (const file of [opts.cli, compiled])
    if (!existsSync(file)) cli.usage(`${relative(ROOT, file)} not found: run npm run build first`);
  const configurations = (await import(pathToFileURL(compiled).href)) as Configurations;
  const date = new Date().toISOString();
  const cpus = availableParallelism();
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  log(
    `bench:pods  ${date}  node ${process.version}  ${cpus} CPUs  load ${load}  ${opts.vus} clients  ${opts.duration} s a phase  phases ${opts.phases.join(',')}  rounds ${opts.rounds}`,
  );
  if (opts.phases.includes('go')) goBinary(log);

  let startedCluster = false;
  if (!clusterRunning(STATE_DIR)) {
    log('bringing the local cluster up (npm run cluster -- up)');
    const up = clusterCommand(STATE_DIR, 'up');
    if (up.status !== 0) throw new Error(`cluster up failed:\n${up.stderr}`);
    startedCluster = true;
  }
  const kube = new Kube(clusterFiles(STATE_DIR), { maxSockets: opts.vus });
  const scratch = mkdtempSync(join(tmpdir(), 'bench-pods-'));
  const cleanUp = async () => {
    for (const child of children) child.kill('SIGKILL');
    await unregister(kube).catch((err: unknown) =>
      log(`cleanup: cannot delete the webhook configurations: ${String(err)}`),
    );
    await kube.request('DELETE', `/api/v1/namespaces/${NAMESPACE}`).catch(() => undefined);
    kube.close();
    rmSync(scratch, { recursive: true, force: true });
    if (startedCluster) {
      log('bringing the local cluster down (npm run cluster -- down)');
      clusterCommand(STATE_DIR, 'down');
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the servers, removing the webhook configurations and the namespace`);
      setTimeout(() => process.exit(130), 20_000).unref();
      void cleanUp().finally(() => process.exit(130));
    });
  }

  try {
    await eventually(
      'kube-apiserver /readyz',
      () => kube.request('GET', '/readyz', undefined, { accept: 'text/plain' }, 10_000).then(() => true),
      300_000,
    );
    const version = (await kube.get<{ gitVersion?: string }>('/version')).gitVersion ?? '?';
    const others = (
      await kube.get<{ items: Json[] }>('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations')
    ).items
      .map((c) => c.metadata.name as string)
      .filter((n) => n !== CONFIG_NAME);
    if (others.length > 0) log(`note: other mutating webhook configurations are registered: ${others.join(', ')}`);

    const certDir = join(scratch, 'certs');
    const certs = spawnSync(process.execPath, [opts.cli, 'certs', '--out', certDir, '--dns', 'localhost,127.0.0.1'], {
      encoding: 'utf8',
    });
    if (certs.status !== 0) throw new Error(`k8s-watch-policy certs failed: ${certs.stderr}`);
    const ca = readFileSync(join(certDir, 'ca.crt'), 'utf8');
    const ctx: Context = { opts, kube, configurations, certDir, ca, caBundle: Buffer.from(ca).toString('base64') };

    await unregister(kube);
    await ensureNamespace(kube);
    const leftover = await deletePods(kube);
    log(`namespace ${NAMESPACE} ready (opted in, no pods; ${fmt(leftover, 0)} ms to clear it)`);

    const problems: string[] = [];
    const results: PhaseResult[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      for (const phase of opts.phases) results.push(await runPhase(phase, round, ctx, problems));
    }
    return report(opts, results, problems, { date, cpus, load, version, others });
  } finally {
    await cleanUp();
  }
}

function report(
  opts: Options,
  results: PhaseResult[],
  problems: string[],
  env: { date: string; cpus: number; load: string; version: string; others: string[] },
): number {
  const medians = figures(results, opts.phases);
  const multi = opts.rounds > 1;
  const header = [
    'phase',
    'creates',
    'creates/s',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'max ms',
    'p50/none',
    'p95/none',
    'p99/none',
    'errors',
    'CPU cluster',
    'CPU server',
    'CPU bench',
    'CPU other',
    'CPU ms/create',
  ];
  const rows: string[][] = [header];
  if (multi) {
    for (const r of results) {
      const f = figures(
        results.filter((x) => x.round === r.round),
        [r.phase],
      )[0]!;
      rows.push(row(`#${r.round} ${PHASE_LABEL[r.phase]}`, f, String(r.errors), r.cpu, r.cpuMsPerCreate));
    }
  }
  for (const f of medians) {
    const runs = results.filter((r) => r.phase === f.phase);
    const cpu = runs.length === 1 ? runs[0]!.cpu : undefined;
    const errors = String(runs.reduce((a, r) => a + r.errors, 0));
    rows.push(
      row(
        `${multi ? 'median ' : ''}${PHASE_LABEL[f.phase]}`,
        f,
        errors,
        cpu,
        median(runs.map((r) => r.cpuMsPerCreate)),
      ),
    );
  }

  const verdicts: { name: string; value: number | undefined; target: string; pass: boolean }[] = [];
  const webhook = medians.find((f) => f.phase === 'webhook');
  if (webhook?.p99Ratio !== undefined)
    verdicts.push({
      name: 'p99 create latency, webhook / none',
      value: webhook.p99Ratio,
      target: `<= ${opts.targetRatio}`,
      pass: webhook.p99Ratio <= opts.targetRatio,
    });
  const kyvernoP95 = KYVERNO.mutate.p95 - KYVERNO.none.p95;
  const kyvernoP99 = KYVERNO.mutate.p99 - KYVERNO.none.p99;

  const out: string[] = [''];
  out.push(
    `pod-creation benchmark  ${env.date}  node ${process.version}  ${env.cpus} CPUs  load average ${env.load}  kube-apiserver ${env.version}`,
  );
  out.push(
    `${opts.vus} clients (keep-alive, admin certificate) creating agent pods in ${NAMESPACE} for ${opts.duration} s a phase after ${opts.warmup} s of dry-run creates` +
      `${multi ? `, ${opts.rounds} rounds (median rows: medians; ratios to none of the same round)` : ''}; pods deleted between phases; CPU in cores, CPU ms/create: cluster + server`,
  );
  out.push('');
  out.push(table(rows));
  out.push('');
  for (const v of verdicts)
    out.push(`${v.name.padEnd(44)} ${fmt(v.value).padStart(6)}  target ${v.target}  ${v.pass ? 'PASS' : 'MISS'}`);
  for (const f of medians) {
    if (f.phase === 'none' || f.p95PlusMs === undefined) continue;
    out.push(
      `${`added by ${PHASE_LABEL[f.phase]}`.padEnd(44)} p95 ${fmt(f.p95PlusMs, 1)} ms, p99 ${fmt(f.p99PlusMs, 1)} ms` +
        `  (Kyverno, one mutate policy at 50 VUs: +${kyvernoP95} / +${kyvernoP99} ms)`,
    );
  }
  if (env.others.length > 0)
    out.push(`note: other mutating webhook configurations were registered: ${env.others.join(', ')}`);
  const busy = results.filter((r) => r.cpu.other > 0.25);
  if (busy.length > 0)
    out.push(
      `note: other processes used up to ${fmt(Math.max(...busy.map((r) => r.cpu.other)))} cores during ${busy.length} of ${results.length} phases`,
    );
  for (const r of results) {
    if (!r.reviewsCounted) continue;
    out.push(
      `${multi ? `#${r.round} ` : ''}${PHASE_LABEL[r.phase]}: server counted ${JSON.stringify(r.reviewsCounted)} reviews (warm-up and probes included) for ${r.creates} pods; SIGTERM -> exit ${r.serverExit} in ${r.serverStopMs} ms`,
    );
  }
  if (problems.length > 0) {
    out.push('');
    out.push(`FAILED: ${problems.length} problem(s):`);
    for (const p of problems) out.push(`  - ${p}`);
  }
  out.push('');
  if (!opts.json) process.stdout.write(out.join('\n') + '\n');
  else if (problems.length > 0) process.stderr.write(out.join('\n') + '\n');

  const r3 = (n: number | undefined) =>
    n === undefined || !Number.isFinite(n) ? undefined : Math.round(n * 1000) / 1000;
  const json = {
    bench: 'pod_creation',
    date: env.date,
    node: process.version,
    cpus: env.cpus,
    loadavg: loadavg(),
    kubernetes: env.version,
    options: {
      vus: opts.vus,
      durationS: opts.duration,
      warmupS: opts.warmup,
      rounds: opts.rounds,
      phases: opts.phases,
    },
    figures: Object.fromEntries(
      medians.map((f) => [
        f.phase,
        Object.fromEntries(Object.entries(f).map(([k, v]) => [k, typeof v === 'number' ? r3(v) : v])),
      ]),
    ),
    kyverno: KYVERNO,
    targets: verdicts,
    phases: results.map((r) => ({
      ...r,
      createsPerSecond: r3(r.createsPerSecond),
      p50Ms: r3(r.p50Ms),
      p95Ms: r3(r.p95Ms),
      p99Ms: r3(r.p99Ms),
      maxMs: r3(r.maxMs),
      cpuMsPerCreate: r3(r.cpuMsPerCreate),
      deleteMs: Math.round(r.deleteMs),
      cpu: Object.fromEntries(Object.entries(r.cpu).map(([k, v]) => [k, r3(v)])),
    })),
    problems,
  };
  process.stdout.write(JSON.stringify(json) + '\n');
  if (problems.length > 0) return 1;
  if (opts.strict && verdicts.some((v) => !v.pass)) return 2;
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:pods: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
