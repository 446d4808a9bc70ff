/**
 * /proc readings: a process's memory and CPU, the local cluster's processes (by their pid
 * files), and the whole machine, so that the CPU the benchmark did not get ("other") is known;
 * and a command run to its end with its wall time and peak RSS.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* the Linux default */
}

/** A field of /proc/<pid>/status in MB (VmRSS, VmHWM, ...); undefined when the process is gone. */
export function procStatusMb(pid: number, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime of a process, in seconds (0 when it is gone). */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return 0;
  }
}

/** Busy and total jiffies of the whole machine. */
function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

/** The pids of the local cluster's components (etcd, kube-apiserver, ..., kwok). */
export function clusterPids(clusterDir: string): Map<string, number> {
  const dir = join(clusterDir, 'pids');
  const pids = new Map<string, number>();
  if (!existsSync(dir)) return pids;
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.pid')) continue;
    const pid = Number(readFileSync(join(dir, f), 'utf8').split('\n', 1)[0]);
    if (Number.isInteger(pid) && pid > 0) pids.set(f.slice(0, -4), pid);
  }
  return pids;
}

/** A running cluster component's `--flag=value`, from its command line; undefined when unknown. */
export function componentFlag(clusterDir: string, component: string, flag: string): string | undefined {
  const pid = clusterPids(clusterDir).get(component);
  if (pid === undefined) return undefined;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.find((a) => a.startsWith(`--${flag}=`))?.slice(flag.length + 3);
  } catch {
    return undefined;
  }
}

export interface CpuSample {
  t: number;
  controller: number;
  bench: number;
  cluster: number;
  machine: { busy: number; total: number };
}

/** CPU seconds so far of the controller processes, this process, and the cluster. */
export function cpuSample(controllerPids: readonly number[], clusterDir: string): CpuSample {
  const bench = process.cpuUsage();
  let cluster = 0;
  for (const pid of clusterPids(clusterDir).values()) cluster += procCpuSeconds(pid);
  return {
    t: performance.now(),
    controller: controllerPids.reduce((s, pid) => s + procCpuSeconds(pid), 0),
    bench: (bench.user + bench.system) / 1e6,
    cluster,
    machine: machineJiffies(),
  };
}

export interface CpuCores {
  seconds: number;
  controller: number;
  bench: number;
  cluster: number;
  /** Everything else on the machine: other people's work. */
  other: number;
}

/** Cores used between two samples (1.0 = one core busy the whole time). */
export function cpuBetween(a: CpuSample, b: CpuSample): CpuCores {
  const seconds = (b.t - a.t) / 1000;
  const controller = (b.controller - a.controller) / seconds;
  const bench = (b.bench - a.bench) / seconds;
  const cluster = (b.cluster - a.cluster) / seconds;
  const machine =
    ((b.machine.busy - a.machine.busy) / Math.max(1, b.machine.total - a.machine.total)) * availableParallelism();
  return { seconds, controller, bench, cluster, other: Math.max(0, machine - controller - bench - cluster) };
}

/** Process groups of the children measureChild runs, for an exit handler to kill (`process.kill(-pgid)`). */
export const childGroups = new Set<number>();

let gnuTime: boolean | undefined;

/** Whether /usr/bin/time is GNU time (`-f %M -o FILE`: the child's peak RSS). */
function hasGnuTime(): boolean {
  if (gnuTime === undefined) {
    try {
      execFileSync('/usr/bin/time', ['-f', '%M', '-o', '/dev/null', 'true'], { stdio: 'ignore', timeout: 5000 });
      gnuTime = true;
    } catch {
      gnuTime = false;
    }
  }
  return gnuTime;
}

export interface ChildRun {
  code: number | null;
  signal: string | null;
  wallMs: number;
  /** The child's peak RSS, MB: GNU time's %M (its getrusage), else VmHWM read every 20 ms. */
  peakRssMb: number | undefined;
  rssBy: 'time' | 'poll';
  stdoutBytes: number;
  /** The first 4 KB of stdout. */
  stdoutHead: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs a command to its end and measures it: wall time from spawn to exit and peak RSS (under
 * GNU time when the machine has it). Killed (its whole process group) after `timeoutMs`.
 */
export function measureChild(
  command: string,
  args: string[],
  { timeoutMs, env = {} }: { timeoutMs: number; env?: Record<string, string> },
): Promise<ChildRun> {
  const viaTime = hasGnuTime();
  const out = viaTime ? join(mkdtempSync(join(tmpdir(), 'kwp-time-')), 'rss') : undefined;
  const [cmd, argv] = viaTime ? ['/usr/bin/time', ['-f', '%M', '-o', out!, command, ...args]] : [command, args];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
      detached: true,
    });
    if (child.pid === undefined) return reject(new Error(`cannot spawn ${command}`));
    const pid = child.pid;
    childGroups.add(pid);
    let stdoutBytes = 0;
    let stdoutHead = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdoutBytes += d.length;
      if (stdoutHead.length < 4096) stdoutHead += d.toString('utf8').slice(0, 4096 - stdoutHead.length);
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 8192) stderr += d.toString('utf8');
    });
    let polled: number | undefined;
    const poll = viaTime
      ? undefined
      : setInterval(() => {
          const hwm = procStatusMb(pid, 'VmHWM');
          if (hwm !== undefined) polled = Math.max(polled ?? 0, hwm);
        }, 20);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const wallMs = performance.now() - t0;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      childGroups.delete(pid);
      let peakRssMb = polled;
      let exitCode: number | null = code;
      let exitSignal: string | null = signal;
      if (out) {
        // GNU time: "Command exited with non-zero status N" / "Command terminated by signal N", then %M.
        const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
        rmSync(dirname(out), { recursive: true, force: true });
        const lines = text.trim().split('\n');
        const kb = Number(lines.at(-1));
        peakRssMb = Number.isFinite(kb) && kb > 0 ? kb / 1024 : undefined;
        const bySignal = /terminated by signal (\d+)/.exec(text);
        if (bySignal) {
          exitCode = null;
          exitSignal = `signal ${bySignal[1]}`;
        }
      }
      resolve({
        code: exitCode,
        signal: exitSignal,
        wallMs,
        peakRssMb,
        rssBy: viaTime ? 'time' : 'poll',
        stdoutBytes,
        stdoutHead,
        stderr,
        timedOut,
      });
    });
  });
}
