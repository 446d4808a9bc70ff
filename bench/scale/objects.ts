/**
 * What the scale benchmark creates, directly through the API (no kwok, no workload controller
 * plays these objects): nodes with their status and node Lease, as a kubelet registers them;
 * agent pods bound to them (`spec.nodeName`) whose status the benchmark writes as a kubelet would
 * (Running, Ready, container statuses); and the owners the pods' ownerReferences name.
 *
 * Names are a function of an index, so that a cluster kept from an earlier run (--keep-cluster
 * --no-cleanup) is grown by what it lacks.
 *
 *   - sidecar i (95%): an application pod of bench/fixtures/sidecar-pod.review.json (an app
 *     container and a deepflow-agent with K8S_WATCH_POLICY=watch-disabled and the reason
 *     annotation, as the webhook leaves it), app `svc-<i / 25>` (25 pods per ReplicaSet), in namespace kwp-scale-app-<app % NS>;
 *   - DaemonSet agent j (5%): the agent container of bench/fixtures/watcher-pod.review.json with no
 *     policy (normal), hostNetwork, on node j: one per node;
 *   - the watcher: the same container with K8S_WATCH_POLICY=watch-only, as the watcher Deployment
 *     of the chart runs it.
 *
 * The owners (one ReplicaSet per app, the DaemonSet, the watcher's ReplicaSet) exist, so that
 * kube-controller-manager's garbage collector keeps their pods, and are terminating: created with
 * 0 replicas (DaemonSet: a nodeSelector no node has) and a finalizer of the benchmark, then
 * deleted. The ReplicaSet and DaemonSet controllers do not manage an owner that is being deleted,
 * so no controller creates, adopts or deletes these pods; the benchmark's cleanup removes the
 * finalizers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Json } from '../kube.ts';
import { fixtureAgent } from '../watcher_failover/objects.ts';

/** Label of every namespace (value `true`) and node (`kwp-scale/node`) the benchmark creates. */
export const SCALE_LABEL = 'kwp-scale';
export const NODE_LABEL = 'kwp-scale/node';
/** On every pod of the benchmark: `sidecar`, `daemonset` or `watcher` (counting by label). */
export const AGENT_LABEL = 'kwp-scale/agent';
/** What the webhook writes next to the policy (`audit` reports a pod without it as drift). */
const REASON = 'deepflow.io/k8s-watch-policy-reason';
/** The finalizer that keeps the owners terminating (see above). */
export const OWNER_FINALIZER = 'kwp-scale/keep';
/** The namespace of the DaemonSet agents and the watcher. */
export const DEEPFLOW_NS = 'kwp-scale-deepflow';
export const PODS_PER_APP = 25;
export const WATCHER_RS = 'deepflow-agent-watcher-7f9c6d8b5d';
export const DAEMONSET = 'deepflow-agent';
export const NODE_LEASE_NS = 'kube-node-lease';

/** Agent pods of a size: 5% DaemonSet agents (one per node, at least 1), the rest sidecars. */
export function shape(agents: number): { nodes: number; daemonset: number; sidecars: number } {
  const nodes = Math.max(1, Math.round(agents * 0.05));
  return { nodes, daemonset: nodes, sidecars: agents - nodes };
}

// ---------------------------------------------------------------------------------------------
// Names

/** The alphabet of generated name suffixes (k8s.io/apimachinery rand.String: no vowels, no 0/1/3). */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const SPACE = ALPHABET.length ** 5;

/** A 5-character suffix, distinct for every i below 27^5 (a bijection: i times a number prime to 27). */
export function suffix(i: number): string {
  let n = Number((BigInt(i) * 2_654_435_761n + 12_345n) % BigInt(SPACE));
  let out = '';
  for (let k = 0; k < 5; k++) {
    out += ALPHABET[n % ALPHABET.length];
    n = Math.floor(n / ALPHABET.length);
  }
  return out;
}

