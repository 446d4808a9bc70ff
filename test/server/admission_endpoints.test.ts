import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fastJsonPatch from 'fast-json-patch';
import { X509Certificate } from 'node:crypto';
import type { NodeInfo } from '../../src/kube/objects.ts';
import type { WebhookServer } from '../../src/webhook/server.ts';
import { capturingLogger, decodePatch, fixture, send, startTestWebhook } from '../support/webhook_server.ts';

let server: WebhookServer;
let ca: string;
let bundle: { cert: string };
let stop: () => Promise<void>;
const { logger, lines } = capturingLogger();
const nodes = new Map<string, NodeInfo>([
  ['vk-node-1', { name: 'vk-node-1', labels: { type: 'virtual-kubelet' } }],
  ['node-1', { name: 'node-1', labels: { 'kubernetes.io/os': 'linux' } }],
]);

beforeAll(async () => {
  ({ server, ca, bundle, stop } = await startTestWebhook({ logger, nodes: (name) => nodes.get(name) }));
});

afterAll(() => stop());

const post = (path: string, review: unknown) => send(server.url, { path, body: JSON.stringify(review), ca });

const REASON_PATH = '/metadata/annotations/deepflow.io~1k8s-watch-policy-reason';
const DEPRECATED_DENIAL =
  'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); remove it and set K8S_WATCH_POLICY=watch-only (agents older than v6.6.6 read only ONLY_WATCH_K8S_RESOURCE: upgrade them first, or set deprecatedEnv: warn)';

function daemonSetPodOn(review: any, node: string): any {
  const copy = structuredClone(review);
  copy.request.uid = `uid-${node}`;
  copy.request.object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values =
    [node];
  return copy;
}

