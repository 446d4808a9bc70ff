/**
 * A serverless cluster of DeepFlow agents as the API server lists it, for `status`, `audit` and
 * `check` at scale (bench/report_scale.ts) and for the CLI tests: N agent pods, of which one
 * watch-only watcher (rule 4), one DaemonSet agent per node (N x 5% nodes, normal) and the rest
 * sidecars of Deployments (an application container and a watch-disabled deepflow-agent, rule 5),
 * each the realistic pod of bench/fixtures/*.review.json (managedFields, probes, volumes) with a
 * Running and Ready status. Objects are made from a JSON template per kind when a page asks for
 * them, so that serving 100,000 pods holds one page, not the cluster.
 *
 * Serves what the CLI reads (paginated with limit/continue, as kube-apiserver): /version, pods,
 * nodes, namespaces, Leases (the watcher Lease names the watcher, the leader Lease a holder),
 * the controller's pod, the webhook's configuration, EndpointSlice and /readyz (through the
 * service proxy), Deployments and DaemonSets; empty lists for the other collections, 404 else.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject, Pod } from '../../src/kube/objects.ts';

export interface AgentClusterOptions {
  /** Agent pods in all (at least 3: the watcher, one DaemonSet agent, one sidecar). */
  pods: number;
  /** Sidecar pods per Deployment. */
  replicas?: number;
  /** Namespaces the Deployments are spread over. */
  namespaces?: number;
  /**
   * Keep every page made (the benchmark: then serving costs the writes only, as for an API server
   * answering from its watch cache, and the CLI's work is what is measured); see {@link AgentCluster.warm}.
   */
  cache?: boolean;
}

export const RELEASE_NAMESPACE = 'deepflow-system';
export const AGENT_NAMESPACE = 'deepflow';
export const WATCHER = 'deepflow-agent-watcher-7f9c6d8b5d-w4tch';
const SERVER_VERSION = 'v1.34.2';
const REASON = 'deepflow.io/k8s-watch-policy-reason';
const BASE = Date.parse('2026-12-01T00:00:00Z');

type Vars = Record<string, string>;
/** A JSON text with `@@KEY@@` placeholders, filled per object (`"@@N_KEY@@"`: a number, unquoted). */
type Template = (vars: Vars) => string;

function template(object: unknown): Template {
  const parts = JSON.stringify(object)
    .replace(/"(@@N_\w+@@)"/g, '$1')
    .split(/@@(\w+)@@/);
  return (vars) => {
    let out = '';
    for (let i = 0; i < parts.length; i++) out += i % 2 ? vars[parts[i]!]! : parts[i]!;
    return out;
  };
}

const fixture = (name: string): Pod =>
  (
    JSON.parse(readFileSync(new URL(`../../bench/fixtures/${name}`, import.meta.url), 'utf8')) as {
      request: { object: Pod };
    }
  ).request.object;

const time = (seconds: number) => new Date(BASE + seconds * 1000).toISOString().replace('.000Z', 'Z');
/** A pod name's suffix, as the ReplicaSet and DaemonSet controllers make them: unique below 36^5. */
const suffix = (i: number) => ((i * 48271) % 60466176).toString(36).padStart(5, '0');
const hash = (d: number) => ((d + 1) * 40503 * 2654435761).toString(16).slice(-10).padStart(10, '5');

function runningStatus(containers: readonly string[], images: readonly string[]) {
  return {
    phase: 'Running',
    conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(
      (type) => ({
        type,
        status: 'True',
        lastProbeTime: null,
        lastTransitionTime: type === 'Ready' ? '@@READY@@' : '@@CREATED@@',
      }),
    ),
    hostIP: '@@HOSTIP@@',
    hostIPs: [{ ip: '@@HOSTIP@@' }],
    podIP: '@@PODIP@@',
    podIPs: [{ ip: '@@PODIP@@' }],
    startTime: '@@CREATED@@',
    containerStatuses: containers.map((name, i) => ({
      name,
      state: { running: { startedAt: '@@CREATED@@' } },
      lastState: {},
      ready: true,
      restartCount: 0,
      image: images[i],
      imageID: `${images[i]}@sha256:4f9c1d2e8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d`,
      containerID: 'containerd://@@UID@@',
      started: true,
    })),
    qosClass: 'Burstable',
  };
}

