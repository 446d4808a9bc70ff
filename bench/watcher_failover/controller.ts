/**
 * One `k8s-watch-policy controller` process (the built CLI), as the benchmark runs it: its
 * output in a log file, /readyz polled every few ms from the moment it is spawned, /status and
 * /metrics read over plain HTTP, its JSON log lines parsed for the times it reports itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import type { Json } from '../kube.ts';
import { freePort, sleep } from '../options.ts';
import { procStatusMb } from '../proc.ts';

const HOST = '127.0.0.1';

function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
  });
}

export interface ControllerSpec {
  cli: string;
  kubeconfig: string;
  configFile: string;
  namespace: string;
  identity: string;
  logFile: string;
  /** Flags for node itself (before the script). */
  nodeFlags?: string[];
  /** Environment added to this process's (MALLOC_ARENA_MAX of the chart's heap settings). */
  env?: Record<string, string>;
  /** node --cpu-prof into this directory. */
  cpuProfDir?: string;
  /** node --heapsnapshot-signal=SIGUSR2 into this directory. */
  heapSnapshotDir?: string;
  /** Extra controller flags (leader-election timings). */
  extraArgs?: string[];
}

export const children = new Set<ChildProcess>();

export class Controller {
  readonly spec: ControllerSpec;
  readonly port: number;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** performance.now() and Date.now() just before spawn. */
  readonly spawnedAt: number;
  readonly spawnedAtEpoch: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';

  private constructor(spec: ControllerSpec, port: number) {
    this.spec = spec;
    this.port = port;
    const out = openSync(spec.logFile, 'w');
    const nodeFlags = [
      ...(spec.nodeFlags ?? []),
      ...(spec.cpuProfDir
        ? [
            '--cpu-prof',
            '--cpu-prof-dir',
            spec.cpuProfDir,
            '--cpu-prof-name',
            `controller-${spec.identity}-${Date.now()}.cpuprofile`,
          ]
        : []),
      ...(spec.heapSnapshotDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${spec.heapSnapshotDir}`] : []),
    ];
    const args = [
      ...nodeFlags,
      spec.cli,
      'controller',
      '--kubeconfig',
      spec.kubeconfig,
      '--config',
      spec.configFile,
      '--namespace',
      spec.namespace,
      '--identity',
      spec.identity,
      '--host',
      HOST,
      '--metrics-port',
      String(port),
      ...(spec.extraArgs ?? []),
    ];
    this.spawnedAtEpoch = Date.now();
    this.spawnedAt = performance.now();
    this.proc = spawn(process.execPath, args, { stdio: ['ignore', out, 'pipe'], env: { ...process.env, ...spec.env } });
    closeSync(out);
    if (this.proc.pid === undefined) throw new Error('cannot spawn the controller');
    this.pid = this.proc.pid;
    children.add(this.proc);
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (this.stderr.length < 64 * 1024) this.stderr += d;
    });
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => {
        children.delete(this.proc);
        resolve({ code, signal });
      }),
    );
  }

  static async start(spec: ControllerSpec): Promise<Controller> {
    return new Controller(spec, await freePort());
  }

  get url(): string {
    return `http://${HOST}:${this.port}`;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Polls /readyz every `everyMs` from now; resolves with performance.now() of the first 200. */
  async waitReady(timeoutMs: number, everyMs = 10): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (!this.alive)
        throw new Error(
          `the controller exited (${this.proc.exitCode ?? this.proc.signalCode}): ${this.stderr.trim() || this.logTail()}`,
        );
      const r = await httpGet(`${this.url}/readyz`, 1000).catch(() => undefined);
      if (r?.status === 200) return performance.now();
      if (performance.now() > deadline)
        throw new Error(`the controller was not ready within ${timeoutMs / 1000} s; ${this.logTail()}`);
      await sleep(everyMs);
    }
  }

  async status(): Promise<Json> {
    return JSON.parse((await httpGet(`${this.url}/status`, 10_000)).body);
  }

  /** The metrics as name{labels} -> value. */
  async metrics(): Promise<Map<string, number>> {
    const text = (await httpGet(`${this.url}/metrics`, 10_000)).body;
    const values = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const i = line.lastIndexOf(' ');
      values.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
    return values;
  }

  rssMb(): number | undefined {
    return procStatusMb(this.pid, 'VmRSS');
  }

  peakRssMb(): number | undefined {
    return procStatusMb(this.pid, 'VmHWM');
  }

  /** The JSON log lines written so far (the CLI flushes them at least every 250 ms). */
  logLines(): Json[] {
    const lines: Json[] = [];
    let text: string;
    try {
      text = readFileSync(this.spec.logFile, 'utf8');
    } catch {
      return lines;
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line));
      } catch {
        /* a partial line */
      }
    }
    return lines;
  }

  /** ms after spawn at which the controller logged `msg` (from the line's own time stamp). */
  loggedAt(msg: string): { ms: number; line: Json } | undefined {
    const line = this.logLines().find((l) => l.msg === msg);
    if (!line) return undefined;
    return { ms: Date.parse(line.time) - this.spawnedAtEpoch, line };
  }

  logTail(lines = 5): string {
    try {
      return readFileSync(this.spec.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Writes a heap snapshot (SIGUSR2) and waits for the file; resolves with its path. */
  async heapSnapshot(timeoutMs = 120_000): Promise<string | undefined> {
    const dir = this.spec.heapSnapshotDir;
    if (!dir || !this.alive) return undefined;
    const before = new Set(existsSync(dir) ? readdirSync(dir) : []);
    this.proc.kill('SIGUSR2');
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      await sleep(500);
      const fresh = readdirSync(dir).filter((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
      // The file grows while it is written; the process answers HTTP again when it is done.
      if (
        fresh.length > 0 &&
        (await httpGet(`${this.url}/healthz`, 1000).then(
          (r) => r.status === 200,
          () => false,
        ))
      )
        return join(dir, fresh[0]!);
    }
    return undefined;
  }

  /** SIGTERM; resolves with the exit and how long it took. */
  async stop(timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const t0 = performance.now();
    if (this.alive) this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.alive && this.proc.kill('SIGKILL'), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    return { ...result, ms: performance.now() - t0 };
  }
}
