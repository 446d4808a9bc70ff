#!/usr/bin/env node
/**
 * Admission benchmark: the real webhook process (`k8s-watch-policy webhook`, dist/) against a
 * bare node:https server that only parses the JSON and allows (the ceiling of this machine), both
 * driven by this process with concurrent keep-alive clients sending a realistic AdmissionReview.
 *
 *   npm run bench:admission -- [--duration 10] [--connections 8] [--rate 1000] [--warmup 2]
 *                              [--fixture bench/fixtures/watcher-pod.review.json]
 *                              [--phases bare,warn,info] [--rounds 1] [--cpu-prof DIR] [--strict]
 *
 * Phases go and go-direct run the Go baseline (bench/baseline-go/, a controller-runtime webhook
 * with rules 1-4; built once with the go on PATH and cached) for the ratios webhook/go:
 *   npm run bench:admission -- --phases bare,info,go,go-direct
 *
 * Every flag also reads an environment variable (BENCH_DURATION, BENCH_CONNECTIONS, ...). See
 * bench/README.md for what is measured and how to read it. Runs on Node 24 with type stripping
 * (erasable TypeScript only) and imports nothing from src/: it talks to processes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { goBinary } from './baseline_go.ts';
import { chartHeap } from './chart_heap.ts';
import { benchCommandLine, freePort, sleep, type BenchCommandLine } from './options.ts';
import { fmt, median, percentile, table } from './report.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const UID_PLACEHOLDER = '00000000-0000-0000-0000-000000000000';
const HOST = '127.0.0.1';
const REQUEST_TIMEOUT_MS = 10_000; // kube-apiserver's default webhook timeout
const MUTATE_PATH = '/mutate?timeout=10s';

// ---------------------------------------------------------------------------------------------
// Options

type ServerKind = 'bare' | 'warn' | 'info' | 'info-x2' | 'go' | 'go-direct';
const SERVER_KINDS: readonly ServerKind[] = ['bare', 'warn', 'info', 'info-x2', 'go', 'go-direct'];
/** The default: what runs without Go. */
const DEFAULT_PHASES: readonly ServerKind[] = ['bare', 'warn', 'info'];
const WEBHOOK_KINDS = ['warn', 'info'] as const;
const GO_KINDS = ['go', 'go-direct'] as const;
const isGo = (k: ServerKind): k is (typeof GO_KINDS)[number] => k === 'go' || k === 'go-direct';
const SERVER_LABEL: Record<ServerKind, string> = {
  bare: 'bare https (ceiling)',
  warn: 'webhook, log warn',
  info: 'webhook, log info',
  'info-x2': 'webhook, 2 processes',
  go: 'go controller-runtime',
  'go-direct': 'go, hand-built patch',
};

interface Options {
  duration: number;
  warmup: number;
  connections: number;
  rate: number;
  fixture: string;
  phases: ServerKind[];
  rounds: number;
  cli: string;
  cpuProf: string | undefined;
  dump: string | undefined;
  strict: boolean;
  targetRatio: number;
  targetP99: number;
  targetIdleRss: number;
  targetLoadRss: number;
  /** `chart`: the webhook's heap settings of the Helm chart (values.yaml webhook.heap); `node`: Node's defaults. */
  heap: 'chart' | 'node';
}

const USAGE = `usage: npm run bench:admission -- [options]   (or node bench/admission.ts [options])

  --duration S       seconds of each measured phase                 (BENCH_DURATION, 10)
  --warmup S         seconds of warm-up before measuring a server   (BENCH_WARMUP, 2)
  --connections N    concurrent keep-alive connections              (BENCH_CONNECTIONS, 8)
  --rate R           open-loop reviews/s                            (BENCH_RATE, 1000)
  --fixture FILE     AdmissionReview JSON with request.uid ${UID_PLACEHOLDER}
                                                                    (BENCH_FIXTURE, bench/fixtures/watcher-pod.review.json)
  --phases LIST      servers to run, in order: bare,warn,info,info-x2,go,go-direct
                     (info-x2: the webhook at log level info in 2 processes sharing the port
                     with node:cluster; go, go-direct: the Go baseline in bench/baseline-go/,
                     needs go on PATH)
                                                                    (BENCH_PHASES, bare,warn,info)
  --rounds N         repeat the servers in turn N times; figures are medians (BENCH_ROUNDS, 1)
  --cli FILE         the built CLI                                  (BENCH_CLI, dist/cli/main.js)
  --cpu-prof DIR     run the servers with node --cpu-prof, profiles in DIR (BENCH_CPU_PROF)
  --dump DIR         write every latency as CSV (start time, latency) per phase (BENCH_DUMP)
  --strict           exit 2 when a target is missed                 (BENCH_STRICT=1)
  --heap chart|node  the webhook's heap: the Helm chart's (values.yaml webhook.heap, with
                     MALLOC_ARENA_MAX=2) or Node's defaults         (BENCH_HEAP, chart)
  --target-ratio X   webhook/bare throughput target                 (0.8)
  --target-p99 MS    p99 target at --rate                           (5)
  --target-idle-rss MB   the webhook's RSS before any review        (85)
  --target-load-rss MB   the webhook's RSS after the closed loop    (100)
`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      rate: { type: 'string' },
      fixture: { type: 'string' },
      phases: { type: 'string' },
      rounds: { type: 'string' },
      cli: { type: 'string' },
      'cpu-prof': { type: 'string' },
      dump: { type: 'string' },
      strict: { type: 'boolean' },
      'target-ratio': { type: 'string' },
      'target-p99': { type: 'string' },
      'target-idle-rss': { type: 'string' },
      'target-load-rss': { type: 'string' },
      heap: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  cli.helpIf(values.help);
  const env = process.env;
  const num = (name: string, flag: string | undefined, envName: string, dflt: number, integer = false): number =>
    cli.number(name, flag, envName, dflt, { integer });
  const phases = cli.list(values.phases ?? env.BENCH_PHASES ?? DEFAULT_PHASES.join(','));
  for (const p of phases)
    if (!(SERVER_KINDS as readonly string[]).includes(p))
      usage(`--phases: unknown server ${JSON.stringify(p)} (${SERVER_KINDS.join(', ')})`);
  return {
    duration: num('duration', values.duration, 'BENCH_DURATION', 10),
    warmup: num('warmup', values.warmup, 'BENCH_WARMUP', 2),
    connections: num('connections', values.connections, 'BENCH_CONNECTIONS', 8, true),
    rate: num('rate', values.rate, 'BENCH_RATE', 1000),
    fixture: resolve(values.fixture ?? env.BENCH_FIXTURE ?? join(ROOT, 'bench/fixtures/watcher-pod.review.json')),
    phases: phases as ServerKind[],
    rounds: num('rounds', values.rounds, 'BENCH_ROUNDS', 1, true),
    cli: resolve(values.cli ?? env.BENCH_CLI ?? join(ROOT, 'dist/cli/main.js')),
    cpuProf: values['cpu-prof'] ?? env.BENCH_CPU_PROF ?? undefined,
    dump: values.dump ?? env.BENCH_DUMP ?? undefined,
    strict: values.strict ?? env.BENCH_STRICT === '1',
    targetRatio: num('target-ratio', values['target-ratio'], 'BENCH_TARGET_RATIO', 0.8),
    targetP99: num('target-p99', values['target-p99'], 'BENCH_TARGET_P99', 5),
    targetIdleRss: num('target-idle-rss', values['target-idle-rss'], 'BENCH_TARGET_IDLE_RSS', 85),
    targetLoadRss: num('target-load-rss', values['target-load-rss'], 'BENCH_TARGET_LOAD_RSS', 100),
    heap: heapOption(values.heap ?? env.BENCH_HEAP ?? 'chart'),
  };
}