export const nodeName = (j: number) => `kwp-scale-node-${String(j).padStart(5, '0')}`;
export const appNamespace = (n: number) => `kwp-scale-app-${String(n).padStart(2, '0')}`;
const appName = (a: number) => `svc-${String(a).padStart(4, '0')}`;
/** A pod-template-hash: 10 characters of the alphabet, fixed per app. */
const appHash = (a: number) => (suffix(a + 7_000_000) + suffix(a + 9_000_000)).slice(0, 10);

export interface PodRef {
  namespace: string;
  name: string;
}

export interface SidecarPlace extends PodRef {
  app: number;
  appName: string;
  hash: string;
  replicaSet: string;
}

export function sidecarPlace(i: number, namespaces: number): SidecarPlace {
  const app = Math.floor(i / PODS_PER_APP);
  const hash = appHash(app);
  const replicaSet = `${appName(app)}-${hash}`;
  return {
    app,
    appName: appName(app),
    hash,
    replicaSet,
    namespace: appNamespace(app % namespaces),
    name: `${replicaSet}-${suffix(i)}`,
  };
}

export const daemonPod = (j: number): PodRef => ({ namespace: DEEPFLOW_NS, name: `${DAEMONSET}-${suffix(j)}` });

export function watcherPod(k: number): PodRef {
  return { namespace: DEEPFLOW_NS, name: `${WATCHER_RS}-${suffix(k + 5_000_000)}` };
}

// ---------------------------------------------------------------------------------------------
// Nodes

/** The node's InternalIP (and that of its hostNetwork pods). */
export const nodeIp = (j: number) => `172.${16 + (j >> 16)}.${(j >> 8) & 255}.${j & 255}`;
/** An address in the node's pod CIDR. */
const podIp = (j: number, k: number) => `10.${64 + (j >> 8)}.${j & 255}.${2 + (k % 250)}`;

export function node(j: number): Json {
  const name = nodeName(j);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      // No kwok.x-k8s.io/node annotation: test/cluster's kwok manages only the nodes that carry it.
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'beta.kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': 'ecs.g7.4xlarge',
        'topology.kubernetes.io/region': 'cn-beijing',
        'topology.kubernetes.io/zone': `cn-beijing-${'abcdefgh'[j % 8]}`,
        [NODE_LABEL]: 'true',
      },
    },
    spec: { podCIDR: `10.${64 + (j >> 8)}.${j & 255}.0/24`, podCIDRs: [`10.${64 + (j >> 8)}.${j & 255}.0/24`] },
  };
}

/** Go's metav1.MicroTime wants exactly six fractional digits. */
export const microTime = (d = new Date()) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** The status a kubelet posts: Ready, no pressure, capacity, addresses, node info. */
export function nodeStatus(j: number, now = new Date().toISOString()): Json {
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
    reason,
    message,
  });
  const resources = { cpu: '16', memory: '65030208Ki', pods: '110', 'ephemeral-storage': '206292968Ki' };
  return {
    status: {
      capacity: resources,
      allocatable: { ...resources, cpu: '15890m', memory: '61472064Ki' },
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [
        { type: 'InternalIP', address: nodeIp(j) },
        { type: 'Hostname', address: nodeName(j) },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: suffix(j).repeat(6).slice(0, 32),
        systemUUID: `${suffix(j)}-bench`,
        bootID: `${suffix(j + 1)}-bench`,
        kernelVersion: '5.10.134-16.al8.x86_64',
        osImage: 'Alibaba Cloud Linux 3',
        containerRuntimeVersion: 'containerd://1.7.22',
        kubeletVersion: 'v1.37.2',
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

/** The node's Lease in kube-node-lease (a kubelet's heartbeat), owned by the node as a kubelet's is. */
export function nodeLease(name: string, uid: string, seconds: number): Json {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace: NODE_LEASE_NS,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid }],
    },
    spec: { holderIdentity: name, leaseDurationSeconds: seconds, renewTime: microTime() },
  };
}

// ---------------------------------------------------------------------------------------------
// Pods

interface Fixtures {
  sidecar: Json;
  agent: { container: Json; volumes: Json[] };
}

let fixtures: Fixtures | undefined;