function withPolicy(pod: Pod, value: string | undefined): Pod {
  for (const c of pod.spec?.containers ?? [])
    if (c.name === 'deepflow-agent' && value !== undefined)
      c.env = [...(c.env ?? []).filter((e) => e.name !== 'K8S_WATCH_POLICY'), { name: 'K8S_WATCH_POLICY', value }];
  return pod;
}

/** A pod of the fixture with placeholders where the objects differ; `owner` replaces its ownerReferences. */
function podTemplate(pod: Pod, owner: { kind: string; name: string }, reason: string, labels: Vars): Template {
  const containers = pod.spec?.containers ?? [];
  const object = {
    ...pod,
    // In the order kube-apiserver writes ObjectMeta (Go's field order): managedFields last.
    metadata: {
      name: '@@NAME@@',
      namespace: '@@NS@@',
      uid: '@@UID@@',
      resourceVersion: '@@RV@@',
      creationTimestamp: '@@CREATED@@',
      labels: { ...pod.metadata?.labels, ...labels },
      annotations: { ...pod.metadata?.annotations, [REASON]: reason },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: owner.kind,
          name: owner.name,
          uid: '@@OWNER@@',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: pod.metadata?.managedFields,
    },
    spec: { ...pod.spec, nodeName: '@@NODE@@' },
    status: runningStatus(
      containers.map((c) => c.name),
      containers.map((c) => c.image ?? ''),
    ),
  };
  return template(object);
}

function sidecarTemplate(): Template {
  const pod = withPolicy(fixture('sidecar-pod.review.json'), 'watch-disabled');
  return podTemplate(pod, { kind: 'ReplicaSet', name: '@@RS@@' }, 'watch-disabled/serverless-sidecar', {
    app: '@@APP@@',
    'app.kubernetes.io/name': '@@APP@@',
    'pod-template-hash': '@@HASH@@',
  });
}

function daemonSetTemplate(): Template {
  const pod = fixture('sidecar-pod.review.json');
  const spec = pod.spec!;
  spec.containers = (spec.containers ?? []).filter((c) => c.name === 'deepflow-agent');
  spec.affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['@@NODE@@'] }] }],
      },
    },
  };
  pod.metadata = { ...pod.metadata, labels: { app: 'deepflow', component: 'deepflow-agent' } };
  return podTemplate(pod, { kind: 'DaemonSet', name: 'deepflow-agent' }, 'normal/default', {
    'controller-revision-hash': '6d9f8b7c5d',
    'pod-template-generation': '1',
  });
}

function watcherTemplate(): Template {
  const pod = withPolicy(fixture('watcher-pod.review.json'), 'watch-only');
  return podTemplate(
    pod,
    { kind: 'ReplicaSet', name: 'deepflow-agent-watcher-7f9c6d8b5d' },
    'only-watch/watcher-deployment',
    {},
  );
}

/** A Deployment of the sidecar pods: the pod's spec as its template (without the injected variable). */
function deploymentTemplate(): Template {
  const pod = fixture('sidecar-pod.review.json');
  const { nodeName: _, ...spec } = pod.spec!;
  return template({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: '@@APP@@',
      namespace: '@@NS@@',
      uid: '@@UID@@',
      resourceVersion: '@@RV@@',
      generation: 1,
      creationTimestamp: '@@CREATED@@',
      labels: { app: '@@APP@@', 'app.kubernetes.io/part-of': 'shop' },
      annotations: { 'deployment.kubernetes.io/revision': '1' },
      managedFields: pod.metadata?.managedFields,
    },
    spec: {
      replicas: '@@N_REPLICAS@@',
      selector: { matchLabels: { app: '@@APP@@' } },
      template: { metadata: { labels: { app: '@@APP@@', 'app.kubernetes.io/name': '@@APP@@' } }, spec },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: { observedGeneration: 1, replicas: '@@N_REPLICAS@@', readyReplicas: '@@REPLICAS@@' },
  });
}