function heapOption(raw: string): 'chart' | 'node' {
  if (raw !== 'chart' && raw !== 'node') usage(`--heap must be chart or node, got ${JSON.stringify(raw)}`);
  return raw;
}

const cli: BenchCommandLine = benchCommandLine('bench:admission', USAGE);
const usage: (message: string) => never = cli.usage;

// ---------------------------------------------------------------------------------------------
// Child processes: every server runs in its own process; all are killed when this one ends.

const children = new Set<ChildProcess>();
let scratch: string | undefined;

function cleanupSync(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

process.on('exit', cleanupSync);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench:admission: ${signal}, stopping the servers\n`);
    for (const child of children) child.kill('SIGTERM');
    setTimeout(() => process.exit(130), 1000).unref();
    const all = [...children].map(
      (c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r))),
    );
    void Promise.all(all).then(() => process.exit(130));
  });
}

interface Server {
  kind: ServerKind;
  proc: ChildProcess;
  pid: number;
  port: number;
  metricsPort: number | undefined;
  stderr: () => string;
  stdoutLines: () => number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnServer(
  kind: ServerKind,
  args: string[],
  stdout: 'pipe' | number,
  command: string = process.execPath,
  env: Record<string, string> = {},
): Omit<Server, 'port' | 'metricsPort'> {
  const proc = spawn(command, args, { cwd: ROOT, stdio: ['ignore', stdout, 'pipe'], env: { ...process.env, ...env } });
  children.add(proc);
  let err = '';
  let lines = 0;
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (err.length < 64 * 1024) err += d;
  });
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
    for (let i = d.indexOf('\n'); i !== -1; i = d.indexOf('\n', i + 1)) lines++;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      r({ code, signal });
    }),
  );
  if (proc.pid === undefined) throw new Error(`cannot start ${kind} server`);
  return { kind, proc, pid: proc.pid, stderr: () => err, stdoutLines: () => lines, exited };
}

function getStatus(url: string, ca: string): Promise<number> {
  return new Promise((r) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpGet)(
      url,
      { ca, agent: false, timeout: 1000 } as object,
      (res) => {
        res.resume();
        r(res.statusCode ?? 0);
      },
    );
    req.on('error', () => r(0));
    req.on('timeout', () => req.destroy());
    if (url.startsWith('https:')) req.end();
  });
}

async function waitReady(server: Server, ca: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  let dead = false;
  void server.exited.then(() => (dead = true));
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${SERVER_LABEL[server.kind]} exited during startup:\n${server.stderr()}`);
    if ((await getStatus(`https://${HOST}:${server.port}/readyz`, ca)) === 200) return;
    await sleep(50);
  }
  throw new Error(`${SERVER_LABEL[server.kind]} not ready after 15 s:\n${server.stderr()}`);
}

// ---------------------------------------------------------------------------------------------
// The Go baseline (bench/baseline_go.ts builds it).

let goBinaryPath: string | undefined;

