/**
 * Growing the scale benchmark's cluster: the nodes (created, their status patched Ready, their
 * node Lease created), the owners, the agent pods (created bound to their node, then their status
 * patched Running and Ready), all through a pool of concurrent requests; the node Leases renewed
 * while the benchmark runs; and the cleanup.
 */
import { ApiError, pool, type Json, type Kube } from '../kube.ts';
import { sleep } from '../options.ts';
import { cpuBetween, cpuSample, type CpuCores } from '../proc.ts';
import {
  AGENT_LABEL,
  appNamespace,
  appReplicaSet,
  daemonPod,
  daemonSet,
  daemonSetAgent,
  DEEPFLOW_NS,
  INJECTION_LABEL,
  microTime,
  namespace,
  node,
  NODE_LABEL,
  NODE_LEASE_NS,
  nodeLease,
  nodeName,
  nodeStatus,
  OWNER_FINALIZER,
  PODS_PER_APP,
  runningStatus,
  SCALE_LABEL,
  shape,
  sidecar,
  sidecarPlace,
  watcher,
  watcherPod,
  watcherReplicaSet,
  type PodRef,
} from './objects.ts';

export type Log = (message: string) => void;

/** Retries what a busy API server answers transiently (429, 5xx, a dropped connection); 409 on create is success. */
export async function retrying<T>(what: string, f: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      const transient = status === 0 || status === 429 || status >= 500;
      if (!transient || attempt >= attempts) throw err;
      await sleep(Math.min(10_000, 200 * 2 ** attempt));
      if (attempt === 4) process.stderr.write(`  (retrying ${what}: ${(err as Error).message})\n`);
    }
  }
}

/** Creates; resolves with the object, or with the existing one when it is there already (409). */
async function createOrGet(kube: Kube, collection: string, object: Json, query = ''): Promise<Json> {
  try {
    return await retrying(`POST ${collection}`, () => kube.request('POST', `${collection}${query}`, object));
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) throw err;
    return kube.get(`${collection}/${object.metadata.name}`);
  }
}

const podsPath = (ns: string) => `/api/v1/namespaces/${ns}/pods`;

/** The figures of one growth step. */
export interface Growth {
  agents: number;
  nodes: number;
  createdNodes: number;
  createdPods: number;
  /** Pods that existed but were not Running (an interrupted earlier run): their status patched. */
  patchedPods: number;
  nodesS: number;
  podsS: number;
  /** Pods created (POST + status PATCH) per second. */
  podRate: number;
  /** Nodes created (POST + status PATCH + Lease POST) per second. */
  nodeRate: number;
  /** Agent pods Running when the step ended (counted on the API server). */
  running: number;
  /** Cores used while the pods were created: the cluster's processes, this one, everything else. */
  cpu: CpuCores;
  seconds: number;
}

export interface Populator {
  readonly root: string;
  readonly kube: Kube;
  readonly namespaces: number;
  readonly concurrency: number;
  readonly leaseSeconds: number;
  readonly clusterDir: string;
  readonly log: Log;
}

/** The uids of the owners (terminating ReplicaSets and DaemonSet), by namespace/name. */
const owners = new Map<string, string>();

async function ensureNamespace(kube: Kube, name: string): Promise<void> {
  const existing = await kube.find(`/api/v1/namespaces/${name}`);
  if (existing?.metadata?.deletionTimestamp) throw new Error(`namespace ${name} is still terminating`);
  if (!existing) await createOrGet(kube, '/api/v1/namespaces', namespace(name, true));
  else if (existing.metadata?.labels?.[INJECTION_LABEL] !== 'enabled')
    await kube.request('PATCH', `/api/v1/namespaces/${name}`, { metadata: namespace(name, true).metadata });
  // The ServiceAccount admission rejects pods until the controller-manager made `default`.
  const deadline = performance.now() + 60_000;
  while (!(await kube.find(`/api/v1/namespaces/${name}/serviceaccounts/default`))) {
    if (performance.now() > deadline) throw new Error(`no default ServiceAccount in ${name} after 60 s`);
    await sleep(200);
  }
}