function load(root: string): Fixtures {
  if (fixtures) return fixtures;
  const sidecar = JSON.parse(readFileSync(join(root, 'bench/fixtures/sidecar-pod.review.json'), 'utf8')).request.object;
  const spec = sidecar.spec;
  // The API server's ServiceAccount admission adds the token volume itself; priority and
  // preemptionPolicy are the Priority admission's.
  spec.volumes = spec.volumes.filter((v: Json) => !String(v.name).startsWith('kube-api-access'));
  for (const c of spec.containers)
    c.volumeMounts = (c.volumeMounts ?? []).filter((m: Json) => !String(m.name).startsWith('kube-api-access'));
  delete spec.priority;
  delete spec.preemptionPolicy;
  spec.serviceAccountName = 'default';
  spec.serviceAccount = 'default';
  const agent = spec.containers.find((c: Json) => c.name === 'deepflow-agent');
  agent.env = [{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }, ...agent.env];
  fixtures = { sidecar, agent: fixtureAgent(root) };
  return fixtures;
}

const ownerRef = (kind: string, name: string, uid: string) => ({
  apiVersion: 'apps/v1',
  kind,
  name,
  uid,
  controller: true,
  blockOwnerDeletion: true,
});

export function sidecar(root: string, i: number, namespaces: number, nodeIndex: number, ownerUid: string): Json {
  const f = load(root).sidecar;
  const p = sidecarPlace(i, namespaces);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: p.namespace,
      labels: {
        ...f.metadata.labels,
        app: p.appName,
        'app.kubernetes.io/name': p.appName,
        'pod-template-hash': p.hash,
        [AGENT_LABEL]: 'sidecar',
      },
      annotations: { ...f.metadata.annotations, [REASON]: 'watch-disabled/serverless-sidecar' },
      ownerReferences: [ownerRef('ReplicaSet', p.replicaSet, ownerUid)],
    },
    spec: { ...f.spec, nodeName: nodeName(nodeIndex) },
  };
}

export function daemonSetAgent(root: string, j: number, ownerUid: string): Json {
  const { container, volumes } = load(root).agent;
  const ref = daemonPod(j);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: {
        app: 'deepflow',
        component: 'deepflow-agent',
        'app.kubernetes.io/instance': 'deepflow-agent',
        'app.kubernetes.io/name': 'deepflow-agent',
        'controller-revision-hash': '6c9d8f7b5',
        'pod-template-generation': '1',
        [AGENT_LABEL]: 'daemonset',
      },
      annotations: { [REASON]: 'normal/default' },
      ownerReferences: [ownerRef('DaemonSet', DAEMONSET, ownerUid)],
    },
    spec: {
      nodeName: nodeName(j),
      hostNetwork: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      // What the DaemonSet controller gives its pods: bound to the node, every taint tolerated.
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName(j)] }] }],
          },
        },
      },
      tolerations: [{ operator: 'Exists' }],
      terminationGracePeriodSeconds: 10,
      containers: [container],
      volumes,
    },
  };
}

export function watcher(root: string, k: number, nodeIndex: number, ownerUid: string): Json {
  const { container, volumes } = load(root).agent;
  const ref = watcherPod(k);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: {
        app: 'deepflow',
        component: 'deepflow-agent-watcher',
        'app.kubernetes.io/instance': 'deepflow-agent',
        'app.kubernetes.io/name': 'deepflow-agent',
        'app.kubernetes.io/component': 'watcher',
        'deepflow.io/role': 'k8s-watcher',
        'pod-template-hash': WATCHER_RS.split('-').at(-1)!,
        [AGENT_LABEL]: 'watcher',
      },
      annotations: { [REASON]: 'only-watch/watcher-selector' },
      ownerReferences: [ownerRef('ReplicaSet', WATCHER_RS, ownerUid)],
    },
    spec: {
      nodeName: nodeName(nodeIndex),
      terminationGracePeriodSeconds: 1,
      containers: [{ ...container, env: [...container.env, { name: 'K8S_WATCH_POLICY', value: 'watch-only' }] }],
      volumes,
    },
  };
}

