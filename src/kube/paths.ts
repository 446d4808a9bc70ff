/**
 * REST paths of namespaced resources, built one way: `/api/v1` for the core group, `/apis/<group>/<version>`
 * otherwise; the collection without a name (list, watch, create), the object with one.
 */
export interface ResourceType {
  /** `v1` for the core group, else `<group>/<version>`. */
  apiVersion: string;
  /** The plural resource name: `pods`, `leases`. */
  resource: string;
}

export const PODS: ResourceType = { apiVersion: 'v1', resource: 'pods' };
export const SECRETS: ResourceType = { apiVersion: 'v1', resource: 'secrets' };
export const EVENTS: ResourceType = { apiVersion: 'v1', resource: 'events' };
export const SERVICES: ResourceType = { apiVersion: 'v1', resource: 'services' };
export const LEASES: ResourceType = { apiVersion: 'coordination.k8s.io/v1', resource: 'leases' };
export const ENDPOINT_SLICES: ResourceType = { apiVersion: 'discovery.k8s.io/v1', resource: 'endpointslices' };

/** The collection in a namespace, or the object of that name in it. */
export function resourcePath({ apiVersion, resource }: ResourceType, namespace: string, name?: string): string {
  const root = apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`;
  const collection = `${root}/namespaces/${encodeURIComponent(namespace)}/${resource}`;
  return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
}
