/**
 * One replica of the product (a webhook or a controller process of the built CLI), supervised:
 * started, killed, paused, resumed and stopped by the soak, its output appended to a log file,
 * its RSS read from /proc, its exits reported (the soak restarts a replica that exits on its own).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { sleep } from '../support/wait.ts';

/** The built CLI (npm run soak builds it first). */
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface Exit {
  replica: string;
  incarnation: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Whether the soak asked for it (a SIGKILL fault, the final SIGTERM). */
  requested: boolean;
}

export interface ReplicaOptions {
  name: string;
  role: 'webhook' | 'controller';
  args: string[];
  logFile: string;
  /** The readiness URL (`/readyz`), and the CA when it is HTTPS. */
  readyUrl: string;
  ca?: string;
  /** The port it serves on (the webhook's HTTPS port). */
  port: number;
  /** Plain-HTTP GET /metrics, and the controller's GET /status. */
  metricsUrl: string;
  statusUrl?: string;
  onExit: (exit: Exit) => void;
}

export class Replica {
  child: ChildProcess | undefined;
  incarnation = 0;
  paused = false;
  private requested = false;
  private exited: Promise<Exit> | undefined;

  readonly o: ReplicaOptions;

  constructor(o: ReplicaOptions) {
    this.o = o;
  }

  get name(): string {
    return this.o.name;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    this.incarnation++;
    this.requested = false;
    this.paused = false;
    const out = openSync(this.o.logFile, 'a');
    // A process group of its own: a SIGSTOPped replica in the soak's group would get SIGHUP from the
    // kernel when that group is orphaned (the shell that started the soak exits); Ctrl-C reaches the
    // soak alone, which stops the replicas itself.
    const child = spawn(process.execPath, [CLI, this.o.role, ...this.o.args], {
      stdio: ['ignore', out, out],
      detached: true,
    });
    closeSync(out);
    this.child = child;
    const incarnation = this.incarnation;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        const exit = { replica: this.name, incarnation, code, signal, requested: this.requested };
        resolve(exit);
        this.o.onExit(exit);
      }),
    );
  }

  async ready(timeoutMs = 60_000): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (!this.running) return false;
      if (await this.probe()) return true;
      await sleep(200);
    }
    return false;
  }

  private probe(): Promise<boolean> {
    if (!this.o.ca)
      return fetch(this.o.readyUrl, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      );
    return new Promise((resolve) => {
      const req = request(this.o.readyUrl, { ca: this.o.ca, agent: false, timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  }

  /** Sends a signal the soak means (the exit it causes is not reported as unexpected). */
  async kill(signal: NodeJS.Signals): Promise<Exit | undefined> {
    if (!this.running || !this.exited) return undefined;
    this.requested = true;
    if (this.paused) this.child!.kill('SIGCONT');
    this.child!.kill(signal);
    return this.exited;
  }

  pause(): void {
    if (this.running) {
      this.child!.kill('SIGSTOP');
      this.paused = true;
    }
  }

  resume(): void {
    if (this.running) this.child!.kill('SIGCONT');
    this.paused = false;
  }

  /** VmRSS from /proc, bytes; undefined when not running. */
  rssBytes(): number | undefined {
    const pid = this.pid;
    if (pid === undefined) return undefined;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }
}