/** An owner that exists and is terminating (see objects.ts); resolves with its uid. */
async function ensureOwner(kube: Kube, collection: string, object: Json): Promise<string> {
  const key = `${collection}/${object.metadata.name}`;
  const known = owners.get(key);
  if (known) return known;
  let current = await retrying(`GET ${key}`, () => kube.find(key));
  current ??= await createOrGet(kube, collection, object);
  if (!current.metadata.deletionTimestamp) {
    if (!(current.metadata.finalizers ?? []).includes(OWNER_FINALIZER))
      throw new Error(`${key} exists without the benchmark's finalizer: not the benchmark's`);
    await retrying(`DELETE ${key}`, () => kube.request('DELETE', key));
  }
  owners.set(key, current.metadata.uid);
  return current.metadata.uid as string;
}

const rsCollection = (ns: string) => `/apis/apps/v1/namespaces/${ns}/replicasets`;

async function appOwner(p: Populator, app: number): Promise<string> {
  return ensureOwner(
    p.kube,
    rsCollection(sidecarPlace(app * PODS_PER_APP, p.namespaces).namespace),
    appReplicaSet(p.root, app, p.namespaces),
  );
}

/** Names of the benchmark's pods in a namespace, with whether each is Running. */
async function existingPods(kube: Kube, ns: string): Promise<Map<string, boolean>> {
  const rows = await kube.table(podsPath(ns), { labelSelector: AGENT_LABEL });
  // Table columns of pods: NAME, READY, STATUS, ...
  return new Map(rows.map((r) => [r.name, r.cells[2] === 'Running']));
}

/** Agent pods Running on the API server (watcher included). */
export async function countRunning(kube: Kube): Promise<number> {
  return kube.count('/api/v1/pods', { labelSelector: AGENT_LABEL, fieldSelector: 'status.phase=Running' });
}

async function createPod(
  kube: Kube,
  pod: Json,
  j: number,
  k: number,
  exists: boolean | undefined,
): Promise<'created' | 'patched' | 'kept'> {
  if (exists === true) return 'kept';
  const path = podsPath(pod.metadata.namespace as string);
  if (exists === undefined)
    // The pod as the ReplicaSet (DaemonSet) controller creates it ...
    await createOrGet(kube, path, pod, '?fieldManager=kube-controller-manager');
  // ... and its status as the kubelet reports it once the containers run.
  await retrying(`PATCH ${pod.metadata.name}/status`, () =>
    kube.request('PATCH', `${path}/${pod.metadata.name}/status?fieldManager=kubelet`, runningStatus(pod, j, k)),
  );
  return exists === undefined ? 'created' : 'patched';
}

/** A progress line every 10 s while `task` runs. */
async function withProgress<T>(log: Log, every: () => string, task: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => log(every()), 10_000);
  try {
    return await task();
  } finally {
    clearInterval(timer);
  }
}

/** Node names the Lease renewer keeps alive (every node the benchmark created or found). */
export const benchNodes = new Map<string, string>();

