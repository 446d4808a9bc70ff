/**
 * A shared informer (client-go tools/cache shared_informer.go): one reflector feeding one
 * indexed store, and any number of event handlers, each with its own queue.
 *
 * Every change the reflector reports is applied to the store first, then enqueued, in order, to
 * every handler: a watch event as add/update/delete, a (re)list as the deltas between the store
 * and the list (adds for new keys, updates for changed objects, deletes with a
 * DeletedFinalStateUnknown tombstone for the objects that vanished while the watch was down).
 */
import type { Logger } from '../../log.ts';
import { replaceDeltas, type Delta } from './deltas.ts';
import type { Indexers } from './indexers.ts';
import type { KubeObject } from '../objects.ts';
import { ProcessorListener, type EventHandler, type ListenerOptions, type Notification } from './processor_listener.ts';
import { Reflector } from './reflector.ts';
import type { ListWatchSource, ReflectorStore, ReflectorTuning } from './reflector_options.ts';
import { Store, type Indexer } from './store.ts';

export type { EventHandler } from './processor_listener.ts';
export { DeletedFinalStateUnknown, finalState, isTombstone } from './deltas.ts';

/** Applied to every object before it is stored; it may modify its argument and return it. */
export type TransformFunc<T> = (object: KubeObject) => T;

/** Drops `metadata.managedFields` (often half of an object's size, and read by nobody here). */
export function stripManagedFields<T extends KubeObject>(object: T): T {
  if (object.metadata && 'managedFields' in object.metadata) delete object.metadata.managedFields;
  return object;
}

export type SharedInformerOptions<T> = ListWatchSource &
  ReflectorTuning & {
    logger: Logger;
    /** Default: {@link stripManagedFields}. */
    transform?: TransformFunc<T>;
    indexers?: Indexers<T>;
    /** Default resync period of handlers that do not choose one (0 or absent: no resync). */
    resyncMs?: number;
    listener?: ListenerOptions;
  };

export interface HandlerOptions {
  /**
   * Every `resyncMs`, `update(obj, obj)` for every object in the store (client-go resync): lets
   * a handler retry what it could not do, without waiting for a change. 0: never. Default: the
   * informer's `resyncMs`.
   */
  resyncMs?: number;
}

export interface HandlerRegistration {
  /** Stops the deliveries to this handler; what is queued for it is dropped. */
  remove(): void;
  /** Whether this handler has been handed the informer's initial content (client-go ResourceEventHandlerRegistration.HasSynced). */
  hasSynced(): boolean;
  /** Resolves when this handler has processed everything enqueued for it so far. */
  whenIdle(): Promise<void>;
}

interface Registered<T> {
  listener: ProcessorListener<T>;
  resync: NodeJS.Timeout | undefined;
  /** `listener.enqueued` once the initial content was enqueued; undefined until then. */
  initialMark: number | undefined;
}

