import type { KubeObject, NodeInfo } from './objects.ts';

/** Looks a node up by name in the caller's node cache; undefined when it is not known. */
export type NodeLookup = (name: string) => NodeInfo | undefined;

/** A node lookup over Node objects (from a manifest, or a cache). */
export function nodeLookupOf(objects: readonly KubeObject[]): NodeLookup {
  const nodes = new Map<string, NodeInfo>();
  for (const o of objects) {
    if (o.kind === 'Node' && o.metadata?.name)
      nodes.set(o.metadata.name, { name: o.metadata.name, labels: o.metadata.labels ?? {} });
  }
  return (name) => nodes.get(name);
}