async function growNodes(p: Populator, count: number): Promise<number> {
  const { kube, log } = p;
  const rows = await kube.table('/api/v1/nodes', { labelSelector: `${NODE_LABEL}=true` });
  const status = new Map(rows.map((r) => [r.name, r.cells[1]]));
  const todo = Array.from({ length: count }, (_, j) => j).filter((j) => status.get(nodeName(j)) !== 'Ready');
  let done = 0;
  const started = performance.now();
  await withProgress(
    log,
    () => `  nodes ${done}/${todo.length} (${(done / ((performance.now() - started) / 1000)).toFixed(0)}/s)`,
    () =>
      pool(todo, p.concurrency, async (j) => {
        const name = nodeName(j);
        const created = status.has(name)
          ? await kube.get(`/api/v1/nodes/${name}`)
          : await createOrGet(kube, '/api/v1/nodes', node(j), '?fieldManager=kubelet');
        await retrying(`PATCH node ${name}/status`, () =>
          kube.request('PATCH', `/api/v1/nodes/${name}/status?fieldManager=kubelet`, nodeStatus(j)),
        );
        await createOrGet(
          kube,
          `/apis/coordination.k8s.io/v1/namespaces/${NODE_LEASE_NS}/leases`,
          nodeLease(name, created.metadata.uid, p.leaseSeconds),
        );
        benchNodes.set(name, created.metadata.uid);
        done++;
      }),
  );
  for (const r of rows) if (!benchNodes.has(r.name)) benchNodes.set(r.name, '');
  return todo.length;
}

/**
 * Grows the cluster to `agents` agent pods (5% DaemonSet agents on as many nodes, 95% sidecars)
 * plus the watcher, creating only what is missing.
 */
export async function grow(p: Populator, agents: number): Promise<Growth> {
  const { kube, log } = p;
  const t0 = performance.now();
  const want = shape(agents);
  log(`grow to ${agents} agent pods: ${want.nodes} nodes (one DaemonSet agent each), ${want.sidecars} sidecars`);
  await ensureNamespace(kube, DEEPFLOW_NS);
  const appNamespaces = Math.min(p.namespaces, Math.ceil(want.sidecars / PODS_PER_APP));
  for (let n = 0; n < appNamespaces; n++) await ensureNamespace(kube, appNamespace(n));

  const tNodes = performance.now();
  const createdNodes = await growNodes(p, want.nodes);
  const nodesS = (performance.now() - tNodes) / 1000;
  log(`  ${createdNodes} nodes made Ready in ${nodesS.toFixed(1)} s (${(createdNodes / nodesS).toFixed(0)}/s)`);

  // What exists, by namespace (a Table list: names and status only).
  const existing = new Map<string, boolean>();
  for (const ns of [DEEPFLOW_NS, ...Array.from({ length: appNamespaces }, (_, n) => appNamespace(n))])
    for (const [name, running] of await existingPods(kube, ns)) existing.set(`${ns}/${name}`, running);
  const has = (ref: PodRef) => existing.get(`${ref.namespace}/${ref.name}`);

  const dsUid = await ensureOwner(kube, `/apis/apps/v1/namespaces/${DEEPFLOW_NS}/daemonsets`, daemonSet(p.root));
  const watcherUid = await ensureOwner(kube, rsCollection(DEEPFLOW_NS), watcherReplicaSet(p.root));
  const apps = Math.ceil(want.sidecars / PODS_PER_APP);
  const appUids: string[] = [];
  await pool(
    Array.from({ length: apps }, (_, a) => a),
    p.concurrency,
    async (a) => {
      appUids[a] = await appOwner(p, a);
    },
  );

  type Job = { make: () => Json; j: number; k: number; exists: boolean | undefined };
  const jobs: Job[] = [];
  for (let j = 0; j < want.daemonset; j++) {
    const exists = has(daemonPod(j));
    if (exists !== true) jobs.push({ make: () => daemonSetAgent(p.root, j, dsUid), j, k: 0, exists });
  }
  for (let i = 0; i < want.sidecars; i++) {
    const exists = has(sidecarPlace(i, p.namespaces));
    const j = i % want.nodes;
    if (exists !== true)
      jobs.push({
        make: () => sidecar(p.root, i, p.namespaces, j, appUids[Math.floor(i / PODS_PER_APP)]!),
        j,
        k: i + 1,
        exists,
      });
  }
  const t1 = performance.now();
  const cpuA = cpuSample([], p.clusterDir);
  let created = 0;
  let patched = 0;
  log(`  creating ${jobs.length} agent pods (${existing.size} exist), ${p.concurrency} at a time`);
  await withProgress(
    log,
    () => {
      const s = (performance.now() - t1) / 1000;
      return `  pods ${created + patched}/${jobs.length} (${((created + patched) / s).toFixed(0)}/s)`;
    },
    () =>
      pool(jobs, p.concurrency, async (job) => {
        const r = await createPod(kube, job.make(), job.j, job.k, job.exists);
        if (r === 'created') created++;
        else if (r === 'patched') patched++;
      }),
  );
  const podsS = (performance.now() - t1) / 1000;
  const cpu = cpuBetween(cpuA, cpuSample([], p.clusterDir));

  // Exactly one watch-only watcher when a size starts (failover trials leave one, too).
  const watchers = await kube.table(podsPath(DEEPFLOW_NS), { labelSelector: `${AGENT_LABEL}=watcher` });
  if (watchers.length === 0) await createWatcher(p, watcherUid, 0);
  for (const extra of watchers.slice(1))
    await kube.request('DELETE', `${podsPath(DEEPFLOW_NS)}/${extra.name}?gracePeriodSeconds=0`).catch(() => undefined);

  const running = await countRunning(kube);
  const growth: Growth = {
    agents,
    nodes: want.nodes,
    createdNodes,
    createdPods: created,
    patchedPods: patched,
    nodesS,
    podsS,
    podRate: (created + patched) / Math.max(podsS, 1e-3),
    nodeRate: createdNodes / Math.max(nodesS, 1e-3),
    running,
    cpu,
    seconds: (performance.now() - t0) / 1000,
  };
  log(
    `  ${created} pods created${patched ? ` (${patched} more made Running)` : ''} in ${podsS.toFixed(1)} s (${growth.podRate.toFixed(0)}/s; ` +
      `CPU cores: cluster ${cpu.cluster.toFixed(2)}, bench ${cpu.bench.toFixed(2)}, other ${cpu.other.toFixed(2)}); ` +
      `${running} agent pods Running (expected ${agents + 1})`,
  );
  return growth;
}

