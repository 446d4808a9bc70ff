/**
 * The webhook's node cache: the labels of every node, kept by a reflector, so that rule 5 can
 * tell a DaemonSet pod bound to a virtual node from one on an ordinary node.
 */
import type { RestConfig } from '../kube/rest/config.ts';
import type { NodeLookup } from '../kube/node_lookup.ts';
import { Reflector } from '../kube/cache/reflector.ts';
import { Store } from '../kube/cache/store.ts';
import type { NodeInfo } from '../kube/objects.ts';
import type { Logger } from '../log.ts';

export class NodeCache {
  private readonly store = new Store<NodeInfo>();
  private readonly reflector: Reflector<NodeInfo>;
  private running: Promise<void> | undefined;

  constructor(kc: RestConfig, logger: Logger) {
    this.reflector = new Reflector({
      kc,
      path: '/api/v1/nodes',
      store: this.store,
      transform: (node) => ({ name: node.metadata?.name ?? '', labels: node.metadata?.labels ?? {} }),
      logger: logger.child({ component: 'node-cache' }),
    });
  }

  /** Starts the list+watch; resolves once the first list is in. */
  async start(): Promise<void> {
    this.running ??= this.reflector.run();
    await this.reflector.waitForSync();
  }

  get hasSynced(): boolean {
    return this.reflector.hasSynced;
  }

  readonly lookup: NodeLookup = (name) => this.store.get(name);

  get size(): number {
    return this.store.size;
  }

  async stop(): Promise<void> {
    this.reflector.stop();
    await this.running;
  }
}
