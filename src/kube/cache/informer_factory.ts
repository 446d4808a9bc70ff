/**
 * A shared informer factory (client-go informers.SharedInformerFactory): every consumer that
 * asks for the same collection (path, label selector, field selector) gets the same informer,
 * hence one list+watch and one store however many consumers there are.
 */
import type { RestConfig } from '../rest/config.ts';
import type { Logger } from '../../log.ts';
import type { Indexers } from './indexers.ts';
import type { KubeObject } from '../objects.ts';
import type { ResourceSelector } from './listwatch.ts';
import type { ReflectorTuning } from './reflector_options.ts';
import { SharedInformer, type TransformFunc } from './shared_informer.ts';

export interface InformerOptions<T> extends ResourceSelector {
  /**
   * Applied to every object before it is stored (default: drop managedFields). All consumers of
   * one informer share its objects, so they must pass the same function (or none).
   */
  transform?: TransformFunc<T>;
  /** Added to the shared store; a name already there must come with the same function. */
  indexers?: Indexers<T>;
  /** Default resync period of this informer's handlers; set by the first consumer that asks. */
  resyncMs?: number;
}

export class SharedInformerFactory {
  private readonly informers = new Map<string, SharedInformer<unknown>>();
  private started = false;
  private stopped = false;

  constructor(
    private readonly kc: RestConfig,
    private readonly logger: Logger,
    private readonly tuning: ReflectorTuning = {},
  ) {}

  /**
   * The informer for this collection, created on first request. When the factory has already
   * started, a new informer starts at once (client-go would wait for another `start()`).
   */
  informer<T = KubeObject>({
    path,
    labelSelector,
    fieldSelector,
    transform,
    indexers,
    resyncMs,
  }: InformerOptions<T>): SharedInformer<T> {
    if (this.stopped) throw new Error('the informer factory is stopped');
    const key = JSON.stringify([path, labelSelector ?? '', fieldSelector ?? '']);
    const existing = this.informers.get(key) as SharedInformer<T> | undefined;
    if (existing) {
      if (transform && transform !== existing.transform) {
        throw new Error(
          `the informer for ${path} already exists with another transform: consumers of one informer must share one transform`,
        );
      }
      if (indexers) existing.addIndexers(indexers);
      if (resyncMs !== undefined && resyncMs !== existing.resyncMs) {
        this.logger.warn(
          { path, resyncMs, informerResyncMs: existing.resyncMs },
          'informer already exists with another resync period; pass resyncMs to addEventHandler instead',
        );
      }
      return existing;
    }
    const informer = new SharedInformer<T>({
      kc: this.kc,
      path,
      ...(labelSelector !== undefined && { labelSelector }),
      ...(fieldSelector !== undefined && { fieldSelector }),
      ...(transform && { transform }),
      ...(indexers && { indexers }),
      ...(resyncMs !== undefined && { resyncMs }),
      ...this.tuning,
      logger: this.logger,
    });
    this.informers.set(key, informer as SharedInformer<unknown>);
    if (this.started) informer.start();
    return informer;
  }

  /** Starts every informer requested so far (and, from now on, each new one). Idempotent. */
  start(): void {
    if (this.stopped) throw new Error('the informer factory is stopped');
    this.started = true;
    for (const informer of this.informers.values()) informer.start();
  }

  /** Resolves with true once every informer has synced; false if one stops or `signal` aborts first. */
  async waitForCacheSync(signal?: AbortSignal): Promise<boolean> {
    const results = await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
    return results.every(Boolean);
  }

  /** Stops every informer together; resolves when all have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }

  /** The informers created so far. */
  list(): SharedInformer<unknown>[] {
    return [...this.informers.values()];
  }
}
