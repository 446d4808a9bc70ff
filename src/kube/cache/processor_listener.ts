/**
 * One event handler of a shared informer with its own queue (client-go's processorListener in
 * shared_informer.go). The informer only enqueues; each listener delivers its queue in order, on
 * its own, so that a handler that throws is logged and skipped, and a slow (async) handler delays
 * nobody but itself. The queue is unbounded, as in client-go: a handler that never returns makes
 * its own queue grow, which is logged.
 */
import type { Logger } from '../../log.ts';
import type { DeletedFinalStateUnknown } from './deltas.ts';

/**
 * What a consumer of a shared informer implements (client-go ResourceEventHandler). Handlers may
 * be async: the next event for the same handler waits for the returned promise.
 */
export interface EventHandler<T> {
  add?(obj: T): void | Promise<void>;
  update?(oldObj: T, newObj: T): void | Promise<void>;
  /** The final state from the DELETED event, or a tombstone when the deletion happened unseen. */
  delete?(obj: T | DeletedFinalStateUnknown<T>): void | Promise<void>;
}

export type Notification<T> =
  | { type: 'add'; key: string; obj: T }
  | { type: 'update'; key: string; oldObj: T; obj: T }
  | { type: 'delete'; key: string; obj: T | DeletedFinalStateUnknown<T> };

export interface ListenerOptions {
  /** Warn when one call has not returned after this long (default 10 s). */
  slowHandlerMs?: number;
  /** Yield to the event loop after this many synchronous calls in a row (default 100). */
  batch?: number;
}

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class ProcessorListener<T> {
  private queue: (Notification<T> | undefined)[] = [];
  private head = 0;
  private draining = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** Notifications enqueued so far. */
  enqueued = 0;
  /** Notifications delivered (or failed) so far. */
  delivered = 0;
  failures = 0;

  constructor(
    readonly handler: EventHandler<T>,
    private readonly logger: Logger,
    private readonly options: ListenerOptions = {},
  ) {}

  get pending(): number {
    return this.queue.length - this.head;
  }

  enqueue(notification: Notification<T>): void {
    if (this.stopped) return;
    this.queue.push(notification);
    this.enqueued++;
    if (!this.draining) {
      this.draining = true;
      // Never call a handler from inside the informer's own processing.
      setImmediate(() => void this.drain());
    }
  }

  /** Drops whatever is queued; no further call is made. */
  stop(): void {
    this.stopped = true;
    this.queue = [];
    this.head = 0;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Resolves when everything enqueued so far has been delivered (or the listener stopped). */
  whenIdle(): Promise<void> {
    if (this.stopped || (!this.draining && this.pending === 0)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    const batch = this.options.batch ?? 100;
    let syncCalls = 0;
    while (!this.stopped && this.head < this.queue.length) {
      const notification = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      try {
        const result = this.call(notification);
        if (isPromiseLike(result)) {
          syncCalls = 0;
          await this.awaitHandler(result, notification);
        }
      } catch (err) {
        this.failed(err, notification);
      }
      this.delivered++;
      if (++syncCalls >= batch) {
        syncCalls = 0;
        await yieldToEventLoop();
      }
    }
    this.draining = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private call(n: Notification<T>): void | Promise<void> {
    const h = this.handler;
    switch (n.type) {
      case 'add':
        return h.add?.(n.obj);
      case 'update':
        return h.update?.(n.oldObj, n.obj);
      case 'delete':
        return h.delete?.(n.obj);
    }
  }

  private async awaitHandler(result: PromiseLike<unknown>, n: Notification<T>): Promise<void> {
    const slowMs = this.options.slowHandlerMs ?? 10_000;
    const started = Date.now();
    const warn = setInterval(() => {
      this.logger.warn(
        { event: n.type, key: n.key, pending: this.pending, busyMs: Date.now() - started },
        'event handler is slow; its events are queued (other handlers are not delayed)',
      );
    }, slowMs);
    warn.unref();
    try {
      await result;
    } catch (err) {
      this.failed(err, n);
    } finally {
      clearInterval(warn);
    }
  }

  private failed(err: unknown, n: Notification<T>): void {
    this.failures++;
    this.logger.error(
      {
        err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err),
        event: n.type,
        key: n.key,
      },
      'event handler failed; continuing with the next event',
    );
  }
}