function nodeTemplate(): Template {
  return template({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: '@@NAME@@',
      uid: '@@UID@@',
      resourceVersion: '@@RV@@',
      creationTimestamp: '@@CREATED@@',
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': '@@NAME@@',
        'kubernetes.io/os': 'linux',
        'node.kubernetes.io/instance-type': 'ecs.g7.2xlarge',
        'topology.kubernetes.io/region': 'cn-beijing',
        'topology.kubernetes.io/zone': 'cn-beijing-h',
      },
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    spec: { podCIDR: '10.244.0.0/24', providerID: 'alicloud://cn-beijing.@@NAME@@' },
    status: {
      capacity: { cpu: '8', 'ephemeral-storage': '123722704Ki', memory: '32621700Ki', pods: '110' },
      allocatable: { cpu: '7910m', 'ephemeral-storage': '114022843818', memory: '29230724Ki', pods: '110' },
      conditions: ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'].map((type) => ({
        type,
        status: type === 'Ready' ? 'True' : 'False',
        lastHeartbeatTime: '@@CREATED@@',
        lastTransitionTime: '@@CREATED@@',
        reason: type === 'Ready' ? 'KubeletReady' : `KubeletHasNo${type}`,
        message: type === 'Ready' ? 'kubelet is posting ready status' : `kubelet has no ${type}`,
      })),
      addresses: [
        { type: 'InternalIP', address: '@@HOSTIP@@' },
        { type: 'Hostname', address: '@@NAME@@' },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: '@@UID@@',
        systemUUID: '@@UID@@',
        bootID: '@@UID@@',
        kernelVersion: '5.10.134-16.3.al8.x86_64',
        osImage: 'Alibaba Cloud Linux 3.2104 U10',
        containerRuntimeVersion: 'containerd://1.6.36',
        kubeletVersion: SERVER_VERSION,
        kubeProxyVersion: SERVER_VERSION,
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  });
}

const uid = (kind: number, i: number) =>
  `${kind.toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
const ip = (base: number, i: number) => `10.${base + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

/** One collection: how many objects, and the JSON of the i-th. */
interface Collection {
  kind: string;
  count: number;
  item(i: number): string;
}

export interface AgentCluster {
  nodes: number;
  sidecars: number;
  deployments: number;
  /** What the CLI reads, as kube-apiserver answers it. */
  handler(req: IncomingMessage, res: ServerResponse): void;
  /** Every agent pod's JSON, in list order (for tests: the whole objects the reports start from). */
  pod(i: number): string;
  pods: number;
  /** With `cache`: makes every page of `limit` objects of the large collections now, not while measured. */
  warm(limit: number): void;
  /** Every object a list of `path` returns, parsed (for tests, at small sizes: what the reports start from). */
  objects(path: string): KubeObject[];
}

export function agentCluster({ pods, replicas = 10, namespaces = 50, cache }: AgentClusterOptions): AgentCluster {
  if (pods < 3) throw new Error('at least 3 agent pods: the watcher, a DaemonSet agent, a sidecar');
  const nodes = Math.max(1, Math.min(pods - 2, Math.round(pods * 0.05)));
  const sidecars = pods - 1 - nodes;
  const deployments = Math.ceil(sidecars / replicas);
  const t = { sidecar: sidecarTemplate(), ds: daemonSetTemplate(), watcher: watcherTemplate() };
  const deployment = deploymentTemplate();
  const node = nodeTemplate();
  const common = (i: number): Vars => ({
    UID: uid(1, i),
    RV: String(1000 + i),
    CREATED: time(i % 86400),
    READY: time(((i * 7919) % 86400) + 60),
    PODIP: ip(100, i),
  });
  const nodeName = (k: number) => `node-${k}`;
  const pod = (i: number): string => {
    if (i === 0)
      return t.watcher({
        ...common(i),
        NAME: WATCHER,
        NS: AGENT_NAMESPACE,
        NODE: nodeName(0),
        HOSTIP: ip(0, 0),
        OWNER: uid(2, 0),
      });
    if (i <= nodes) {
      const k = i - 1;
      const vars = { NAME: `deepflow-agent-${suffix(i)}`, NS: AGENT_NAMESPACE, NODE: nodeName(k), HOSTIP: ip(0, k) };
      return t.ds({ ...common(i), ...vars, OWNER: uid(3, 0) });
    }
    const s = i - 1 - nodes;
    const d = Math.floor(s / replicas);
    const app = `app-${d}`;
    const rs = `${app}-${hash(d)}`;
    const k = s % nodes;
    const vars = { NAME: `${rs}-${suffix(i)}`, NS: `ns-${d % namespaces}`, NODE: nodeName(k), HOSTIP: ip(0, k) };
    return t.sidecar({ ...common(i), ...vars, APP: app, RS: rs, HASH: hash(d), OWNER: uid(4, d) });
  };
  const replicasOf = (d: number) => String(Math.min(replicas, sidecars - d * replicas));
  const collections: Record<string, Collection> = {
    '/api/v1/pods': { kind: 'PodList', count: pods, item: pod },
    '/api/v1/nodes': {
      kind: 'NodeList',
      count: nodes,
      item: (k) => node({ NAME: nodeName(k), UID: uid(5, k), RV: String(k + 1), CREATED: time(0), HOSTIP: ip(0, k) }),
    },
    '/apis/apps/v1/deployments': {
      kind: 'DeploymentList',
      count: deployments + 1,
      item: (d) =>
        d === deployments
          ? watcherDeployment()
          : deployment({
              APP: `app-${d}`,
              NS: `ns-${d % namespaces}`,
              UID: uid(6, d),
              RV: String(d + 1),
              CREATED: time(0),
              N_REPLICAS: replicasOf(d),
            }),
    },
    '/apis/apps/v1/daemonsets': { kind: 'DaemonSetList', count: 1, item: () => agentDaemonSet() },
    '/api/v1/namespaces': {
      kind: 'NamespaceList',
      count: namespaces + 1,
      item: (n) =>
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: {
            name: n === namespaces ? AGENT_NAMESPACE : `ns-${n}`,
            labels: { 'deepflow.io/k8s-watch-policy-injection': 'enabled' },
          },
        }),
    },
  };
  const pages = cache ? new Map<string, Buffer>() : undefined;
  const body: PageBody = (path, c, from, limit) => {
    const key = `${path}?${from}:${limit}`;
    const known = pages?.get(key);
    if (known) return known;
    const made = Buffer.from(pageText(c, from, limit));
    pages?.set(key, made);
    return made;
  };
  const warm = (limit: number) => {
    for (const path of ['/api/v1/pods', '/api/v1/nodes', '/apis/apps/v1/deployments'])
      for (let from = 0; from < collections[path]!.count; from += limit) body(path, collections[path]!, from, limit);
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => serve(req, res, collections, body);
  const objects = (path: string): KubeObject[] => {
    const c = collections[path];
    if (c) return Array.from({ length: c.count }, (_, i) => JSON.parse(c.item(i)) as KubeObject);
    return (singletons()[path]?.items ?? []) as KubeObject[];
  };
  return { nodes, sidecars, deployments, pods, pod, handler, warm, objects };
}

