/**
 * The local Kubernetes control plane: `up` (idempotent), `down`, `status`, `env`.
 *
 * etcd, kube-apiserver (RBAC and admission plugins on), kube-controller-manager, kube-scheduler
 * and kwok run as local processes on loopback, built from Go modules (see build.ts), the way
 * controller-runtime's envtest and kwokctl's binary runtime do.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { ensureBinaries } from './build.ts';
import { components, nodeLeaseSeconds, type Ports } from './components.ts';
import { kubectl } from './kubectl.ts';
import { nodeList } from './nodes.ts';
import { KUBECONFIG, LOG_DIR, STATE_DIR, STATE_FILE } from './paths.ts';
import { ensurePki, kubeconfigYaml, type Pki } from './pki.ts';
import { isRunning, pidFileNames, runningPid, startProcess, stopProcess, waitFor } from './processes.ts';
import { downNode, NODE_PROCESSES, nodeExists, upNode, type RealNode } from './node/real_node.ts';
import { nodeHostProblem } from './node/host.ts';
import { NODE_LINK } from './node/network.ts';
import { REAL_NODE_NAME } from './node/config.ts';
import { freePort } from '../support/free_port.ts';

export { kubectl } from './kubectl.ts';

export interface ClusterState {
  ports: Ports;
  bin: string;
  server: string;
  /** The real node, when `up --node` started one. */
  node?: RealNode;
}

export interface UpOptions {
  /** Also run one real node (containerd, kubelet, kube-proxy): root on Linux, Debian packages. */
  node?: boolean;
  /** More kube-apiserver flags (the soak's audit policy and log); only when `up` starts it. */
  apiserverArgs?: string[];
}

const log = (message: string) => process.stderr.write(`[cluster] ${message}\n`);

export function readState(): ClusterState | undefined {
  return existsSync(STATE_FILE) ? (JSON.parse(readFileSync(STATE_FILE, 'utf8')) as ClusterState) : undefined;
}

/** GET a path of kube-apiserver with the admin credentials; resolves with the status code. */
export function apiGet(server: string, path: string, pki: Pki): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, server),
      { ca: pki.caCert, cert: pki.adminCert, key: pki.adminKey, agent: false, timeout: 5000 },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function etcdHealthy(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  return res.ok && ((await res.json()) as { health?: string }).health === 'true';
}

const COMPONENT_NAMES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'];

/**
 * Starts whatever is not running yet; returns the state. Safe to call when the cluster is up.
 * `node`: with a real node too; a running cluster without one is restarted with the API server
 * flags a node needs (etcd data is kept).
 */
