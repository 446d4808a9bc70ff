/**
 * The resource lock of leader election (client-go tools/leaderelection/resourcelock): the
 * {@link ResourceLock} interface the elector works on, and {@link LeaseLock}, its implementation on
 * one coordination.k8s.io/v1 Lease, read, created and updated with optimistic concurrency.
 *
 * An update is a PUT of the object last read (or written), carrying its metadata.resourceVersion:
 * kube-apiserver answers 409 Conflict when anyone wrote the Lease in between, which means this
 * writer lost the race and must read again. The lock never retries and never decides anything;
 * the elector (leader_election.ts) does.
 */
import type { RestConfig } from '../rest/config.ts';
import type { Lease } from '../objects.ts';
import { LEASES, resourcePath } from '../paths.ts';
import { isNotFound, kubeRequest } from '../rest/request.ts';

/** What leader election reads from and writes to the Lease spec (client-go LeaderElectionRecord). */
export interface LeaderElectionRecord {
  /** The leader; `''` when nobody holds the lease (never created, or released). */
  holderIdentity: string;
  /** How long the holder promises to hold the lease without renewing, counted by each observer's own clock. */
  leaseDurationSeconds: number;
  /** MicroTime (RFC 3339 with microseconds) of the acquisition; informational, never compared with a local clock. */
  acquireTime?: string;
  /** MicroTime of the last renewal; informational, never compared with a local clock. */
  renewTime?: string;
  /** How many times the holder changed. */
  leaseTransitions: number;
}

/** One observed version of a lock: its record and the version an update must be conditional on. */
export interface LockSnapshot {
  record: LeaderElectionRecord;
  resourceVersion: string;
}

/** One observed version of the Lease: the object, its record and its resourceVersion. */
export interface LeaseSnapshot extends LockSnapshot {
  lease: Lease;
}

export interface LockRequestOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * What the elector needs of a lock (client-go resourcelock.Interface). Each call is one request;
 * failures reject with the API server's error ({@link ApiError}: 409 when an update or create lost
 * a race, 404 when the object is gone), so that the elector tells them apart with isConflict and
 * isNotFound.
 */
export interface ResourceLock<S extends LockSnapshot = LockSnapshot> {
  /** The candidate this lock writes as holderIdentity. */
  identity(): string;
  /** What is locked, for logs (e.g. `namespace/name`). */
  describe(): string;
  /** The lock as it is now; `undefined` when it does not exist. */
  get(options?: LockRequestOptions): Promise<S | undefined>;
  /** Creates it with this record; rejects with 409 when it exists already. */
  create(record: LeaderElectionRecord, options?: LockRequestOptions): Promise<S>;
  /** Replaces the record of the version observed as `previous`, on condition nobody wrote it since (else 409). */
  update(previous: S, record: LeaderElectionRecord, options?: LockRequestOptions): Promise<S>;
}

export interface LeaseLockOptions {
  kc: RestConfig;
  namespace: string;
  name: string;
  /** Unique per process (e.g. `<pod name>_<random>`): two processes with one identity would both lead. */
  identity: string;
}

const GROUP_VERSION = 'coordination.k8s.io/v1';

/** The election record of a Lease (client-go LeaseSpecToLeaderElectionRecord); absent fields read as empty. */
export function recordOf(lease: Lease): LeaderElectionRecord {
  const spec = lease.spec ?? {};
  const record: LeaderElectionRecord = {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
  if (spec.acquireTime) record.acquireTime = spec.acquireTime;
  if (spec.renewTime) record.renewTime = spec.renewTime;
  return record;
}

/** The Lease spec for a record, keeping the spec fields leader election does not own (strategy, preferredHolder). */
export function specOf(record: LeaderElectionRecord, previous: Lease['spec'] = {}): NonNullable<Lease['spec']> {
  const spec: NonNullable<Lease['spec']> = {
    ...previous,
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    leaseTransitions: record.leaseTransitions,
  };
  if (record.acquireTime) spec.acquireTime = record.acquireTime;
  else delete spec.acquireTime;
  if (record.renewTime) spec.renewTime = record.renewTime;
  else delete spec.renewTime;
  return spec;
}

export function snapshotOf(lease: Lease): LeaseSnapshot {
  return { lease, record: recordOf(lease), resourceVersion: lease.metadata.resourceVersion ?? '' };
}

export class LeaseLock implements ResourceLock<LeaseSnapshot> {
  readonly namespace: string;
  readonly name: string;
  private readonly kc: RestConfig;
  private readonly holder: string;

  constructor({ kc, namespace, name, identity }: LeaseLockOptions) {
    this.kc = kc;
    this.namespace = namespace;
    this.name = name;
    this.holder = identity;
  }

  identity(): string {
    return this.holder;
  }

  private get collection(): string {
    return resourcePath(LEASES, this.namespace);
  }

  private get path(): string {
    return resourcePath(LEASES, this.namespace, this.name);
  }

  /** `namespace/name`, for logs. */
  describe(): string {
    return `${this.namespace}/${this.name}`;
  }

  /** The Lease as it is now; `undefined` when it does not exist (404). Other failures reject. */
  async get(options: LockRequestOptions = {}): Promise<LeaseSnapshot | undefined> {
    try {
      return snapshotOf(await kubeRequest<Lease>(this.kc, 'GET', this.path, options));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Creates the Lease with this record; rejects with a 409 {@link ApiError} when it exists already. */
  async create(record: LeaderElectionRecord, options: LockRequestOptions = {}): Promise<LeaseSnapshot> {
    const body: Lease = {
      apiVersion: GROUP_VERSION,
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace },
      spec: specOf(record),
    };
    return snapshotOf(await kubeRequest<Lease>(this.kc, 'POST', this.collection, { ...options, body }));
  }

  /**
   * Replaces the record of the Lease last observed as `previous`, on condition that nobody wrote it
   * since (the PUT carries previous.resourceVersion): rejects with a 409 {@link ApiError} when
   * somebody did, with a 404 when the Lease was deleted.
   */
  async update(
    previous: LeaseSnapshot,
    record: LeaderElectionRecord,
    options: LockRequestOptions = {},
  ): Promise<LeaseSnapshot> {
    if (!previous.resourceVersion) throw new Error(`Lease ${this.describe()}: no resourceVersion to update from`);
    const body: Lease = {
      ...previous.lease,
      apiVersion: GROUP_VERSION,
      kind: 'Lease',
      metadata: {
        ...previous.lease.metadata,
        name: this.name,
        namespace: this.namespace,
        resourceVersion: previous.resourceVersion,
      },
      spec: specOf(record, previous.lease.spec),
    };
    return snapshotOf(await kubeRequest<Lease>(this.kc, 'PUT', this.path, { ...options, body }));
  }
}
