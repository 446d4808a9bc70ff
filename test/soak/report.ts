/** The soak's result: a table per fault class for the terminal and the same as JSON (pure). */
import type { Violation } from './history.ts';
import { FAULT_CLASSES, type FaultClass } from './schedule.ts';

export interface FaultResult {
  class: FaultClass;
  /** From the end of the fault (restart, SIGCONT, restore) to the first check that held, ms; undefined when it never did. */
  convergeMs: number | undefined;
}

export interface ClassRow {
  class: FaultClass | 'none';
  count: number;
  converged: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  maxMs: number | undefined;
  violations: number;
}

/** The nearest-rank percentile of a non-empty list. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function classRows(results: readonly FaultResult[], violations: readonly Violation[]): ClassRow[] {
  const rows: ClassRow[] = FAULT_CLASSES.map((cls) => {
    const mine = results.filter((r) => r.class === cls);
    const times = mine.map((r) => r.convergeMs).filter((t): t is number => t !== undefined);
    return {
      class: cls,
      count: mine.length,
      converged: times.length,
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
      maxMs: times.length ? Math.max(...times) : undefined,
      violations: violations.filter((v) => v.fault === cls).length,
    };
  });
  const unattributed = violations.filter((v) => v.fault === undefined).length;
  rows.push({
    class: 'none',
    count: 0,
    converged: 0,
    p50Ms: undefined,
    p99Ms: undefined,
    maxMs: undefined,
    violations: unattributed,
  });
  return rows;
}

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));

export function formatTable(rows: readonly ClassRow[]): string {
  const header = ['fault class', 'count', 'converged', 'p50 s', 'p99 s', 'max s', 'violations'];
  const body = rows.map((r) => [
    r.class === 'none' ? '(before any fault)' : r.class,
    String(r.count),
    String(r.converged),
    seconds(r.p50Ms),
    seconds(r.p99Ms),
    seconds(r.maxMs),
    String(r.violations),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export interface SoakReport {
  seed: number;
  minutes: number;
  durationS: number;
  passed: boolean;
  classes: ClassRow[];
  faults: FaultResult[];
  violations: Violation[];
  /** Counts of what the workload and the checks did. */
  counters: Record<string, number>;
  /** RSS per process (key `replica#incarnation`), MiB. */
  memory: Record<string, IncarnationMemory>;
}

/** One process's RSS samples, summed up (MiB). */
export interface IncarnationMemory {
  samples: number;
  firstMiB: number;
  lastMiB: number;
  maxMiB: number;
}

export interface ReplicaMemory {
  replica: string;
  incarnations: number;
  samples: number;
  /** The highest RSS any incarnation reached, MiB. */
  maxMiB: number;
  /** The incarnation sampled most often (the longest-lived): where a leak would show. */
  longest: { key: string; samples: number; firstMiB: number; lastMiB: number };
}

/**
 * The per-incarnation memory (keys `replica#incarnation`) summed up per replica, in name order:
 * a replica restarted 50 times by the faults is one line, not 50.
 */
export function memoryByReplica(memory: Record<string, IncarnationMemory>): ReplicaMemory[] {
  const byReplica = new Map<string, [string, IncarnationMemory][]>();
  for (const [key, m] of Object.entries(memory)) {
    const replica = key.replace(/#[^#]*$/, '');
    if (!byReplica.has(replica)) byReplica.set(replica, []);
    byReplica.get(replica)!.push([key, m]);
  }
  return [...byReplica.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([replica, list]) => {
      const [key, m] = list.reduce((best, x) => (x[1].samples > best[1].samples ? x : best));
      return {
        replica,
        incarnations: list.length,
        samples: list.reduce((n, [, x]) => n + x.samples, 0),
        maxMiB: Math.max(...list.map(([, x]) => x.maxMiB)),
        longest: { key, samples: m.samples, firstMiB: m.firstMiB, lastMiB: m.lastMiB },
      };
    });
}

export function formatMemory(rows: readonly ReplicaMemory[]): string {
  return rows
    .map(
      (r) =>
        `  rss ${r.replica}: max ${r.maxMiB} MiB over ${r.incarnations} process(es), ${r.samples} samples; longest-lived ${r.longest.key}: ${r.longest.firstMiB} -> ${r.longest.lastMiB} MiB (${r.longest.samples} samples)`,
    )
    .join('\n');
}

export function formatCounters(counters: Record<string, number>): string {
  return Object.entries(counters)
    .map(([k, v]) => `${k}=${v}`)
    .join('  ');
}