describe('POST /mutate', () => {
  test('a DaemonSet agent pod bound to a virtual node is patched to watch-disabled, with the patch applying to the object sent', async () => {
    const review = daemonSetPodOn(await fixture('daemonset-pod-create.json'), 'vk-node-1');
    const reply = await post('/mutate', review);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    const { response } = reply.json;
    expect(reply.json).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
    expect(response.uid).toBe('uid-vk-node-1');
    expect(response.allowed).toBe(true);
    expect(response.patchType).toBe('JSONPatch');
    const patch = decodePatch(response) as fastJsonPatch.Operation[];
    expect(patch).toEqual([
      {
        op: 'add',
        path: '/metadata/annotations/deepflow.io~1k8s-watch-policy-reason',
        value: 'watch-disabled/serverless-node-label',
      },
      { op: 'add', path: '/spec/containers/0/env/2', value: { name: 'K8S_WATCH_POLICY', value: 'watch-disabled' } },
    ]);
    const patched = fastJsonPatch.applyPatch(structuredClone(review.request.object), patch).newDocument;
    expect(patched.spec.containers[0].env.at(-1)).toEqual({ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' });
    expect(patched.metadata.managedFields).toEqual(review.request.object.metadata.managedFields);
  });

  test('the same DaemonSet pod on an ordinary node is allowed with its env untouched, the patch adding only the reason annotation', async () => {
    const reply = await post('/mutate', daemonSetPodOn(await fixture('daemonset-pod-create.json'), 'node-1'));
    expect(reply.status).toBe(200);
    const { response } = reply.json;
    expect({ ...response, patch: decodePatch(response) }).toEqual({
      uid: 'uid-node-1',
      allowed: true,
      patchType: 'JSONPatch',
      patch: [{ op: 'add', path: REASON_PATH, value: 'normal/default' }],
    });
  });

  test('a second review of the patched pod yields no patch (reinvocation)', async () => {
    const review = daemonSetPodOn(await fixture('daemonset-pod-create.json'), 'vk-node-1');
    const first = await post('/mutate', review);
    review.request.object = fastJsonPatch.applyPatch(
      review.request.object,
      decodePatch(first.json.response) as fastJsonPatch.Operation[],
    ).newDocument;
    const second = await post('/mutate', review);
    expect(second.json.response).toEqual({ uid: review.request.uid, allowed: true });
  });

  test('ONLY_WATCH_K8S_RESOURCE on a pod is denied with the DESIGN message', async () => {
    const review = await fixture('daemonset-pod-create.json');
    review.request.object.spec.containers[0].env.push({ name: 'ONLY_WATCH_K8S_RESOURCE', value: 'true' });
    const { response } = (await post('/mutate', review)).json;
    expect(response.allowed).toBe(false);
    expect(response.patch).toBeUndefined();
    expect(response.status).toEqual({ code: 403, message: DEPRECATED_DENIAL });
  });

  test('ONLY_WATCH_K8S_RESOURCE on an agent image older than v6.6.6 is denied naming the image and the upgrade', async () => {
    const review = await fixture('daemonset-pod-create.json');
    const image = 'registry.cn-beijing.aliyuncs.com/deepflow-ce/deepflow-agent:v6.6.4';
    review.request.object.spec.containers[0].image = image;
    review.request.object.spec.containers[0].env.push({ name: 'ONLY_WATCH_K8S_RESOURCE', value: 'true' });
    const { response } = (await post('/mutate', review)).json;
    expect(response.allowed).toBe(false);
    expect(response.patch).toBeUndefined();
    expect(response.status).toEqual({
      code: 403,
      message: `container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); remove it and set K8S_WATCH_POLICY=watch-only; its image "${image}" is an agent older than v6.6.6, which reads only ONLY_WATCH_K8S_RESOURCE: upgrade the agent to v6.6.6 or later (or set deprecatedEnv: warn)`,
    });
  });

  test('an explicit conflicting K8S_WATCH_POLICY is kept and reported as an admission warning; the patch adds only the reason annotation', async () => {
    const review = daemonSetPodOn(await fixture('daemonset-pod-create.json'), 'vk-node-1');
    review.request.object.spec.containers[0].env.push({ name: 'K8S_WATCH_POLICY', value: 'watch-only' });
    const { response } = (await post('/mutate', review)).json;
    expect(response.allowed).toBe(true);
    expect(response.patchType).toBe('JSONPatch');
    expect(decodePatch(response)).toEqual([{ op: 'add', path: REASON_PATH, value: 'only-watch/explicit-env' }]);
    expect(response.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY=watch-only kept (explicitEnv respect); the webhook would set watch-disabled (serverless-node-label)',
    ]);
  });

  test('a pod without a namespace in the object takes the request namespace and still gets a patch that applies', async () => {
    const review = daemonSetPodOn(await fixture('daemonset-pod-create.json'), 'vk-node-1');
    delete review.request.object.metadata.namespace;
    const { response } = (await post('/mutate', review)).json;
    const patch = decodePatch(response) as fastJsonPatch.Operation[];
    expect(patch.every((op) => !op.path.startsWith('/metadata/namespace'))).toBe(true);
    expect(() => fastJsonPatch.applyPatch(structuredClone(review.request.object), patch, true)).not.toThrow();
  });

  test('kinds other than Pod and operations other than CREATE are allowed untouched', async () => {
    const review = await fixture('daemonset-pod-create.json');
    review.request.operation = 'DELETE';
    review.request.oldObject = review.request.object;
    review.request.object = null;
    expect((await post('/mutate', review)).json.response).toEqual({ uid: review.request.uid, allowed: true });
  });

  test('dryRun gets the same answer and is not counted as an injection', async () => {
    const review = daemonSetPodOn(await fixture('daemonset-pod-create.json'), 'vk-node-1');
    const metric = async () =>
      (await server.metrics.injections.get()).values.find(
        (v) => v.labels.policy === 'watch-disabled' && v.labels.rule === 'serverless-node-label',
      )?.value ?? 0;
    const before = await metric();
    review.request.dryRun = true;
    const dry = await post('/mutate', review);
    expect(dry.json.response.patchType).toBe('JSONPatch');
    expect(await metric()).toBe(before);
    review.request.dryRun = false;
    await post('/mutate', review);
    expect(await metric()).toBe(before + 1);
  });
});

describe('POST /validate', () => {
  const deployment = (env: { name: string; value: string }[], strategy?: Record<string, unknown>) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'validate-1',
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      namespace: 'deepflow',
      name: 'deepflow-watcher',
      operation: 'CREATE',
      object: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'deepflow-watcher', namespace: 'deepflow' },
        spec: {
          selector: { matchLabels: { app: 'watcher' } },
          ...(strategy && { strategy }),
          template: {
            metadata: { labels: { app: 'watcher' } },
            spec: { containers: [{ name: 'deepflow-agent', image: 'deepflow/deepflow-agent:v6.6', env }] },
          },
        },
      },
      oldObject: null,
    },
  });

  test('a Deployment with ONLY_WATCH_K8S_RESOURCE in its template is refused', async () => {
    const { response } = (await post('/validate', deployment([{ name: 'ONLY_WATCH_K8S_RESOURCE', value: '' }]))).json;
    expect(response).toEqual({
      uid: 'validate-1',
      allowed: false,
      status: { code: 403, message: DEPRECATED_DENIAL },
    });
  });

  test('a good Deployment is allowed and never patched', async () => {
    const { response } = (
      await post(
        '/validate',
        deployment([], { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } }),
      )
    ).json;
    expect(response).toEqual({ uid: 'validate-1', allowed: true });
  });

  test('a watcher Deployment with the default rolling update is allowed with the surge warning, never patched', async () => {
    const { response } = (await post('/validate', deployment([]))).json;
    expect(response).toEqual({
      uid: 'validate-1',
      allowed: true,
      warnings: [
        'this Deployment runs watch-only agents (K8S_WATCH_POLICY=watch-only) and its rolling update can surge to 2 pods: the DeepFlow server hands the watch to any watch-only agent, so several of them keep taking it from each other during every rollout; set strategy.rollingUpdate.maxSurge: 0 (or strategy.type: Recreate)',
      ],
    });
  });

  test('an invalid K8S_WATCH_POLICY literal in a template is refused', async () => {
    const { response } = (await post('/validate', deployment([{ name: 'K8S_WATCH_POLICY', value: 'WATCH-ONLY' }])))
      .json;
    expect(response.allowed).toBe(false);
    expect(response.status.message).toContain('K8S_WATCH_POLICY="WATCH-ONLY" is not a value the agent knows');
  });
});

