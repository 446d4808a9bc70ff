#!/usr/bin/env node
/**
 * `npm run bench:report`: the CLI's `status` and `audit -A` (dist/cli/main.js, child processes, as
 * a user runs them) against an API server in this process that serves a serverless cluster of N
 * agent pods (test/support/agent_cluster.ts): 95% sidecars (the realistic pod of
 * bench/fixtures/sidecar-pod.review.json: an application container and a watch-disabled
 * deepflow-agent, with managedFields and a Running status) in Deployments of 10, one DaemonSet
 * agent on each of N x 5% nodes, one watch-only watcher; Leases, the controller's pod, the
 * webhook's registration and endpoints. Lists are paginated (limit/continue) as kube-apiserver
 * does; the pages are made before the runs (1.2 GB at 100,000 pods, in this process), so that
 * serving one costs its write only, as for an API server answering from its watch cache, and the
 * time measured is the CLI's. Per size, command and output format: wall
 * time, peak RSS (/usr/bin/time's maximum resident set, else /proc VmHWM polled), CPU, the size
 * of the output and the exit code (status 0: healthy; audit 0: no drift).
 *
 *   npm run bench:report                                      # 1k, 10k, 100k; text, json, yaml
 *   node bench/report_scale.ts --sizes 10000 --outputs text   # no build
 *
 * Targets at 100,000 agent pods: 10 s and 300 MB for each run (--strict: exit 2 when missed).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startFakeApiServer } from '../test/client/fake_api_server.ts';
import { agentCluster } from '../test/support/agent_cluster.ts';
import { benchCommandLine } from './options.ts';
import { procStatusMb } from './proc.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TIME = '/usr/bin/time';
/** The CLI's page size (src/report/cluster_read.ts, as kubectl's): the pages made before the runs. */
const PAGE_SIZE = 500;
const COMMANDS = { status: ['status'], audit: ['audit', '-A'] } as const;
type CommandName = keyof typeof COMMANDS;
const OUTPUTS = ['text', 'json', 'yaml'] as const;
type Output = (typeof OUTPUTS)[number];

const USAGE = `usage: npm run bench:report -- [options]   (or node bench/report_scale.ts [options])

  --sizes LIST       agent pods per cluster                   (BENCH_SIZES, 1000,10000,100000)
  --commands LIST    status,audit                             (BENCH_COMMANDS, status,audit)
  --outputs LIST     text,json,yaml                           (BENCH_OUTPUTS, text,json,yaml)
  --replicas N       sidecar pods per Deployment              (BENCH_REPLICAS, 10)
  --timeout S        kill a run after S seconds               (BENCH_TIMEOUT, 300)
  --cli FILE         the built CLI                            (BENCH_CLI, dist/cli/main.js)
  --retained N       heap kept per pod, in process, over N pods (bench/report_retained.ts;
                     0: not measured)                         (BENCH_RETAINED, 20000)
  --serve N          only serve a cluster of N agent pods, print the kubeconfig, wait
                     (to run or profile the CLI by hand)
  --strict           exit 2 when a run at 100,000 pods misses a target (BENCH_STRICT=1)
  --target-seconds S (10)   --target-rss MB (300)
`;

const cli = benchCommandLine('bench:report', USAGE);

interface Options {
  sizes: number[];
  commands: CommandName[];
  outputs: Output[];
  replicas: number;
  timeout: number;
  cli: string;
  strict: boolean;
  targetSeconds: number;
  targetRss: number;
  serve: number | undefined;
  retained: number;
}