export async function up(options: UpOptions = {}): Promise<ClusterState> {
  const leaseSeconds = nodeLeaseSeconds(); // a bad setting fails before anything is written
  if (options.node) {
    const problem = nodeHostProblem();
    if (problem) throw new Error(`cannot run a real node here: ${problem}`);
  }
  const bin = await ensureBinaries();
  mkdirSync(STATE_DIR, { recursive: true });
  const pki = await ensurePki();
  let previous = readState();
  if (previous && previous.bin !== bin) {
    // Another Kubernetes minor (or another build of it): a new cluster, on fresh etcd data (an
    // etcd 3.6 data directory cannot be opened by 3.5).
    log(`the cluster ran ${previous.bin}; starting ${bin} on fresh etcd data`);
    await down();
    rmSync(join(STATE_DIR, 'etcd'), { recursive: true, force: true });
    previous = undefined;
  }
  const allRunning = [...COMPONENT_NAMES, ...(previous?.node ? NODE_PROCESSES : [])].every(isRunning);
  const wanted = !options.node || previous?.node !== undefined;
  if (
    previous &&
    allRunning &&
    wanted &&
    (await apiGet(previous.server, '/readyz', pki).then(
      (r) => r.status === 200,
      () => false,
    ))
  ) {
    log(`already up: ${previous.server}${previous.node ? ` with the real node ${previous.node.name}` : ''}`);
    return previous;
  }
  const withNode = options.node === true || (previous?.node !== undefined && !allRunning);
  if (pidFileNames().length > 0 || nodeExists()) await down(); // a half-up cluster, or one without the node: start clean (etcd data is kept)
  const ports: Ports = {
    etcd: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
    controllerManager: await freePort(),
    scheduler: await freePort(),
    kwok: await freePort(),
  };
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const advertiseAddress = withNode ? NODE_LINK.hostIp : undefined;
  const state: ClusterState = { ports, bin, server };
  writeFileSync(KUBECONFIG, kubeconfigYaml(server, pki), { mode: 0o600 });
  writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));

  const started = Date.now();
  const steps = components(bin, ports, pki, leaseSeconds, advertiseAddress, options.apiserverArgs);
  const logOf = (name: string) => `${LOG_DIR}/${name}.log`;
  for (const c of steps) {
    if (c.name === 'kwok') {
      // The node Leases of an earlier run (etcd data is kept) name a kwok that is gone; the new one
      // would wait for them to expire before it manages those nodes (5 minutes with 300 s Leases).
      const released = kubectl(bin, ['delete', 'leases', '--all', '-n', 'kube-node-lease', '--wait=false']);
      if (released.status !== 0) throw new Error(`cannot delete the old node Leases: ${released.stderr.trim()}`);
    }
    startProcess(c.name, c.binary, c.args);
    if (c.name === 'etcd') await waitFor('etcd /health', () => etcdHealthy(ports.etcd), 30_000, 'etcd');
    if (c.name === 'kube-apiserver') {
      await waitFor(
        'kube-apiserver /readyz',
        async () => (await apiGet(server, '/readyz', pki)).status === 200,
        90_000,
        'kube-apiserver',
      );
    }
    log(`${c.name} started (pid ${runningPid(c.name)})`);
  }
  if (!withNode) {
    // etcd data is kept: a real node of an earlier `up --node` that is gone must not stay a Node.
    const stale = kubectl(bin, ['delete', 'node', REAL_NODE_NAME, '--ignore-not-found']);
    if (stale.status !== 0) throw new Error(`cannot delete the Node of an earlier real node: ${stale.stderr.trim()}`);
  }
  const applied = kubectl(bin, ['apply', '-f', '-'], nodeList());
  if (applied.status !== 0) throw new Error(`cannot create the kwok nodes: ${applied.stderr.trim()}`);
  const ready = kubectl(bin, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=60s']);
  if (ready.status !== 0)
    throw new Error(`kwok nodes did not become Ready: ${ready.stderr.trim()}; see ${logOf('kwok')}`);
  // The controller-manager creates the default ServiceAccount that pods need.
  await waitFor(
    'the default ServiceAccount',
    async () => kubectl(bin, ['get', 'serviceaccount', 'default', '-n', 'default']).status === 0,
    60_000,
    'kube-controller-manager',
  );
  if (withNode) {
    const nodePorts = {
      kubelet: await freePort(),
      kubeletHealthz: await freePort(),
      proxyMetrics: await freePort(),
      proxyHealthz: await freePort(),
    };
    state.node = await upNode(bin, pki, server, nodePorts, join(dirname(bin), 'node-images'));
    writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
  }
  log(`up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${server}, KUBECONFIG=${KUBECONFIG}`);
  return state;
}

/** Stops exactly the processes `up` started (by their pid files), in reverse order; the real node first. */
export async function down(): Promise<void> {
  const state = readState();
  if (state && nodeExists()) {
    const pki = await ensurePki();
    const apiUp =
      isRunning('kube-apiserver') &&
      (await apiGet(state.server, '/readyz', pki).then(
        (r) => r.status === 200,
        () => false,
      ));
    await downNode(state.bin, apiUp);
  }
  if (state?.node) {
    // Removed on purpose: the next `up` without --node brings up no node (a crashed one it restarts).
    delete state.node;
    writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
  }
  const names = pidFileNames();
  const ordered = [...COMPONENT_NAMES].reverse().filter((n) => names.includes(n));
  for (const name of [...ordered, ...names.filter((n) => !COMPONENT_NAMES.includes(n))]) {
    if (await stopProcess(name)) log(`${name} stopped`);
  }
}

export async function status(): Promise<{
  components: Record<string, number | null>;
  apiReady: boolean;
  server?: string;
}> {
  const state = readState();
  const components = Object.fromEntries(
    [...COMPONENT_NAMES, ...(state?.node ? NODE_PROCESSES : [])].map((n) => [n, runningPid(n) ?? null]),
  );
  let apiReady = false;
  if (state && components['kube-apiserver']) {
    const pki = await ensurePki();
    apiReady = await apiGet(state.server, '/readyz', pki).then(
      (r) => r.status === 200,
      () => false,
    );
  }
  return { components, apiReady, ...(state && { server: state.server }) };
}

/** Shell lines that point kubectl and helm at the local cluster. */
export function envLines(): string[] {
  const state = readState();
  if (!state) throw new Error('the local cluster has never been up: run `npm run cluster -- up`');
  return [`export KUBECONFIG=${KUBECONFIG}`, `export PATH=${state.bin}:$PATH`];
}
