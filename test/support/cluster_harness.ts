/** What the end-to-end tests share: kubectl against the local cluster, a webhook process, waiting. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readState } from '../cluster/cluster.ts';
import { KUBECONFIG } from '../cluster/paths.ts';
import { freePort } from './free_port.ts';
import { CLI, terminate } from './processes.ts';
import { eventually, sleep } from './wait.ts';

// The suites take these from here; they live in test/support/.
export { CLI, eventually, freePort, sleep, terminate };

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * kubectl and the kubeconfig: the local cluster's, or with KWP_RELEASE_NAMESPACE set (the release
 * suite against a real cluster, npm run e2e:kind) $KUBECTL or the one on PATH, and $KUBECONFIG.
 */
function kubectlCommand(): [string, string] {
  if (process.env.KWP_RELEASE_NAMESPACE) {
    if (!process.env.KUBECONFIG)
      throw new Error('KWP_RELEASE_NAMESPACE is set: KUBECONFIG must name the cluster of the release');
    return [process.env.KUBECTL ?? 'kubectl', process.env.KUBECONFIG];
  }
  const state = readState();
  if (!state) throw new Error('the local cluster is not up (global setup did not run?)');
  return [join(state.bin, 'kubectl'), KUBECONFIG];
}

export function kubectl(args: string[], input?: string): Run {
  const [bin, kubeconfig] = kubectlCommand();
  const r = spawnSync(bin, ['--kubeconfig', kubeconfig, ...args], { input, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

/** kubectl without blocking the event loop: needed while this process itself serves a webhook. */
export function kubectlAsync(args: string[], input?: string): Promise<Run> {
  let command: [string, string];
  try {
    command = kubectlCommand();
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], ['--kubeconfig', command[1], ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** kubectl that must succeed; returns stdout. */
export function kubectlOk(args: string[], input?: string): string {
  const r = kubectl(args, input);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

export function getJson<T = any>(args: string[]): T {
  return JSON.parse(kubectlOk([...args, '-o', 'json'])) as T;
}

export function apply(objects: unknown[]): string {
  return kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
}

/** The webhook as a user runs it: the built CLI, with certificates from `k8s-watch-policy certs`. */
export class WebhookProcess {
  child: ChildProcess | undefined;
  readonly certDir = mkdtempSync(join(tmpdir(), 'kwp-e2e-certs-'));
  port = 0;
  metricsPort = 0;
  output = '';

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Writes a CA and a serving certificate of `days` (default: the CLI's 365); returns the CA's file. */
  async makeCertificates(days?: number): Promise<string> {
    const validity = days === undefined ? [] : ['--days', String(days)];
    const r = spawnSync(
      process.execPath,
      [CLI, 'certs', '--out', this.certDir, '--dns', 'localhost,127.0.0.1', ...validity],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`certs failed: ${r.stderr}`);
    return join(this.certDir, 'ca.crt');
  }

  async start(extraArgs: string[] = []): Promise<void> {
    this.port ||= await freePort();
    this.metricsPort ||= await freePort();
    const args = [
      CLI,
      'webhook',
      '--kubeconfig',
      KUBECONFIG,
      '--cert-dir',
      this.certDir,
      '--host',
      '127.0.0.1',
      '--port',
      String(this.port),
      '--metrics-port',
      String(this.metricsPort),
      '--drain-delay',
      '0',
      ...extraArgs,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (this.output += c.toString()));
    const ca = await import('node:fs').then((fs) => fs.readFileSync(join(this.certDir, 'ca.crt'), 'utf8'));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`webhook exited (${child.exitCode}): ${this.output}`);
      const ready = await new Promise<boolean>((resolve) => {
        const req = request(`${this.url}/readyz`, { ca, agent: false, timeout: 1000 }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('error', () => resolve(false));
        req.on('timeout', () => req.destroy());
        req.end();
      });
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`webhook not ready within 30 s: ${this.output}`);
      await sleep(100);
    }
  }

  stop(): Promise<number | null> {
    return terminate(this.child);
  }

  cleanup(): void {
    rmSync(this.certDir, { recursive: true, force: true });
  }
}