function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T[] {
  const list = cli.list(raw);
  for (const x of list) if (!allowed.includes(x as T)) cli.usage(`--${name}: unknown ${JSON.stringify(x)}`);
  return list as T[];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string' },
      commands: { type: 'string' },
      outputs: { type: 'string' },
      replicas: { type: 'string' },
      timeout: { type: 'string' },
      cli: { type: 'string' },
      strict: { type: 'boolean' },
      serve: { type: 'string' },
      retained: { type: 'string' },
      'target-seconds': { type: 'string' },
      'target-rss': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  cli.helpIf(values.help);
  const env = process.env;
  const sizes = cli.list(values.sizes ?? env.BENCH_SIZES ?? '1000,10000,100000').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 3) cli.usage(`--sizes: ${JSON.stringify(s)} is not an integer >= 3`);
    return n;
  });
  return {
    sizes,
    commands: oneOf('commands', values.commands ?? env.BENCH_COMMANDS ?? 'status,audit', ['status', 'audit']),
    outputs: oneOf('outputs', values.outputs ?? env.BENCH_OUTPUTS ?? OUTPUTS.join(','), OUTPUTS),
    replicas: cli.number('replicas', values.replicas, 'BENCH_REPLICAS', 10, { integer: true }),
    timeout: cli.number('timeout', values.timeout, 'BENCH_TIMEOUT', 300),
    cli: resolve(values.cli ?? env.BENCH_CLI ?? join(ROOT, 'dist/cli/main.js')),
    strict: values.strict ?? env.BENCH_STRICT === '1',
    targetSeconds: cli.number('target-seconds', values['target-seconds'], 'BENCH_TARGET_SECONDS', 10),
    targetRss: cli.number('target-rss', values['target-rss'], 'BENCH_TARGET_RSS', 300),
    retained: cli.number('retained', values.retained, 'BENCH_RETAINED', 20_000, { integer: true, min: 0 }),
    serve:
      values.serve === undefined
        ? undefined
        : cli.number('serve', values.serve, undefined, 0, { integer: true, min: 3 }),
  };
}

interface Run {
  pods: number;
  command: CommandName;
  output: Output;
  seconds: number;
  peakRssMb: number;
  cpuSeconds: number | undefined;
  /** CPU of this process (the API server) during the run. */
  serverCpuSeconds: number;
  outputBytes: number;
  outputLines: number;
  exitCode: number | null;
  error?: string;
}

const r2 = (n: number) => Math.round(n * 100) / 100;

/** One CLI run: its wall time, peak RSS and output, the process measured by /usr/bin/time when there is one. */
async function runCli(
  opts: Options,
  kubeconfig: string,
  pods: number,
  command: CommandName,
  output: Output,
): Promise<Run> {
  const scratch = mkdtempSync(join(tmpdir(), 'kwp-bench-report-'));
  const timeFile = join(scratch, 'time');
  const args = [opts.cli, ...COMMANDS[command], '--kubeconfig', kubeconfig, '-o', output];
  const useTime = existsSync(TIME);
  const child = useTime
    ? spawn(TIME, ['-f', '%M %U %S', '-o', timeFile, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let bytes = 0;
  let lines = 0;
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    for (const b of chunk) if (b === 10) lines++;
  });
  child.stderr.on('data', (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-2000)));
  // Without /usr/bin/time: VmHWM of the node process, polled (the child is node itself then).
  let hwm = 0;
  const poll = setInterval(() => (hwm = Math.max(hwm, procStatusMb(child.pid!, 'VmHWM') ?? 0)), 20);
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout * 1000);
  const exitCode = await new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  const seconds = (performance.now() - start) / 1000;
  clearInterval(poll);
  clearTimeout(timer);
  const cpu = process.cpuUsage(cpu0);
  let peakRssMb = hwm;
  let cpuSeconds: number | undefined;
  if (useTime && existsSync(timeFile)) {
    const [kb, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
    peakRssMb = kb! / 1024;
    cpuSeconds = user! + sys!;
  }
  rmSync(scratch, { recursive: true, force: true });
  const expected = 0;
  return {
    pods,
    command,
    output,
    seconds: r2(seconds),
    peakRssMb: Math.round(peakRssMb),
    cpuSeconds: cpuSeconds === undefined ? undefined : r2(cpuSeconds),
    serverCpuSeconds: r2((cpu.user + cpu.system) / 1e6),
    outputBytes: bytes,
    outputLines: lines,
    exitCode,
    ...(exitCode !== expected && { error: stderr.trim().split('\n').slice(-3).join(' / ') || `exit ${exitCode}` }),
  };
}