async function startServer(kind: ServerKind, opts: Options, certDir: string, ca: string): Promise<Server> {
  const port = await freePort();
  let server: Server;
  if (isGo(kind)) {
    const metricsPort = await freePort();
    goBinaryPath ??= goBinary(progress);
    const args = [
      '--mode',
      kind === 'go' ? 'typed' : 'direct',
      '--cert-dir',
      certDir,
      '--host',
      HOST,
      '--port',
      String(port),
      '--metrics-port',
      String(metricsPort),
    ];
    server = { ...spawnServer(kind, args, 'pipe', goBinaryPath), port, metricsPort };
    await waitReady(server, ca);
    return server;
  }
  const prof = opts.cpuProf
    ? [
        '--cpu-prof',
        '--cpu-prof-dir',
        resolve(opts.cpuProf),
        '--cpu-prof-name',
        `${kind === 'bare' ? 'bare' : `webhook-${kind}`}-${Date.now()}.cpuprofile`,
      ]
    : [];
  if (kind === 'bare') {
    server = {
      ...spawnServer(
        kind,
        [...prof, join(ROOT, 'bench/bare_server.js'), '--cert-dir', certDir, '--host', HOST, '--port', String(port)],
        'pipe',
      ),
      port,
      metricsPort: undefined,
    };
  } else {
    const metricsPort = await freePort();
    // --no-node-cache: no cluster here, and a KUBECONFIG in the environment must not make the
    // webhook wait for one (the fixture is decided by rule 4, before any node lookup).
    const level = kind === 'warn' ? 'warn' : 'info';
    const heap = opts.heap === 'chart' ? chartHeap('webhook') : { flags: [], env: {} };
    const webhookArgs = [
      'webhook',
      '--cert-dir',
      certDir,
      '--host',
      HOST,
      '--port',
      String(port),
      '--metrics-port',
      String(metricsPort),
      '--log-level',
      level,
      '--no-node-cache',
      '--drain-delay',
      '0',
    ];
    // info-x2: node:cluster's primary forks two workers that run the CLI (bench/cluster_webhook.js).
    const args =
      kind === 'info-x2'
        ? [...heap.flags, join(ROOT, 'bench/cluster_webhook.js'), '2', opts.cli, ...webhookArgs]
        : [...heap.flags, ...prof, opts.cli, ...webhookArgs];
    // info: one JSON line per review goes to /dev/null (the cost of producing it stays);
    // warn: stdout is a pipe and any line on it is reported.
    let stdout: 'pipe' | number = 'pipe';
    if (level === 'info') stdout = openSync('/dev/null', 'w');
    server = { ...spawnServer(kind, args, stdout, process.execPath, heap.env), port, metricsPort };
    if (typeof stdout === 'number') closeSync(stdout);
  }
  await waitReady(server, ca);
  return server;
}

async function stopServer(server: Server): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const t0 = performance.now();
  server.proc.kill('SIGTERM');
  const timer = setTimeout(() => server.proc.kill('SIGKILL'), 30_000);
  const result = await server.exited;
  clearTimeout(timer);
  return { ...result, ms: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// /proc: the server's memory and CPU, and the whole machine's CPU (the machine is shared).

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* Linux default */
}

/** The process and its children (the workers of `info-x2`): their CPU and memory are summed. */
function processTree(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return [pid, ...(children ? children.split(/\s+/).map(Number) : [])];
  } catch {
    return [pid];
  }
}

function procStatusKb(pid: number, field: string): number | undefined {
  const pids = processTree(pid);
  if (pids.length > 1) {
    const each = pids.map((p) => ownStatusKb(p, field));
    return each.some((v) => v === undefined) ? undefined : each.reduce((a, b) => a! + b!, 0);
  }
  return ownStatusKb(pid, field);
}

function ownStatusKb(pid: number, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** utime and stime of a process and its children, in seconds. */
function procCpuSeconds(pid: number): { user: number; system: number } {
  return processTree(pid)
    .map(ownCpuSeconds)
    .reduce((a, b) => ({ user: a.user + b.user, system: a.system + b.system }));
}

function ownCpuSeconds(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / clockTicks, system: Number(fields[12]) / clockTicks };
  } catch {
    return { user: NaN, system: NaN };
  }
}