function watcherDeployment(): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'deepflow-agent-watcher', namespace: AGENT_NAMESPACE, uid: uid(2, 1) },
    spec: {
      replicas: 1,
      template: {
        metadata: { labels: { app: 'deepflow', component: 'deepflow-agent-watcher' } },
        spec: { containers: [{ name: 'deepflow-agent', image: 'deepflow/deepflow-agent:v6.6.9' }] },
      },
    },
  });
}

function agentDaemonSet(): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'deepflow-agent', namespace: AGENT_NAMESPACE, uid: uid(3, 0) },
    spec: {
      template: {
        metadata: { labels: { app: 'deepflow', component: 'deepflow-agent' } },
        spec: { containers: [{ name: 'deepflow-agent', image: 'deepflow/deepflow-agent:v6.6.9' }] },
      },
    },
  });
}

const WEBHOOK_SERVICE = 'k8s-watch-policy-webhook';

/** The small objects: Leases, the controller's pod, the webhook's registration and endpoints. */
function singletons(): Record<string, { kind: string; items: unknown[] }> {
  const lease = (name: string, holder: string, annotations: Vars = {}) => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace: RELEASE_NAMESPACE, annotations },
    spec: { holderIdentity: holder, acquireTime: '2026-12-01T00:00:00.000000Z', leaseTransitions: 1 },
  });
  return {
    '/apis/coordination.k8s.io/v1/leases': {
      kind: 'LeaseList',
      items: [
        lease('k8s-watcher', `${AGENT_NAMESPACE}/${WATCHER}`, {
          'deepflow.io/election-reason': 'oldest-ready',
          'deepflow.io/watcher-policy': 'only-watch',
          'deepflow.io/watcher-node': 'node-0',
          'deepflow.io/watcher-uid': uid(1, 0),
        }),
        lease('k8s-watch-policy-controller', 'k8s-watch-policy-controller-0'),
      ],
    },
    [`/api/v1/namespaces/${RELEASE_NAMESPACE}/pods`]: {
      kind: 'PodList',
      items: [
        {
          metadata: { name: 'k8s-watch-policy-controller-0', namespace: RELEASE_NAMESPACE },
          spec: { containers: [{ name: 'controller', image: 'k8s-watch-policy:0.1.0' }] },
          status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
        },
      ],
    },
    '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations': {
      kind: 'MutatingWebhookConfigurationList',
      items: [
        {
          metadata: { name: 'k8s-watch-policy' },
          webhooks: [
            {
              name: 'pods.k8s-watch-policy.deepflow.io',
              failurePolicy: 'Fail',
              clientConfig: { service: { namespace: RELEASE_NAMESPACE, name: WEBHOOK_SERVICE, port: 443 } },
            },
          ],
        },
      ],
    },
    [`/apis/discovery.k8s.io/v1/namespaces/${RELEASE_NAMESPACE}/endpointslices`]: {
      kind: 'EndpointSliceList',
      items: [
        {
          metadata: { name: `${WEBHOOK_SERVICE}-abcde`, namespace: RELEASE_NAMESPACE },
          endpoints: [{ addresses: ['10.244.0.5'], conditions: { ready: true } }],
          ports: [{ name: 'https', port: 8443 }],
        },
      ],
    },
  };
}

