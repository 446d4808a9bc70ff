/**
 * Index functions (client-go tools/cache index.go): an index maps each stored object to the
 * values it is filed under, so that `byIndex(name, value)` answers without scanning the store.
 *
 * Index functions see the object as it is stored, i.e. after the informer's transform: the
 * transform must keep the fields an index reads.
 */

/** The values an object is filed under in one index (empty: not in this index). */
export type IndexFunc<T> = (obj: T) => string[];

/** Index functions by index name. */
export type Indexers<T> = Record<string, IndexFunc<T>>;

/** The name of the index by `metadata.namespace` (client-go cache.NamespaceIndex). */
export const NAMESPACE_INDEX = 'namespace';

/** The name of the index of pods by `spec.nodeName`. */
export const NODE_NAME_INDEX = 'nodeName';

/** Files an object under its namespace; cluster-scoped objects are not filed. */
export const namespaceIndex: IndexFunc<{ metadata?: { namespace?: string } }> = (obj) => {
  const ns = obj.metadata?.namespace;
  return ns ? [ns] : [];
};

/** Files a pod under the node it is bound to; pending pods are not filed. */
export const nodeNameIndex: IndexFunc<{ spec?: { nodeName?: string } }> = (obj) => {
  const node = obj.spec?.nodeName;
  return node ? [node] : [];
};
