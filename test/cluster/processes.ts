/**
 * Background processes of the local cluster: started detached with their output in
 * .cluster/logs/<name>.log and their pid in .cluster/pids/<name>.pid, and stopped by exactly
 * those pids (after checking that the pid still runs our binary, since pids are reused).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_DIR, PID_DIR } from './paths.ts';

/**
 * `prefix`: a command that execs the binary in the same process after changing its surroundings
 * (`nsenter --net=... --`: the real node's network namespace); the pid is the binary's all the same.
 */
export function startProcess(
  name: string,
  binary: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  prefix: readonly string[] = [],
): number {
  mkdirSync(LOG_DIR, { recursive: true });
  mkdirSync(PID_DIR, { recursive: true });
  const out = openSync(join(LOG_DIR, `${name}.log`), 'a');
  const [command, ...commandArgs] = [...prefix, binary, ...args];
  const child = spawn(command!, commandArgs, { detached: true, stdio: ['ignore', out, out], env });
  closeSync(out);
  if (child.pid === undefined) throw new Error(`cannot start ${name} (${binary})`);
  child.unref();
  writeFileSync(join(PID_DIR, `${name}.pid`), `${child.pid}\n${binary}\n`);
  return child.pid;
}

interface PidFile {
  name: string;
  pid: number;
  binary: string;
}

function readPidFile(name: string): PidFile | undefined {
  const file = join(PID_DIR, `${name}.pid`);
  if (!existsSync(file)) return undefined;
  const [pid, binary] = readFileSync(file, 'utf8').split('\n');
  return { name, pid: Number(pid), binary: binary ?? '' };
}

/**
 * Whether a process, seen through its /proc/<pid>/cmdline and /proc/<pid>/stat, runs `binary`
 * (false for a dead, zombie or reused pid), or still runs the nsenter that is about to exec it.
 * An empty cmdline with a live, user-space stat is a process inside execve: the kernel has
 * swapped in the new program but not yet set its arguments. nsenter → containerd passes through
 * that instant, and reading it as "exited" failed a run on a loaded machine.
 */
export function processRuns(cmdline: string, stat: string | undefined, binary: string): boolean {
  const argv = cmdline.split('\0');
  if (argv[0] === binary || (argv[0]!.endsWith('nsenter') && argv.includes(binary))) return true;
  if (cmdline !== '' || stat === undefined) return false;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [state, flags] = [fields[0], Number(fields[6])];
  const KERNEL_THREAD = 0x00200000; // PF_KTHREAD: a pid reused by a kernel thread also has no cmdline
  return state !== 'Z' && state !== 'X' && (flags & KERNEL_THREAD) === 0;
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

function runs({ pid, binary }: PidFile): boolean {
  const cmdline = readProc(pid, 'cmdline');
  return cmdline !== undefined && processRuns(cmdline, readProc(pid, 'stat'), binary);
}

export function isRunning(name: string): boolean {
  const file = readPidFile(name);
  return file !== undefined && runs(file);
}

export function runningPid(name: string): number | undefined {
  const file = readPidFile(name);
  return file && runs(file) ? file.pid : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL after `graceMs`; removes the pid file. */
export async function stopProcess(name: string, graceMs = 10_000): Promise<boolean> {
  const file = readPidFile(name);
  if (!file) return false;
  let stopped = false;
  if (runs(file)) {
    process.kill(file.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (runs(file) && Date.now() < deadline) await sleep(100);
    if (runs(file)) process.kill(file.pid, 'SIGKILL');
    while (runs(file)) await sleep(50);
    stopped = true;
  }
  rmSync(join(PID_DIR, `${name}.pid`), { force: true });
  return stopped;
}

function logTail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Polls `check` until true; fails at once, with the end of its log, when the process `name` has died. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  name?: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const logFile = name && join(LOG_DIR, `${name}.log`);
  while (
    !(await Promise.resolve()
      .then(check)
      .catch(() => false))
  ) {
    if (name && !isRunning(name))
      throw new Error(`${name} exited while waiting for ${what}; ${logFile}:\n${logTail(logFile!)}`);
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${logFile ? `; see ${logFile}` : ''}`);
    await sleep(200);
  }
}

export function pidFileNames(): string[] {
  return existsSync(PID_DIR)
    ? readdirSync(PID_DIR)
        .filter((f) => f.endsWith('.pid'))
        .map((f) => f.slice(0, -4))
    : [];
}