const EMPTY = new Set([
  '/api/v1/configmaps',
  '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
  '/apis/apps/v1/statefulsets',
  '/apis/batch/v1/jobs',
  '/apis/batch/v1/cronjobs',
]);

function send(res: ServerResponse, status: number, text: string | Buffer, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) }).end(text);
}

/** One page of a collection: `limit` objects from the offset that `continue` names. */
type PageBody = (path: string, c: Collection, from: number, limit: number) => Buffer;

/** One page of a collection: `limit` objects from `from` (the offset its continue token names). */
function pageText(c: Collection, from: number, limit: number): string {
  const to = Math.min(c.count, from + limit);
  const items: string[] = [];
  for (let i = from; i < to; i++) items.push(c.item(i));
  const more = to < c.count ? `,"continue":"${to}","remainingItemCount":${c.count - to}` : '';
  return `{"kind":"${c.kind}","apiVersion":"v1","metadata":{"resourceVersion":"1"${more}},"items":[${items.join(',')}]}`;
}

function serve(
  req: IncomingMessage,
  res: ServerResponse,
  collections: Record<string, Collection>,
  body: PageBody,
): void {
  const url = new URL(req.url ?? '/', 'https://x');
  const path = url.pathname;
  if (req.method !== 'GET') return send(res, 405, '{"kind":"Status","code":405,"message":"read-only"}');
  if (path === '/version')
    return send(res, 200, JSON.stringify({ major: '1', minor: '34', gitVersion: SERVER_VERSION }));
  if (path.endsWith(`/services/https:${WEBHOOK_SERVICE}:443/proxy/readyz`)) return send(res, 200, 'ok', 'text/plain');
  const collection = collections[path] ?? namespaced(path, collections);
  if (collection) {
    const limit = Number(url.searchParams.get('limit') ?? 0) || collection.count;
    const from = Number(url.searchParams.get('continue') ?? 0);
    return send(res, 200, collections[path] ? body(path, collection, from, limit) : pageText(collection, from, limit));
  }
  const small = singletons()[path];
  if (small)
    return send(res, 200, JSON.stringify({ kind: small.kind, apiVersion: 'v1', metadata: {}, items: small.items }));
  if (EMPTY.has(path)) return send(res, 200, '{"kind":"List","apiVersion":"v1","metadata":{},"items":[]}');
  send(res, 404, JSON.stringify({ kind: 'Status', code: 404, message: `${path} not found` }));
}

/**
 * `-n ns`: the objects of one namespace, of a collection served for all (`/api/v1/pods`,
 * `/apis/apps/v1/deployments`, ...): the whole collection filtered, for tests at small sizes.
 */
function namespaced(path: string, collections: Record<string, Collection>): Collection | undefined {
  const m = /^\/(api|apis\/[^/]+)\/v1\/namespaces\/([^/]+)\/([a-z]+)$/.exec(path);
  if (!m || (m[2] === RELEASE_NAMESPACE && m[3] === 'pods')) return undefined;
  const all = `/${m[1]}/v1/${m[3]}`;
  const c = collections[all];
  if (!c) return EMPTY.has(all) ? { kind: 'List', count: 0, item: () => '' } : undefined;
  const inNamespace = Array.from({ length: c.count }, (_, i) => c.item(i)).filter((text) =>
    text.includes(`"namespace":"${m[2]}"`),
  );
  return { kind: c.kind, count: inNamespace.length, item: (i) => inNamespace[i]! };
}
