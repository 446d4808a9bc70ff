/**
 * What the controller's informers store: of a pod, its {@link PodFacts} (null for a pod without an
 * agent container); of a node, whether it is known NotReady. Nothing else of either survives the
 * transform, so the heap follows the number of agent pods at a few hundred bytes each (the names
 * and uid of the pod; its namespace and node shared with every other pod there), not their size.
 */
import type { Config } from '../config/config.ts';
import type { KubeObject } from '../kube/objects.ts';
import { knownNotReady, podFacts, type PodFacts } from '../watcher_election/candidates.ts';

/**
 * One string object per distinct value: every pod of a namespace or a node refers to the same
 * one. Forgets everything past `limit` distinct values (node churn in a long life), which only
 * costs the sharing of what was interned before.
 */
export class Interner {
  private readonly strings = new Map<string, string>();
  private readonly limit: number;

  constructor(limit = 100_000) {
    this.limit = limit;
  }

  intern(value: string): string {
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    if (this.strings.size >= this.limit) this.strings.clear();
    this.strings.set(value, value);
    return value;
  }
}

export function agentPodRecord(config: Config, strings = new Interner()): (object: KubeObject) => PodFacts | null {
  return (object) => {
    const facts = podFacts(object, config);
    if (facts === null) return null;
    facts.namespace = strings.intern(facts.namespace);
    facts.node = strings.intern(facts.node);
    return facts;
  };
}

/** A node as the controller keeps it. */
export interface NodeReadiness {
  name: string;
  notReady: boolean;
}

export function nodeReadiness(object: KubeObject): NodeReadiness {
  return { name: object.metadata?.name ?? '', notReady: knownNotReady(object) };
}
