/** A watch on the controller's watcher Lease: every version's holder, time-stamped on arrival. */
import type { Kube } from '../kube.ts';

export interface LeaseEvent {
  at: number;
  /** `namespace/name` of the watcher pod, undefined when the Lease names none (or is gone). */
  holder: string | undefined;
}

export class LeaseWatch {
  readonly events: LeaseEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private stopWatch: (() => void) | undefined;

  get holder(): string | undefined {
    return this.events.at(-1)?.holder;
  }

  async start(kube: Kube, namespace: string, name: string): Promise<void> {
    const w = kube.watch(
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
      { fieldSelector: `metadata.name=${name}` },
      (e) => {
        this.events.push({
          at: e.at,
          holder: e.type === 'DELETED' ? undefined : (e.object?.spec?.holderIdentity ?? undefined),
        });
        for (const wake of [...this.waiters]) wake();
        this.waiters.clear();
      },
    );
    this.stopWatch = w.stop;
    await w.ready;
  }

  /** The first event from index `from` on that `probe` accepts, waiting for it up to `timeoutMs`. */
  async next(what: string, from: number, probe: (e: LeaseEvent) => boolean, timeoutMs: number): Promise<LeaseEvent> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(probe);
      if (found) return found;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => (this.waiters.delete(wake), resolve()), Math.min(left, 1000));
        const wake = () => (clearTimeout(timer), resolve());
        this.waiters.add(wake);
      });
    }
  }

  stop(): void {
    this.stopWatch?.();
  }
}