let watcherCounter = Math.floor(Math.random() * 1_000_000);

/** A new watch-only watcher pod, Running and Ready, on node `nodeIndex`; resolves with its name. */
export async function createWatcher(p: Populator, ownerUid?: string, nodeIndex = 0): Promise<PodRef> {
  const uid = ownerUid ?? (await ensureOwner(p.kube, rsCollection(DEEPFLOW_NS), watcherReplicaSet(p.root)));
  for (;;) {
    const k = watcherCounter++;
    const ref = watcherPod(k);
    if (await p.kube.find(`${podsPath(ref.namespace)}/${ref.name}`)) continue;
    await createPod(p.kube, watcher(p.root, k, nodeIndex, uid), nodeIndex, 60_000 + (k % 1000), undefined);
    return ref;
  }
}

// ---------------------------------------------------------------------------------------------
// Node Leases

/**
 * Renews every benchmark node's Lease (creates it when it is gone: `cluster up` deletes them all
 * when it restarts kwok) every `everyS` seconds, so that kube-controller-manager never sees a
 * node without a heartbeat for its grace period.
 */
export class LeaseRenewer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  rounds = 0;
  lastRound: { nodes: number; created: number; ms: number } | undefined;
  readonly kube: Kube;
  readonly everyS: number;
  readonly leaseSeconds: number;
  readonly log: Log;

  constructor(kube: Kube, everyS: number, leaseSeconds: number, log: Log) {
    this.kube = kube;
    this.everyS = everyS;
    this.leaseSeconds = leaseSeconds;
    this.log = log;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.renewAll()
        .catch((err: unknown) => this.log(`node Lease renewal failed: ${(err as Error).message}`))
        .finally(() => (this.running = undefined));
    }, this.everyS * 1000);
  }

  async renewAll(): Promise<void> {
    const t0 = performance.now();
    let created = 0;
    const leases = `/apis/coordination.k8s.io/v1/namespaces/${NODE_LEASE_NS}/leases`;
    await pool([...benchNodes], 4, async ([name, uid]) => {
      try {
        await retrying(`renew Lease ${name}`, () =>
          this.kube.request('PATCH', `${leases}/${name}`, { spec: { renewTime: microTime() } }),
        );
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
        const nodeUid = uid || (await this.kube.get(`/api/v1/nodes/${name}`)).metadata.uid;
        await createOrGet(this.kube, leases, nodeLease(name, nodeUid, this.leaseSeconds));
        created++;
      }
    });
    this.rounds++;
    this.lastRound = { nodes: benchNodes.size, created, ms: performance.now() - t0 };
    this.log(
      `node Leases renewed: ${benchNodes.size} in ${(this.lastRound.ms / 1000).toFixed(1)} s${created ? ` (${created} re-created)` : ''}`,
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}

// ---------------------------------------------------------------------------------------------
// Cleanup

/** Deletes what the benchmark created: its namespaces (owners' finalizers first) and its nodes. */
export async function cleanUp(kube: Kube, log: Log, wait: boolean): Promise<void> {
  const namespaces = await kube.list('/api/v1/namespaces', { labelSelector: `${SCALE_LABEL}=true` });
  for (const ns of namespaces.map((n) => n.metadata.name as string)) {
    for (const kind of ['replicasets', 'daemonsets']) {
      const items = await kube.list(`/apis/apps/v1/namespaces/${ns}/${kind}`, { labelSelector: `${SCALE_LABEL}=true` });
      await pool(
        items.filter((o) => (o.metadata.finalizers ?? []).includes(OWNER_FINALIZER)),
        16,
        async (o) => {
          await kube
            .request('PATCH', `/apis/apps/v1/namespaces/${ns}/${kind}/${o.metadata.name}`, {
              metadata: { finalizers: (o.metadata.finalizers as string[]).filter((f) => f !== OWNER_FINALIZER) },
            })
            .catch(() => undefined);
        },
      );
    }
    await kube
      .request('DELETE', `${podsPath(ns)}?gracePeriodSeconds=0`, undefined, {}, 600_000)
      .catch((err: unknown) => log(`cleanup: deleting the pods of ${ns}: ${(err as Error).message}`));
    await kube.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
  }
  const nodes = await kube.table('/api/v1/nodes', { labelSelector: `${NODE_LABEL}=true` });
  if (nodes.length > 0) {
    log(`cleanup: deleting ${nodes.length} benchmark nodes (their Leases go with them)`);
    await pool(nodes, 16, async (n) => {
      await kube.request('DELETE', `/api/v1/nodes/${n.name}`).catch((err: unknown) => {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      });
    });
  }
  benchNodes.clear();
  owners.clear();
  if (!wait) return;
  const deadline = performance.now() + 900_000;
  while (performance.now() < deadline) {
    const left = await kube.list('/api/v1/namespaces', { labelSelector: `${SCALE_LABEL}=true` });
    if (left.length === 0) return;
    await sleep(2000);
  }
  log('cleanup: benchmark namespaces still terminating after 15 min (left to the namespace controller)');
}

/** Waits for namespaces of an earlier cleanup to be gone (a namespace cannot be re-created while it terminates). */
export async function waitTerminated(kube: Kube, log: Log, timeoutMs = 900_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let said = false;
  for (;;) {
    const terminating = (await kube.list('/api/v1/namespaces', { labelSelector: `${SCALE_LABEL}=true` })).filter(
      (n) => n.metadata.deletionTimestamp,
    );
    if (terminating.length === 0) return;
    if (!said) log(`waiting for ${terminating.length} benchmark namespaces of an earlier run to finish terminating`);
    said = true;
    if (performance.now() > deadline) throw new Error(`${terminating.length} benchmark namespaces still terminating`);
    await sleep(2000);
  }
}
