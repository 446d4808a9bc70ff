/**
 * What happened during a soak, in the order the soak saw it: workload actions, faults, process
 * exits, observations and violations. Times are the soak's own monotonic clock (ms since the
 * start): they order and measure what this process did, never compare with another clock.
 */
import type { FaultClass } from './schedule.ts';

export interface HistoryEvent {
  seq: number;
  /** ms since the soak started, on its monotonic clock. */
  t: number;
  kind: string;
  detail: string;
}

export const INVARIANTS = [
  'single-watcher-label',
  'leader-only-writes',
  'convergence',
  'admission',
  'informers',
  'processes',
  'memory',
] as const;
export type Invariant = (typeof INVARIANTS)[number];

export interface Violation {
  invariant: Invariant;
  message: string;
  /** The history event it was recorded as. */
  seq: number;
  /** The fault in progress (or last injected) when it was found. */
  fault: FaultClass | undefined;
}

export class History {
  readonly events: HistoryEvent[] = [];
  readonly violations: Violation[] = [];
  /** The fault in progress, or the last one injected. */
  currentFault: FaultClass | undefined;

  private readonly now: () => number;

  constructor(now: () => number) {
    this.now = now;
  }

  add(kind: string, detail: string): HistoryEvent {
    const event = { seq: this.events.length, t: Math.round(this.now()), kind, detail };
    this.events.push(event);
    return event;
  }

  violation(invariant: Invariant, message: string): Violation {
    const event = this.add('VIOLATION', `${invariant}: ${message}`);
    const v = { invariant, message, seq: event.seq, fault: this.currentFault };
    this.violations.push(v);
    return v;
  }

  /** The events around `seq`: `before` earlier ones, the event, `after` later ones. */
  around(seq: number, before = 25, after = 5): HistoryEvent[] {
    return this.events.slice(Math.max(0, seq - before), seq + after + 1);
  }
}

export function formatEvent(e: HistoryEvent): string {
  return `${(e.t / 1000).toFixed(3).padStart(9)} s  #${String(e.seq).padEnd(5)} ${e.kind.padEnd(14)} ${e.detail}`;
}
