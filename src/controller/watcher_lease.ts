/** The Lease that publishes the watcher (`election.leaseName`): reading and writing its record. */
import { formatMicroTime, type Lease } from '../kube/objects.ts';
import {
  LEASE_ELECTION_REASON,
  LEASE_WATCHER_NODE,
  LEASE_WATCHER_POLICY,
  LEASE_WATCHER_UID,
} from '../policy/labels.ts';
import { parsePolicyLabel } from '../policy/policy.ts';
import type { PublishedWatcher } from './publication.ts';

export function publishedWatcher(lease: Lease | undefined): PublishedWatcher | undefined {
  if (!lease) return undefined;
  const a = lease.metadata?.annotations ?? {};
  const policy = a[LEASE_WATCHER_POLICY] === undefined ? undefined : parsePolicyLabel(a[LEASE_WATCHER_POLICY]);
  return {
    ...(lease.spec?.holderIdentity && { holder: lease.spec.holderIdentity }),
    ...(a[LEASE_WATCHER_UID] && { uid: a[LEASE_WATCHER_UID] }),
    ...(a[LEASE_WATCHER_NODE] !== undefined && { node: a[LEASE_WATCHER_NODE] }),
    ...(policy && { policy }),
    ...(a[LEASE_ELECTION_REASON] && { reason: a[LEASE_ELECTION_REASON] }),
    transitions: lease.spec?.leaseTransitions ?? 0,
  };
}

/** The Lease with `record` written into it (keeping everything else, resourceVersion included). */
export function leaseWith(
  existing: Lease | undefined,
  namespace: string,
  name: string,
  record: PublishedWatcher,
  now: Date,
): Lease {
  const annotations: Record<string, string> = { ...existing?.metadata?.annotations };
  const set = (key: string, value: string | undefined) =>
    value === undefined ? delete annotations[key] : (annotations[key] = value);
  set(LEASE_WATCHER_UID, record.uid);
  set(LEASE_WATCHER_NODE, record.node);
  set(LEASE_WATCHER_POLICY, record.policy);
  set(LEASE_ELECTION_REASON, record.reason);
  const micro = formatMicroTime(now);
  const holderChanged = existing?.spec?.holderIdentity !== (record.holder ?? undefined);
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    ...existing,
    metadata: { ...existing?.metadata, name, namespace, annotations },
    spec: {
      ...existing?.spec,
      holderIdentity: record.holder ?? null,
      leaseTransitions: record.transitions,
      renewTime: micro,
      ...(holderChanged && { acquireTime: micro }),
    },
  };
}