/** Busy and total jiffies of the whole machine. */
function machineJiffies(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

interface CpuSample {
  t: number;
  server: { user: number; system: number };
  client: NodeJS.CpuUsage;
  machine: { busy: number; total: number };
}

function cpuSample(pid: number): CpuSample {
  return { t: performance.now(), server: procCpuSeconds(pid), client: process.cpuUsage(), machine: machineJiffies() };
}

/** CPU used during the interval, in cores (1.0 = one core busy all the time). */
function cpuBetween(a: CpuSample, b: CpuSample): { server: number; client: number; other: number } {
  const seconds = (b.t - a.t) / 1000;
  const server = (b.server.user - a.server.user + b.server.system - a.server.system) / seconds;
  const client = (b.client.user - a.client.user + b.client.system - a.client.system) / 1e6 / seconds;
  const machine = ((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * availableParallelism();
  return { server, client, other: Math.max(0, machine - server - client) };
}

// ---------------------------------------------------------------------------------------------
// The client: node:https with a keep-alive Agent, one request at a time per connection.

interface Fixture {
  file: string;
  bytes: number;
  pre: Buffer;
  post: Buffer;
}

function loadFixture(file: string): Fixture {
  const text = JSON.stringify(JSON.parse(readFileSync(file, 'utf8'))); // compact, as kube-apiserver sends it
  const at = text.indexOf(`"uid":"${UID_PLACEHOLDER}"`);
  if (at === -1)
    throw new Error(`${file}: request.uid must be ${UID_PLACEHOLDER} (it is replaced by a fresh uid per review)`);
  const start = at + '"uid":"'.length;
  return {
    file,
    bytes: Buffer.byteLength(text),
    pre: Buffer.from(text.slice(0, start)),
    post: Buffer.from(text.slice(start + UID_PLACEHOLDER.length)),
  };
}

interface Expectation {
  /** The webhook must answer with exactly this patch (learnt from the first answer and checked then). */
  patch: string | undefined;
  requirePatch: boolean;
}

interface Outcome {
  error: string | undefined;
}

interface Target {
  port: number;
  agent: Agent;
  fixture: Fixture;
  expect: Expectation;
}

function check(status: number | undefined, text: string, uid: string, expect: Expectation): string | undefined {
  if (status !== 200) return `HTTP ${status}: ${text.slice(0, 200)}`;
  let body: {
    apiVersion?: unknown;
    kind?: unknown;
    response?: {
      uid?: unknown;
      allowed?: unknown;
      patchType?: unknown;
      patch?: unknown;
      status?: { message?: unknown };
    };
  };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return `not JSON: ${text.slice(0, 200)}`;
  }
  const r = body.response;
  if (body.apiVersion !== 'admission.k8s.io/v1' || body.kind !== 'AdmissionReview' || !r)
    return `not an AdmissionReview: ${text.slice(0, 200)}`;
  if (r.uid !== uid) return `response.uid ${JSON.stringify(r.uid)} is not the request's`;
  if (r.allowed !== true) return `denied: ${JSON.stringify(r.status?.message ?? r)}`;
  if (!expect.requirePatch) return undefined;
  if (r.patchType !== 'JSONPatch' || typeof r.patch !== 'string' || r.patch === '') return 'no patch';
  if (expect.patch === undefined) {
    const problem = checkPatch(r.patch);
    if (problem) return problem;
    expect.patch = r.patch;
  } else if (r.patch !== expect.patch) {
    return `patch differs from the first answer's: ${Buffer.from(r.patch, 'base64').toString('utf8').slice(0, 200)}`;
  }
  return undefined;
}

/** The first patch is decoded and must set K8S_WATCH_POLICY and the reason annotation. */
function checkPatch(base64: string): string | undefined {
  let ops: { op?: string; path?: string; value?: unknown }[];
  try {
    ops = JSON.parse(Buffer.from(base64, 'base64').toString('utf8')) as typeof ops;
  } catch {
    return 'patch is not base64 JSON';
  }
  if (!Array.isArray(ops) || ops.length === 0) return 'patch is empty';
  const text = JSON.stringify(ops);
  if (!text.includes('K8S_WATCH_POLICY')) return `patch does not set K8S_WATCH_POLICY: ${text}`;
  if (!text.includes('deepflow.io~1k8s-watch-policy-reason'))
    return `patch does not set the reason annotation: ${text}`;
  return undefined;
}

function describePatch(base64: string | undefined): { ops: number; reason: string | undefined; text: string } {
  if (!base64) return { ops: 0, reason: undefined, text: '' };
  const ops = JSON.parse(Buffer.from(base64, 'base64').toString('utf8')) as { path: string; value: unknown }[];
  const reason = ops.find((o) => o.path.endsWith('k8s-watch-policy-reason'))?.value;
  return { ops: ops.length, reason: typeof reason === 'string' ? reason : undefined, text: JSON.stringify(ops) };
}

function send(target: Target): Promise<Outcome> {
  const uid = randomUUID();
  const { pre, post } = target.fixture;
  const body = Buffer.concat([pre, Buffer.from(uid, 'latin1'), post], pre.length + uid.length + post.length);
  return new Promise((done) => {
    let settled = false;
    const finish = (error: string | undefined) => {
      if (settled) return;
      settled = true;
      done({ error });
    };
    const req = httpsRequest(
      {
        host: HOST,
        port: target.port,
        method: 'POST',
        path: MUTATE_PATH,
        agent: target.agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, */*',
          'user-agent': 'kube-apiserver-admission',
          'content-length': body.length,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(check(res.statusCode, Buffer.concat(chunks).toString('utf8'), uid, target.expect)));
        res.on('error', (e) => finish(`response: ${e.message}`));
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (e) => finish(`request: ${e.message}`));
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// Recording and the two load shapes.

class Recorder {
  latencies: number[] = [];
  /** When each answered review was started (performance.now()), for --dump. */
  startedAt: number[] = [];
  /** Open loop: from the scheduled send time to the actual send (the client's own lateness). */
  sendLag: number[] = [];
  /** Open loop: from the actual send to the answer (what the latency would be without client lateness). */
  service: number[] = [];
  ok = 0;
  errors = new Map<string, number>();
  started = 0;
  ended = 0;

  record(outcome: Outcome, ms: number, startedAt: number): void {
    if (outcome.error === undefined) {
      this.ok++;
      this.latencies.push(ms);
      this.startedAt.push(startedAt);
      return;
    }
    const key = outcome.error.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uid>');
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  get errorCount(): number {
    let n = 0;
    for (const v of this.errors.values()) n += v;
    return n;
  }
}

/** N workers, each sending the next review as soon as the previous one is answered. */
async function closedLoop(target: Target, connections: number, seconds: number): Promise<Recorder> {
  const rec = new Recorder();
  rec.started = performance.now();
  const end = rec.started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const outcome = await send(target);
      const t1 = performance.now();
      rec.record(outcome, t1 - t0, t0);
      rec.ended = Math.max(rec.ended, t1);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  return rec;
}

/**
 * Reviews sent on a fixed schedule (rate per second) whatever the answers do; latency counts from
 * the scheduled send time, so a stalled server is charged for the reviews that queue behind it
 * (no coordinated omission). The agent keeps at most `connections` sockets, like a client pool.
 */
function openLoop(target: Target, rate: number, seconds: number): Promise<Recorder> {
  const rec = new Recorder();
  const interval = 1000 / rate;
  const total = Math.round(rate * seconds);
  const t0 = performance.now() + 2;
  rec.started = t0;
  let next = 0;
  let inflight = 0;
  return new Promise((done) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && t0 + next * interval <= now) {
        const scheduled = t0 + next * interval;
        next++;
        inflight++;
        const sent = performance.now();
        rec.sendLag.push(sent - scheduled);
        void send(target).then((outcome) => {
          const t1 = performance.now();
          rec.record(outcome, t1 - scheduled, scheduled);
          if (outcome.error === undefined) rec.service.push(t1 - sent);
          rec.ended = Math.max(rec.ended, t1);
          if (--inflight === 0 && next >= total) done(rec);
        });
      }
      if (next < total) setTimeout(tick, Math.max(0, t0 + next * interval - performance.now()));
    };
    tick();
  });
}

// ---------------------------------------------------------------------------------------------
// One server: warm-up, closed loop, open loop, memory and CPU after each, the server's own count.

interface PhaseResult {
  server: ServerKind;
  round: number;
  shape: 'closed' | 'open';
  reviews: number;
  reviewsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  errorKinds: Record<string, number>;
  sendLagP99Ms?: number;
  serviceP99Ms?: number;
  serverCpuCores: number;
  clientCpuCores: number;
  otherCpuCores: number;
  /** Server CPU time per review: less sensitive to the machine's other load than reviews/s. */
  serverCpuUsPerReview: number;
  /** Share of the server's CPU time spent in the kernel (TCP loopback, syscalls). */
  serverSystemShare: number;
  clientCpuUsPerReview: number;
  rssMb: number | undefined;
  peakRssMb: number | undefined;
}

interface ServerRun {
  kind: ServerKind;
  round: number;
  phases: PhaseResult[];
  idleRssMb: number | undefined;
  warmupErrors: number;
  countedByServer?: { patched: number; other: Record<string, number> };
  sentOk: number;
  stdoutLines: number;
  exit: { code: number | null; signal: string | null; ms: number };
  problems: string[];
}

const mb = (kb: number | undefined) => (kb === undefined ? undefined : Math.round(kb / 102.4) / 10);

function summarize(
  kind: ServerKind,
  round: number,
  shape: 'closed' | 'open',
  rec: Recorder,
  pid: number,
  a: CpuSample,
  b: CpuSample,
  dump: string | undefined,
): PhaseResult {
  if (dump) {
    mkdirSync(dump, { recursive: true });
    const at = (i: number) => rec.startedAt[i]!;
    const lines = rec.latencies.map(
      (ms, i) => `${(performance.timeOrigin + at(i)).toFixed(3)},${(at(i) - rec.started).toFixed(3)},${ms.toFixed(3)}`,
    );
    writeFileSync(join(dump, `${kind}-${shape}-${round}.csv`), `epoch_ms,offset_ms,latency_ms\n${lines.join('\n')}\n`);
  }
  const sorted = Float64Array.from(rec.latencies).sort();
  const seconds = (rec.ended - rec.started) / 1000;
  const cpu = cpuBetween(a, b);
  const result: PhaseResult = {
    server: kind,
    round,
    shape,
    reviews: rec.ok,
    reviewsPerSecond: rec.ok / seconds,
    p50Ms: percentile(sorted, 0.5),
    p90Ms: percentile(sorted, 0.9),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.length ? sorted[sorted.length - 1]! : NaN,
    errors: rec.errorCount,
    errorKinds: Object.fromEntries(rec.errors),
    serverCpuCores: cpu.server,
    clientCpuCores: cpu.client,
    otherCpuCores: cpu.other,
    serverCpuUsPerReview: rec.ok
      ? ((b.server.user - a.server.user + b.server.system - a.server.system) * 1e6) / rec.ok
      : NaN,
    serverSystemShare:
      (b.server.system - a.server.system) / (b.server.user - a.server.user + b.server.system - a.server.system),
    clientCpuUsPerReview: rec.ok ? (b.client.user - a.client.user + b.client.system - a.client.system) / rec.ok : NaN,
    rssMb: mb(procStatusKb(pid, 'VmRSS')),
    peakRssMb: mb(procStatusKb(pid, 'VmHWM')),
  };
  if (shape === 'open') {
    result.sendLagP99Ms = percentile(Float64Array.from(rec.sendLag).sort(), 0.99);
    result.serviceP99Ms = percentile(Float64Array.from(rec.service).sort(), 0.99);
  }
  return result;
}

function metricsText(port: number): Promise<string> {
  return new Promise((r, reject) => {
    httpGet({ host: HOST, port, path: '/metrics', agent: false }, (res) => {
      let text = '';
      res
        .setEncoding('utf8')
        .on('data', (d: string) => (text += d))
        .on('end', () => r(text));
    }).on('error', reject);
  });
}

function progress(line: string): void {
  process.stderr.write(`  ${line}\n`);
}

async function runServer(
  kind: ServerKind,
  round: number,
  opts: Options,
  fixture: Fixture,
  certDir: string,
  ca: string,
  expect: Expectation,
): Promise<ServerRun> {
  progress(`${opts.rounds > 1 ? `#${round} ` : ''}${SERVER_LABEL[kind]}: starting`);
  const server = await startServer(kind, opts, certDir, ca);
  const problems: string[] = [];
  const idleRssMb = mb(procStatusKb(server.pid, 'VmRSS'));
  const agent = new Agent({
    keepAlive: true,
    maxSockets: opts.connections,
    maxFreeSockets: opts.connections,
    ca,
    scheduling: 'fifo',
  });
  const target: Target = {
    port: server.port,
    agent,
    fixture,
    expect: kind === 'bare' ? { patch: undefined, requirePatch: false } : expect,
  };
  const phases: PhaseResult[] = [];
  let sentOk = 0;
  let warmupErrors: number;
  try {
    progress(`${SERVER_LABEL[kind]}: warm-up ${opts.warmup} s`);
    const warm = await closedLoop(target, opts.connections, opts.warmup);
    sentOk += warm.ok;
    warmupErrors = warm.errorCount;
    if (warmupErrors > 0)
      problems.push(`warm-up: ${warmupErrors} errors: ${JSON.stringify(Object.fromEntries(warm.errors))}`);

    progress(`${SERVER_LABEL[kind]}: closed loop, ${opts.connections} connections, ${opts.duration} s`);
    let a = cpuSample(server.pid);
    const closed = await closedLoop(target, opts.connections, opts.duration);
    let b = cpuSample(server.pid);
    phases.push(summarize(kind, round, 'closed', closed, server.pid, a, b, opts.dump));
    sentOk += closed.ok;

    await sleep(500);
    progress(`${SERVER_LABEL[kind]}: open loop, ${opts.rate} reviews/s, ${opts.duration} s`);
    a = cpuSample(server.pid);
    const open = await openLoop(target, opts.rate, opts.duration);
    b = cpuSample(server.pid);
    phases.push(summarize(kind, round, 'open', open, server.pid, a, b, opts.dump));
    sentOk += open.ok;

    for (const p of phases)
      if (p.errors > 0) problems.push(`${p.shape} loop: ${p.errors} errors: ${JSON.stringify(p.errorKinds)}`);

    let countedByServer: ServerRun['countedByServer'];
    // info-x2: each worker counts its own reviews and a scrape reaches one of them.
    if (server.metricsPort !== undefined && kind !== 'info-x2') {
      const text = await metricsText(server.metricsPort);
      const other: Record<string, number> = {};
      let patched = 0;
      for (const m of text.matchAll(/^k8s_watch_policy_admission_reviews_total\{([^}]*)\} (\d+)/gm)) {
        const result = /result="([^"]*)"/.exec(m[1]!)?.[1] ?? '?';
        if (result === 'patched') patched += Number(m[2]);
        else other[result] = (other[result] ?? 0) + Number(m[2]);
      }
      countedByServer = { patched, other };
      if (patched !== sentOk)
        problems.push(`the server counted ${patched} patched reviews, the client got ${sentOk} patched answers`);
      if (Object.values(other).some((n) => n > 0))
        problems.push(`the server counted reviews that were not patched: ${JSON.stringify(other)}`);
    }
    agent.destroy();
    const exit = await stopServer(server);
    if (kind !== 'bare' && (exit.code !== 0 || exit.signal !== null))
      problems.push(`the webhook exited with code ${exit.code} signal ${exit.signal} after SIGTERM`);
    const stdoutLines = server.stdoutLines();
    if (kind === 'warn' && stdoutLines > 0) problems.push(`the webhook wrote ${stdoutLines} lines at log level warn`);
    if (server.stderr().trim() !== '') problems.push(`stderr: ${server.stderr().trim().slice(0, 2000)}`);
    return {
      kind,
      round,
      phases,
      idleRssMb,
      warmupErrors,
      ...(countedByServer && { countedByServer }),
      sentOk,
      stdoutLines,
      exit,
      problems,
    };
  } finally {
    agent.destroy();
    if (server.proc.exitCode === null && server.proc.signalCode === null) await stopServer(server);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (!existsSync(opts.cli)) usage(`${relative(ROOT, opts.cli)} not found: run npm run build first`);
  const fixture = loadFixture(opts.fixture);

  scratch = mkdtempSync(join(tmpdir(), 'bench-admission-'));
  const certDir = join(scratch, 'certs');
  execFileSync(process.execPath, [opts.cli, 'certs', '--out', certDir, '--dns', 'localhost,127.0.0.1'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const ca = readFileSync(join(certDir, 'ca.crt'), 'utf8');

  const date = new Date().toISOString();
  const cpus = availableParallelism();
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  process.stderr.write(
    `bench:admission  ${date}  node ${process.version}  ${cpus} CPUs  load ${load}\n` +
      `  fixture ${relative(ROOT, fixture.file)} (${fixture.bytes} bytes)  connections ${opts.connections}  warm-up ${opts.warmup} s  duration ${opts.duration} s  open-loop rate ${opts.rate}/s\n`,
  );

  // The webhook's answer is learnt once and every later answer must be byte-identical, the Go
  // baseline with a hand-built patch included; the typed Go baseline (marshal + diff) has its own
  // (its diff also removes the null creationTimestamp that the typed round trip drops).
  const expect: Expectation = { patch: undefined, requirePatch: true };
  const goExpect: Expectation = { patch: undefined, requirePatch: true };
  if (opts.phases.some(isGo)) goBinaryPath = goBinary(progress);
  const runs: ServerRun[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const kind of opts.phases)
      runs.push(await runServer(kind, round, opts, fixture, certDir, ca, kind === 'go' ? goExpect : expect));
  }
  const phases = runs.flatMap((r) => r.phases);
  const multi = opts.rounds > 1;

  // Table: one line per server and load shape (and round).
  const rows: string[][] = [
    [
      'load',
      'server',
      'reviews/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      'p99 sent',
      'lag p99',
      'errors',
      'CPU srv',
      'CPU client',
      'CPU other',
      'srv µs/review',
      'RSS MB',
      'peak MB',
    ],
  ];
  for (const p of phases) {
    rows.push([
      (multi ? `#${p.round} ` : '') +
        (p.shape === 'closed' ? `max (closed, ${opts.connections} conns)` : `${opts.rate}/s (open loop)`),
      SERVER_LABEL[p.server],
      fmt(p.reviewsPerSecond, 0),
      fmt(p.p50Ms),
      fmt(p.p99Ms),
      fmt(p.maxMs, 1),
      fmt(p.serviceP99Ms),
      fmt(p.sendLagP99Ms),
      String(p.errors),
      fmt(p.serverCpuCores),
      fmt(p.clientCpuCores),
      fmt(p.otherCpuCores),
      fmt(p.serverCpuUsPerReview, 0),
      fmt(p.rssMb, 1),
      fmt(p.peakRssMb, 1),
    ]);
  }

  // Figures: per round, then the median over rounds (the machine is shared; one round can be unlucky).
  const phase = (k: ServerKind, shape: 'closed' | 'open', round: number) =>
    phases.find((p) => p.server === k && p.shape === shape && p.round === round);
  const rounds = Array.from({ length: opts.rounds }, (_, i) => i + 1);
  const perRound = (f: (round: number) => number | undefined) =>
    rounds.map(f).filter((v): v is number => v !== undefined && !Number.isNaN(v));
  const ratios = (k: ServerKind) =>
    perRound((n) => {
      const b = phase('bare', 'closed', n);
      const c = phase(k, 'closed', n);
      return b && c ? c.reviewsPerSecond / b.reviewsPerSecond : undefined;
    });
  const cpuRatios = (k: ServerKind) =>
    perRound((n) => {
      const b = phase('bare', 'closed', n);
      const c = phase(k, 'closed', n);
      return b && c ? c.serverCpuUsPerReview / b.serverCpuUsPerReview : undefined;
    });
  const patch = describePatch(expect.patch ?? goExpect.patch);

  const out: string[] = [];
  out.push('');
  out.push(`admission benchmark  ${date}  node ${process.version}  ${cpus} CPUs  load average ${load}`);
  out.push(
    `fixture: ${relative(ROOT, fixture.file)}, ${fixture.bytes} bytes; webhook answer: ${patch.ops}-op patch${patch.reason ? `, reason ${patch.reason}` : ''}`,
  );
  out.push(
    `client: node:https keep-alive Agent, ${opts.connections} connections, warm-up ${opts.warmup} s, ${opts.duration} s per phase` +
      `${multi ? `, ${opts.rounds} rounds (figures below: median)` : ''}; CPU in cores (${cpus} on this machine)`,
  );
  out.push('');
  out.push(table(rows, 2));
  out.push('');

  const verdicts: { name: string; value: number | undefined; target: string; pass: boolean | undefined }[] = [];
  const figures: Record<string, number | undefined> = {};
  for (const k of ['warn', 'info'] as const) {
    const r = median(ratios(k));
    figures[`ratio_${k}`] = r;
    if (r !== undefined)
      verdicts.push({
        name: `throughput ratio ${SERVER_LABEL[k]} / bare`,
        value: r,
        target: `>= ${opts.targetRatio}`,
        pass: r >= opts.targetRatio,
      });
  }
  for (const k of ['bare', 'warn', 'info'] as const) {
    const p99 = median(perRound((n) => phase(k, 'open', n)?.p99Ms));
    figures[`p99_${k}`] = p99;
    if (k === 'bare' || !phases.some((p) => p.server === k && p.shape === 'open')) continue;
    const ok = perRound((n) => {
      const o = phase(k, 'open', n);
      return o ? Number(o.errors === 0 && o.reviewsPerSecond >= opts.rate * 0.98) : undefined;
    }).every((v) => v === 1);
    verdicts.push({
      name: `p99 at ${opts.rate}/s, ${SERVER_LABEL[k]} (ms)`,
      value: p99,
      target: `< ${opts.targetP99}`,
      pass: ok && p99 !== undefined && p99 < opts.targetP99,
    });
  }
  for (const k of WEBHOOK_KINDS) {
    const idle = median(
      runs
        .filter((r) => r.kind === k)
        .map((r) => r.idleRssMb)
        .filter((v): v is number => v !== undefined),
    );
    const loaded = median(perRound((n) => phase(k, 'closed', n)?.rssMb));
    figures[`idle_rss_${k}`] = idle;
    figures[`load_rss_${k}`] = loaded;
    if (idle !== undefined)
      verdicts.push({
        name: `RSS idle, ${SERVER_LABEL[k]} (MB)`,
        value: idle,
        target: `<= ${opts.targetIdleRss}`,
        pass: idle <= opts.targetIdleRss,
      });
    if (loaded !== undefined)
      verdicts.push({
        name: `RSS after the closed loop, ${SERVER_LABEL[k]} (MB)`,
        value: loaded,
        target: `<= ${opts.targetLoadRss}`,
        pass: loaded <= opts.targetLoadRss,
      });
  }
  for (const v of verdicts)
    out.push(
      `${v.name.padEnd(48)} ${fmt(v.value).padStart(7)}  target ${v.target.padEnd(6)} ${v.pass ? 'PASS' : 'MISS'}`,
    );
  if (figures.p99_bare !== undefined)
    out.push(
      `${`p99 at ${opts.rate}/s, ${SERVER_LABEL.bare} (ms)`.padEnd(48)} ${fmt(figures.p99_bare).padStart(7)}  (the floor of this machine and client)`,
    );
  for (const k of ['info-x2', ...GO_KINDS] as const) {
    const r = median(ratios(k));
    figures[`ratio_${k}`] = r;
    if (r !== undefined) out.push(`${`throughput ratio ${SERVER_LABEL[k]} / bare`.padEnd(48)} ${fmt(r).padStart(7)}`);
    const p99 = median(perRound((n) => phase(k, 'open', n)?.p99Ms));
    figures[`p99_${k}`] = p99;
    if (p99 !== undefined)
      out.push(`${`p99 at ${opts.rate}/s, ${SERVER_LABEL[k]} (ms)`.padEnd(48)} ${fmt(p99).padStart(7)}`);
  }
  // Against the Go baseline, from the same run: reviews/s (closed loop) and server CPU per review.
  for (const w of WEBHOOK_KINDS) {
    for (const g of GO_KINDS) {
      const between = (f: (p: PhaseResult) => number) =>
        median(
          perRound((n) => {
            const a = phase(w, 'closed', n);
            const b = phase(g, 'closed', n);
            return a && b ? f(a) / f(b) : undefined;
          }),
        );
      const r = between((p) => p.reviewsPerSecond);
      const c = between((p) => p.serverCpuUsPerReview);
      figures[`ratio_${w}_${g}`] = r;
      figures[`cpu_ratio_${w}_${g}`] = c;
      if (r !== undefined)
        out.push(
          `${`throughput ratio ${SERVER_LABEL[w]} / ${g}`.padEnd(48)} ${fmt(r).padStart(7)}  (> 1: the webhook serves more)`,
        );
      if (c !== undefined)
        out.push(
          `${`server CPU per review, ${SERVER_LABEL[w]} / ${g}`.padEnd(48)} ${fmt(c).padStart(7)}  (< 1: the webhook uses less CPU per review)`,
        );
    }
  }
  for (const k of [...WEBHOOK_KINDS, 'info-x2', ...GO_KINDS] as const) {
    const c = median(cpuRatios(k));
    figures[`cpu_ratio_${k}`] = c;
    if (c !== undefined)
      out.push(
        `${`server CPU per review, ${SERVER_LABEL[k]} / bare`.padEnd(48)} ${fmt(c).padStart(7)}  (1 / this is the ratio a CPU-bound server would reach)`,
      );
  }
  const notes: string[] = [];
  const clientBound = phases.filter((p) => p.server === 'bare' && p.shape === 'closed' && p.clientCpuCores >= 0.85);
  if (clientBound.length > 0) {
    notes.push(
      `the client (one thread) used up to ${fmt(Math.max(...clientBound.map((p) => p.clientCpuCores)))} cores against the bare server: the ceiling is partly client-bound, so the ratio is flattering`,
    );
  }
  const busy = phases.filter((p) => p.otherCpuCores > 0.25);
  if (busy.length > 0) {
    notes.push(
      `other processes used up to ${fmt(Math.max(...busy.map((p) => p.otherCpuCores)))} of ${cpus} cores during ${busy.length} of ${phases.length} phases: ` +
        'reviews/s and latencies are pessimistic there; server CPU µs/review is the steadier figure',
    );
  }
  if (goExpect.patch !== undefined && expect.patch !== undefined && goExpect.patch !== expect.patch) {
    notes.push(`${SERVER_LABEL.go} answers a different patch than the webhook: ${describePatch(goExpect.patch).text}`);
  }
  if (runs.some((r) => r.kind === 'info-x2'))
    notes.push(
      `${SERVER_LABEL['info-x2']}: CPU and RSS are the primary's and both workers' together; the server's own count of reviews is not checked (a scrape reaches one worker)`,
    );
  if (opts.heap === 'chart')
    notes.push(
      `the webhook ran with the chart's heap settings: ${chartHeap('webhook').flags.join(' ') || 'none'} and MALLOC_ARENA_MAX=2 (--heap node: Node's defaults)`,
    );
  for (const n of notes) out.push(`note: ${n}`);
  for (const r of runs) {
    const counted = r.countedByServer
      ? `; server counted ${r.countedByServer.patched} patched, client got ${r.sentOk}`
      : '';
    out.push(
      `${multi ? `#${r.round} ` : ''}${SERVER_LABEL[r.kind]}: RSS idle ${fmt(r.idleRssMb, 1)} MB${counted}; SIGTERM -> exit ${r.exit.code ?? r.exit.signal} in ${fmt(r.exit.ms, 0)} ms`,
    );
  }
  const problems = runs.flatMap((r) =>
    r.problems.map((p) => `${multi ? `#${r.round} ` : ''}${SERVER_LABEL[r.kind]}: ${p}`),
  );
  if (problems.length > 0) {
    out.push('');
    out.push(`FAILED: ${problems.length} problem(s):`);
    for (const p of problems) out.push(`  - ${p}`);
  }
  out.push('');
  process.stdout.write(out.join('\n') + '\n');

  const json = {
    bench: 'admission',
    date,
    node: process.version,
    cpus,
    loadavg: loadavg(),
    fixture: {
      file: relative(ROOT, fixture.file),
      bytes: fixture.bytes,
      patchOps: patch.ops,
      reason: patch.reason,
      ...(goExpect.patch !== undefined && { goPatch: describePatch(goExpect.patch).text }),
    },
    options: {
      connections: opts.connections,
      warmupS: opts.warmup,
      durationS: opts.duration,
      rate: opts.rate,
      rounds: opts.rounds,
      heap: opts.heap,
    },
    figures,
    targets: verdicts.map((v) => ({ name: v.name, value: v.value, target: v.target, pass: v.pass })),
    phases: phases.map((p) => ({ ...p, reviewsPerSecond: Math.round(p.reviewsPerSecond), ...roundMs(p) })),
    servers: runs.map((r) => ({
      round: r.round,
      server: r.kind,
      idleRssMb: r.idleRssMb,
      countedByServer: r.countedByServer,
      sentOk: r.sentOk,
      exit: r.exit,
    })),
    problems,
    notes,
  };
  process.stdout.write(JSON.stringify(json) + '\n');

  if (problems.length > 0) return 1;
  if (opts.strict && verdicts.some((v) => !v.pass)) return 2;
  return 0;
}

function roundMs(p: PhaseResult): Partial<PhaseResult> {
  const r = (n: number | undefined) => (n === undefined ? undefined : Math.round(n * 1000) / 1000);
  return {
    p50Ms: r(p.p50Ms)!,
    p90Ms: r(p.p90Ms)!,
    p99Ms: r(p.p99Ms)!,
    maxMs: r(p.maxMs)!,
    serverCpuCores: r(p.serverCpuCores)!,
    clientCpuCores: r(p.clientCpuCores)!,
    otherCpuCores: r(p.otherCpuCores)!,
    serverCpuUsPerReview: Math.round(p.serverCpuUsPerReview),
    clientCpuUsPerReview: Math.round(p.clientCpuUsPerReview),
    serverSystemShare: r(p.serverSystemShare)!,
    ...(p.sendLagP99Ms !== undefined && { sendLagP99Ms: r(p.sendLagP99Ms)! }),
    ...(p.serviceP99Ms !== undefined && { serviceP99Ms: r(p.serviceP99Ms)! }),
  };
}

main().then(
  (code) => {
    cleanupSync();
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`bench:admission: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    cleanupSync();
    process.exit(1);
  },
);