export class SharedInformer<T> {
  /** The informer's store. Read it, never write it. */
  readonly indexer: Indexer<T>;
  readonly reflector: Reflector<T>;
  readonly transform: TransformFunc<T>;
  readonly resyncMs: number;
  private readonly store: Store<T>;
  private readonly log: Logger;
  private readonly handlers = new Set<Registered<T>>();
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: SharedInformerOptions<T>) {
    this.store = new Store<T>(options.indexers);
    this.indexer = this.store;
    this.transform = options.transform ?? (stripManagedFields as unknown as TransformFunc<T>);
    this.resyncMs = options.resyncMs ?? 0;
    const sink: ReflectorStore<T> = {
      add: (key, obj) => this.upsert(key, obj),
      update: (key, obj) => this.upsert(key, obj),
      delete: (key, obj) => this.apply({ type: 'deleted', key, obj }),
      replace: (items) => this.replace(items),
    };
    this.reflector = new Reflector<T>({ ...options, store: sink, transform: this.transform });
    this.log = options.logger.child({ informer: this.reflector.listerWatcher.description });
  }

  /** Adds indexes (the objects already stored are filed at once). */
  addIndexers(indexers: Indexers<T>): void {
    this.store.addIndexers(indexers);
  }

  /**
   * Registers a handler. It gets an add for every object already in the store (synthetic adds,
   * like client-go), then every change from then on, in order.
   */
  addEventHandler(handler: EventHandler<T>, options: HandlerOptions = {}): HandlerRegistration {
    const listener = new ProcessorListener<T>(handler, this.log, this.options.listener);
    if (this.stopped) {
      this.log.warn('event handler not added: the informer is stopped');
      return { remove: () => {}, hasSynced: () => false, whenIdle: () => Promise.resolve() };
    }
    const registered: Registered<T> = { listener, resync: undefined, initialMark: undefined };
    for (const [key, obj] of this.store.entries()) listener.enqueue({ type: 'add', key, obj });
    if (this.reflector.hasSynced) registered.initialMark = listener.enqueued;
    const resyncMs = options.resyncMs ?? this.resyncMs;
    if (resyncMs > 0) {
      registered.resync = setInterval(() => this.resync(listener), resyncMs);
      registered.resync.unref();
    }
    this.handlers.add(registered);
    return {
      remove: () => {
        if (!this.handlers.delete(registered)) return;
        clearInterval(registered.resync);
        listener.stop();
      },
      hasSynced: () => registered.initialMark !== undefined && listener.delivered >= registered.initialMark,
      whenIdle: () => listener.whenIdle(),
    };
  }

  /** Whether the first list is in the store. */
  hasSynced(): boolean {
    return this.reflector.hasSynced;
  }

  /** Resolves with true once synced; false if the informer stops or `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    return this.reflector.waitForSync(signal);
  }

  /** The resourceVersion of the last list, event or bookmark. */
  get lastSyncResourceVersion(): string {
    return this.reflector.lastSyncResourceVersion;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Starts the list+watch (idempotent); the promise settles when the informer stops. */
  run(): Promise<void> {
    if (this.stopped) return this.running ?? Promise.resolve();
    this.running ??= this.reflector.run();
    return this.running;
  }

  start(): void {
    void this.run();
  }

  /** Stops the list+watch and every handler's deliveries; resolves when the reflector has ended. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.reflector.stop();
      for (const { listener, resync } of this.handlers) {
        clearInterval(resync);
        listener.stop();
      }
      this.handlers.clear();
    }
    await this.running;
  }

  private resync(listener: ProcessorListener<T>): void {
    if (!this.reflector.hasSynced || this.stopped) return;
    for (const [key, obj] of this.store.entries()) listener.enqueue({ type: 'update', key, oldObj: obj, obj });
  }

  private upsert(key: string, obj: T): void {
    const old = this.store.get(key);
    this.apply(old === undefined ? { type: 'added', key, obj } : { type: 'updated', key, oldObj: old, obj });
  }

  private replace(items: [string, T][]): void {
    for (const delta of replaceDeltas(this.store, items)) this.apply(delta);
    // The first list is the handlers' initial content.
    for (const registered of this.handlers) registered.initialMark ??= registered.listener.enqueued;
  }

  private apply(delta: Delta<T>): void {
    let notification: Notification<T>;
    switch (delta.type) {
      case 'added':
        this.store.set(delta.key, delta.obj);
        notification = { type: 'add', key: delta.key, obj: delta.obj };
        break;
      case 'updated':
        this.store.set(delta.key, delta.obj);
        notification = { type: 'update', key: delta.key, oldObj: delta.oldObj, obj: delta.obj };
        break;
      case 'deleted':
        this.store.delete(delta.key);
        notification = { type: 'delete', key: delta.key, obj: delta.obj };
        break;
    }
    for (const { listener } of this.handlers) listener.enqueue(notification);
  }
}
