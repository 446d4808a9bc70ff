/** The built CLI as child processes: how suites start, query and stop them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './free_port.ts';
import { eventually } from './wait.ts';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Signals a child process and resolves with its exit code once it has exited (at once if it has). */
export function terminate(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child?.exitCode ?? null);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  return exited;
}

/**
 * `k8s-watch-policy controller` with the given flags, its status server on a free loopback port
 * (kept across restarts), ready once its caches have synced.
 */
export class ControllerProcess {
  child: ChildProcess | undefined;
  output = '';
  port = 0;

  constructor(
    private readonly args: string[],
    readonly name = 'the controller',
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port ||= await freePort();
    this.output = '';
    this.child = spawn(
      process.execPath,
      [CLI, 'controller', ...this.args, '--host', '127.0.0.1', '--metrics-port', String(this.port)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout!.on('data', (c: Buffer) => (this.output += c));
    this.child.stderr!.on('data', (c: Buffer) => (this.output += c));
    await eventually(
      `${this.name} ready`,
      async () =>
        (await fetch(`${this.url}/readyz`).then(
          (r) => r.ok,
          () => false,
        )) || undefined,
      30_000,
    );
  }

  async status(): Promise<any> {
    return (await fetch(`${this.url}/status`)).json();
  }

  async metrics(): Promise<string> {
    return (await fetch(`${this.url}/metrics`)).text();
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    return terminate(this.child, signal);
  }
}