describe('health, readiness, metrics and logs', () => {
  test('/healthz and /readyz answer ok once serving', async () => {
    expect(await send(server.url, { method: 'GET', path: '/healthz', ca })).toMatchObject({ status: 200, text: 'ok' });
    expect(await send(server.url, { method: 'GET', path: '/readyz', ca })).toMatchObject({ status: 200, text: 'ok' });
  });

  test('metrics are served on the separate plain-HTTP port with the DESIGN §8 names', async () => {
    const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    expect(text).toMatch(
      /k8s_watch_policy_admission_reviews_total\{resource="pods",operation="CREATE",result="patched"\} [1-9]/,
    );
    expect(text).toMatch(
      /k8s_watch_policy_admission_reviews_total\{resource="pods",operation="CREATE",result="denied"\} [1-9]/,
    );
    expect(text).toMatch(
      /k8s_watch_policy_admission_reviews_total\{resource="deployments",operation="CREATE",result="unchanged"\} [1-9]/,
    );
    expect(text).toMatch(/k8s_watch_policy_admission_duration_seconds_bucket\{le="0.005",resource="pods"\} [1-9]/);
    expect(text).toMatch(
      /k8s_watch_policy_injections_total\{policy="watch-disabled",rule="serverless-node-label"\} [1-9]/,
    );
    expect(text).toContain('process_resident_memory_bytes');
    expect((await fetch(`${server.metricsUrl}/mutate`)).status).toBe(404);
  });

  test('the serving certificate and its CA (ca.crt beside tls.crt) expire when the gauge says', async () => {
    const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    const seconds = (pem: string) => Date.parse(new X509Certificate(pem).validTo) / 1000;
    const gauge = (which: string) =>
      Number(
        new RegExp(
          `^k8s_watch_policy_certificate_expiry_timestamp_seconds\\{certificate="${which}"\\} (\\S+)$`,
          'm',
        ).exec(text)?.[1],
      );
    expect(gauge('serving')).toBe(seconds(bundle.cert));
    expect(gauge('ca')).toBe(seconds(ca));
    expect(seconds(ca)).not.toBe(seconds(bundle.cert));
  });

  test('every review writes exactly one structured log line with uid, resource, name, result and duration', async () => {
    const review = daemonSetPodOn(await fixture('daemonset-pod-create.json'), 'vk-node-1');
    review.request.uid = 'log-line-uid';
    await post('/mutate', review);
    const mine = lines.filter((l) => l.uid === 'log-line-uid');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      msg: 'admission review',
      resource: 'pods',
      operation: 'CREATE',
      namespace: 'deepflow',
      name: 'deepflow-agent-',
      result: 'patched',
      policy: 'watch-disabled',
      rule: 'serverless-node-label',
    });
    expect(typeof mine[0]!.durationMs).toBe('number');
  });
});
