/**
 * The fault plan, a pure function of the seed: which fault comes next, how long it holds and how
 * long the workload runs alone before it. The first faults are every class once, in an order the
 * seed shuffles, so that even a short run injects each class; the rest are drawn from the seed.
 */
import { rng } from './prng.ts';

export const FAULT_CLASSES = [
  'apiserver-kill',
  'etcd-kill',
  'leader-kill',
  'webhook-kill',
  'leader-pause',
  'leader-network-cut',
  'leader-network-delay',
] as const;
export type FaultClass = (typeof FAULT_CLASSES)[number];

export const FAULT_DESCRIPTIONS: Record<FaultClass, string> = {
  'apiserver-kill': 'SIGKILL of kube-apiserver, restarted with the same command line',
  'etcd-kill': 'SIGKILL of etcd, restarted on its data',
  'leader-kill': 'SIGKILL of the leading controller replica, restarted',
  'webhook-kill': 'SIGKILL of one webhook replica, restarted',
  'leader-pause':
    'SIGSTOP of the leading controller for longer than its lease, then SIGCONT; frozen while it publishes a new election',
  'leader-network-cut':
    "the leading controller's connection to kube-apiserver cut for longer than its lease, then restored",
  'leader-network-delay': "the leading controller's traffic to and from kube-apiserver delayed",
};

export interface Fault {
  /** Position in the plan, from 0. */
  index: number;
  class: FaultClass;
  /** Workload alone before the fault, ms. */
  gapMs: number;
  /** How long the fault lasts: a killed process stays down, a paused one stopped, a cut cut, ms. */
  holdMs: number;
  /** Which webhook replica (webhook-kill), 0 or 1. */
  replica: number;
  /** The added latency each way (leader-network-delay), ms. */
  delayMs: number;
  /**
   * leader-pause: the leader is frozen this long after the soak deleted the watcher pod, i.e. in
   * the middle of publishing the next election (a write it must not finish after waking), ms.
   */
  freezeAfterMs: number;
}

export interface Timing {
  /** The controllers' leader lease duration, ms: a pause or cut outlasts it. */
  leaseMs: number;
}

function hold(cls: FaultClass, leaseMs: number, r: ReturnType<typeof rng>): number {
  switch (cls) {
    case 'leader-pause':
    case 'leader-network-cut':
      return Math.round(leaseMs * 1.5) + r.int(0, leaseMs);
    case 'leader-network-delay':
      return leaseMs * 2 + r.int(0, leaseMs);
    default:
      return r.int(0, 3000);
  }
}

/** `count` faults (at least one of each class first). Deterministic in (seed, timing). */
export function planFaults(seed: number, count: number, { leaseMs }: Timing): Fault[] {
  const r = rng(seed);
  const classes: FaultClass[] = r.shuffle(FAULT_CLASSES);
  while (classes.length < count) classes.push(r.pick(FAULT_CLASSES));
  return classes.map((cls, index) => ({
    index,
    class: cls,
    gapMs: r.int(2000, 8000),
    holdMs: hold(cls, leaseMs, r),
    replica: r.int(0, 1),
    delayMs: cls === 'leader-network-delay' ? r.int(200, 1500) : 0,
    freezeAfterMs: cls === 'leader-pause' ? r.int(0, 400) : 0,
  }));
}

/** Whether the fault at `index` starts: every class once whatever the budget, then while time is left. */
export function startsNext(index: number, elapsedMs: number, budgetMs: number): boolean {
  return index < FAULT_CLASSES.length || elapsedMs < budgetMs;
}
