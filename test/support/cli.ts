/**
 * Running the BUILT CLI (dist/cli/main.js) as a child process: every call has a hard timeout,
 * every child is tracked so that afterAll can kill what is left, and temp dirs are removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** For beforeAll: the tests run the build, not the sources. */
export function requireBuild(): void {
  if (!existsSync(CLI))
    throw new Error(`${CLI} does not exist: run npm run build before the cli tests (npm test does)`);
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  stdin?: string;
  cwd?: string;
  /** The script to run instead of dist/cli/main.js (e.g. a symlink to it). */
  script?: string;
  timeoutMs?: number;
}

const children = new Set<ChildProcess>();

/**
 * The environment of the CLI: without jest's NODE_OPTIONS, and without any cluster (no
 * KUBECONFIG, not in-cluster), so that no test depends on the cluster of whoever runs it.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
  for (const name of ['NODE_OPTIONS', 'KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT'])
    delete env[name];
  return env;
}

/** Starts the CLI; the caller owns the process (it is killed in {@link killAll} if still running). */
export function start(
  args: string[],
  { cwd, script = CLI, env }: { cwd?: string; script?: string; env?: Record<string, string> } = {},
): ChildProcess {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: cwd ?? REPO,
    env: { ...childEnv(), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs the CLI to completion; rejects (after SIGKILL) if it takes longer than timeoutMs. */
export function run(args: string[], { stdin, timeoutMs = 15_000, ...opts }: RunOptions = {}): Promise<Run> {
  const child = start(args, opts);
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `k8s-watch-policy ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin!.on('error', () => {}); // the CLI may exit before reading all of stdin
    child.stdin!.end(stdin ?? '');
  });
}

/** Waits for a started child to exit. */
export function exited(
  child: ChildProcess,
  timeoutMs = 10_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`process ${child.pid} did not exit within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** For afterAll: kills every child still running. */
export async function killAll(): Promise<void> {
  const left = [...children];
  for (const child of left) child.kill('SIGKILL');
  await Promise.all(left.map((c) => exited(c, 5000).catch(() => undefined)));
}

export async function tempDir(
  prefix: string,
): Promise<{ dir: string; file: (name: string, content: string) => Promise<string>; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `kwp-cli-${prefix}-`));
  return {
    dir,
    file: async (name, content) => {
      const path = join(dir, name);
      await writeFile(path, content);
      return path;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The documents of a multi-document YAML text, as plain values (parse errors fail). */
export function yamlDocs(text: string): unknown[] {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return [];
  for (const d of docs) if (d.errors.length > 0) throw new Error(`output is not valid YAML: ${d.errors[0]!.message}`);
  return docs.map((d) => d.toJS() as unknown);
}

/** stderr as lines (without the final newline); [] when empty. */
export function lines(text: string): string[] {
  if (text === '') return [];
  expectTrailingNewline(text);
  return text.slice(0, -1).split('\n');
}

function expectTrailingNewline(text: string): void {
  if (!text.endsWith('\n')) throw new Error(`output does not end with a newline: ${JSON.stringify(text)}`);
}

/** JSON.stringify with a trailing newline, for JSON input files. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
