/** The ready endpoints of a Service, from its EndpointSlices: how many, and where (for a TLS handshake). */
import type { KubeObject } from '../kube/objects.ts';
import type { RestConfig } from '../kube/rest/config.ts';
import { ENDPOINT_SLICES, resourcePath } from '../kube/paths.ts';
import { listAll } from './cluster_read.ts';

interface EndpointSlice extends KubeObject {
  endpoints?: { addresses?: string[]; conditions?: { ready?: boolean } }[];
  ports?: { name?: string; port?: number }[];
}

export interface ReadyEndpoints {
  ready: number;
  /** `address:port` of each ready endpoint (the slice's first port). */
  addresses: { host: string; port: number }[];
  /** Why the slices could not be read. */
  error?: string;
}

export async function readReadyEndpoints(kc: RestConfig, namespace: string, service: string): Promise<ReadyEndpoints> {
  const slices = await listAll(kc, resourcePath(ENDPOINT_SLICES, namespace), (o) => o as EndpointSlice, {
    labelSelector: `kubernetes.io/service-name=${service}`,
  });
  const ready = slices.items.flatMap((slice) =>
    (slice.endpoints ?? [])
      .filter((e) => e.conditions?.ready !== false)
      .map((e) => ({ host: e.addresses?.[0], port: slice.ports?.[0]?.port })),
  );
  const addresses = ready.filter((a): a is { host: string; port: number } => Boolean(a.host && a.port));
  return { ready: ready.length, addresses, ...(slices.error && { error: slices.error }) };
}