/** The status subresource a kubelet writes once the containers run: Running, Ready, their statuses. */
export function runningStatus(pod: Json, j: number, k: number, now = new Date().toISOString()): Json {
  const ip = pod.spec.hostNetwork ? nodeIp(j) : podIp(j, k);
  const conditions = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(
    (type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: now }),
  );
  return {
    status: {
      phase: 'Running',
      conditions,
      hostIP: nodeIp(j),
      hostIPs: [{ ip: nodeIp(j) }],
      podIP: ip,
      podIPs: [{ ip }],
      startTime: now,
      containerStatuses: pod.spec.containers.map((c: Json, n: number) => ({
        name: c.name,
        state: { running: { startedAt: now } },
        lastState: {},
        ready: true,
        restartCount: 0,
        image: c.image,
        imageID: `${String(c.image).split(':')[0]}@sha256:${(suffix(j * 7 + n) + suffix(k)).repeat(7).slice(0, 64)}`,
        containerID: `containerd://${(suffix(k * 3 + n) + suffix(j)).repeat(7).slice(0, 64)}`,
        started: true,
      })),
    },
  };
}

/** The conditions of a running pod with Ready (and ContainersReady) set to `ready`: one pod event. */
export function readiness(ready: boolean, now = new Date().toISOString()): Json {
  const types = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'];
  return {
    status: {
      conditions: types.map((type) => ({
        type,
        status: ready || (type !== 'Ready' && type !== 'ContainersReady') ? 'True' : 'False',
        lastProbeTime: null,
        lastTransitionTime: now,
        ...(!ready && (type === 'Ready' || type === 'ContainersReady') && { reason: 'ContainersNotReady' }),
      })),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Owners

/** The namespaces' opt-in to the webhook: what `audit` expects of namespaces whose pods it reviewed. */
export const INJECTION_LABEL = 'deepflow.io/k8s-watch-policy-injection';

/** A namespace of the benchmark; `optedIn`: labelled for the webhook, as an agent's namespace is. */
export function namespace(name: string, optedIn = false): Json {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { [SCALE_LABEL]: 'true', ...(optedIn && { [INJECTION_LABEL]: 'enabled' }) } },
  };
}

/** A ReplicaSet of 0 replicas, finalizer of the benchmark (deleted at once after its creation). */
export function replicaSet(root: string, ns: string, name: string, labels: Record<string, string>): Json {
  const f = load(root).sidecar;
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: ns, labels: { ...labels, [SCALE_LABEL]: 'true' }, finalizers: [OWNER_FINALIZER] },
    spec: {
      replicas: 0,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { ...f.spec } },
    },
  };
}

export function appReplicaSet(root: string, a: number, namespaces: number): Json {
  const p = sidecarPlace(a * PODS_PER_APP, namespaces);
  return replicaSet(root, p.namespace, p.replicaSet, { app: p.appName, 'pod-template-hash': p.hash });
}

export function watcherReplicaSet(root: string): Json {
  const { container, volumes } = load(root).agent;
  const rs = replicaSet(root, DEEPFLOW_NS, WATCHER_RS, { component: 'deepflow-agent-watcher' });
  rs.spec.template.spec = { containers: [container], volumes };
  return rs;
}

/** The agents' DaemonSet, on no node (its nodeSelector matches none), finalizer of the benchmark. */
export function daemonSet(root: string): Json {
  const { container, volumes } = load(root).agent;
  const labels = { app: 'deepflow', component: 'deepflow-agent' };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {
      name: DAEMONSET,
      namespace: DEEPFLOW_NS,
      labels: { ...labels, [SCALE_LABEL]: 'true' },
      finalizers: [OWNER_FINALIZER],
    },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { nodeSelector: { 'kwp-scale/never': 'true' }, containers: [container], volumes, hostNetwork: true },
      },
    },
  };
}

/** The controller's configuration: the election over every namespace, the Lease `k8s-watcher`. */
export function controllerConfig(leaseName: string): string {
  return `election:\n  namespaces: []\n  leaseName: ${leaseName}\n`;
}