function kubeconfigFor(url: string, caPem: string, dir: string): string {
  const file = join(dir, 'kubeconfig');
  const ca = Buffer.from(caPem).toString('base64');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: bench, cluster: {server: "${url}", certificate-authority-data: ${ca}}}]`,
      'users: [{name: bench, user: {token: bench}}]',
      'contexts: [{name: bench, context: {cluster: bench, user: bench}}]',
      'current-context: bench',
      '',
    ].join('\n'),
  );
  return file;
}

const mb = (n: number) => `${n} MB`;

function markdown(runs: Run[]): string {
  const rows = runs.map(
    (r) =>
      `| ${r.pods.toLocaleString('en-US')} | ${r.command === 'audit' ? 'audit -A' : 'status'} | ${r.output} | ${r.seconds.toFixed(1)} s | ${mb(r.peakRssMb)} | ${r.cpuSeconds?.toFixed(1) ?? '-'} s | ${r.serverCpuSeconds.toFixed(1)} s | ${(r.outputBytes / 1e6).toFixed(1)} MB | ${r.error ? `exit ${r.exitCode}: ${r.error}` : r.exitCode} |`,
  );
  return [
    '| agent pods | command | -o | wall | peak RSS | CLI CPU | API server CPU | output | exit |',
    '|---:|---|---|---:|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n');
}

interface Retained {
  pods: number;
  bytesPerPod: { before: number; status: number; audit: number };
}

/** bench/report_retained.ts in a child process with --expose-gc. */
function retained(pods: number): Retained | undefined {
  if (pods === 0) return undefined;
  const script = join(ROOT, 'bench/report_retained.ts');
  const out = execFileSync(process.execPath, ['--expose-gc', script, String(pods)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Retained;
}

function retainedText(r: Retained | undefined): string {
  if (!r) return '';
  const b = r.bytesPerPod;
  return `\nheap kept per agent pod (${r.pods.toLocaleString('en-US')} pods, in process): status ${b.status} B, audit ${b.audit} B; before (the whole pod but its managedFields) ${b.before} B\n`;
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (!existsSync(opts.cli)) cli.usage(`${opts.cli} does not exist: npm run build first (npm run bench:report does)`);
  const server = await startFakeApiServer();
  const dir = mkdtempSync(join(tmpdir(), 'kwp-bench-kubeconfig-'));
  const kubeconfig = kubeconfigFor(server.url, server.caPem, dir);
  if (opts.serve !== undefined) {
    const cluster = agentCluster({ pods: opts.serve, replicas: opts.replicas, cache: true });
    cluster.warm(PAGE_SIZE);
    server.handler = cluster.handler;
    process.stdout.write(`serving ${opts.serve} agent pods at ${server.url}; KUBECONFIG=${kubeconfig}\n`);
    return new Promise<number>(() => {});
  }
  const runs: Run[] = [];
  try {
    for (const pods of opts.sizes) {
      const cluster = agentCluster({ pods, replicas: opts.replicas, cache: true });
      const made = performance.now();
      cluster.warm(PAGE_SIZE);
      process.stderr.write(`[report] ${pods} pods: pages made in ${Math.round(performance.now() - made)} ms\n`);
      server.handler = cluster.handler;
      for (const command of opts.commands)
        for (const output of opts.outputs) {
          const run = await runCli(opts, kubeconfig, pods, command, output);
          server.requests.length = 0;
          runs.push(run);
          process.stderr.write(
            `[report] ${pods} pods, ${command} -o ${output}: ${run.seconds} s, ${run.peakRssMb} MB${run.error ? `, exit ${run.exitCode}: ${run.error}` : ''}\n`,
          );
        }
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const big = runs.filter((r) => r.pods === 100_000);
  const missed = big.filter((r) => r.seconds > opts.targetSeconds || r.peakRssMb > opts.targetRss);
  const kept = retained(opts.retained);
  process.stdout.write(`${markdown(runs)}\n${retainedText(kept)}`);
  const targets = { seconds: opts.targetSeconds, rssMb: opts.targetRss, at: 100_000 };
  const json = { node: process.version, targets, runs, retained: kept ?? null, missed: missed.length };
  process.stdout.write(`${JSON.stringify(json)}\n`);
  if (runs.some((r) => r.error)) return 1;
  return opts.strict && missed.length > 0 ? 2 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:report: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
