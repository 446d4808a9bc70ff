import { describe, expect, test } from '@jest/globals';
import type { Operation } from 'fast-json-patch';
import {
  ADMISSION_API_VERSION,
  BadAdmissionReview,
  parseAdmissionReview,
  type AdmissionRequest,
} from '../../src/webhook/admission_review.ts';
import { mutatePod } from '../../src/webhook/mutate.ts';
import { sameJson, validateController } from '../../src/webhook/validate.ts';
import type { KubeObject, Pod } from '../../src/kube/objects.ts';
import { agent, app, applyTo, cfg, clone, deepFreeze, ev, istio, owner, REASON } from '../support/fixtures.ts';

const UID = '705ab4f5-6393-11e8-b7cc-42010a800002';

function body(request: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', request };
}

function podRequest(object: Pod | null, over: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: UID,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'deepflow',
    operation: 'CREATE',
    object,
    ...over,
  };
}

function controllerRequest(object: KubeObject, over: Partial<AdmissionRequest> = {}): AdmissionRequest {
  const kind = String(object.kind);
  return {
    uid: UID,
    kind: { group: 'apps', version: 'v1', kind },
    resource: { group: 'apps', version: 'v1', resource: `${kind.toLowerCase()}s` },
    namespace: 'deepflow',
    operation: 'CREATE',
    object,
    ...over,
  };
}

/** A pod as the ReplicaSet controller creates it: generateName, no namespace yet. */
function replicaSetPod(containers = [agent()]): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'deepflow-watcher-7d9c6b-',
      labels: { app: 'deepflow-watcher' },
      ownerReferences: [owner('ReplicaSet', 'deepflow-watcher-7d9c6b')],
    },
    spec: { containers },
  };
}

function decodePatch(patch: string | undefined): Operation[] {
  expect(patch).toBeDefined();
  return JSON.parse(Buffer.from(patch!, 'base64').toString('utf8')) as Operation[];
}

function rejection(value: unknown): string {
  try {
    parseAdmissionReview(value);
  } catch (err) {
    expect(err).toBeInstanceOf(BadAdmissionReview);
    expect((err as Error).name).toBe('BadAdmissionReview');
    return (err as Error).message;
  }
  throw new Error('expected a BadAdmissionReview');
}

describe('parseAdmissionReview', () => {
  const ok = {
    uid: UID,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    operation: 'CREATE',
    object: { kind: 'Pod' },
  };

  test('returns the request', () => {
    const request = parseAdmissionReview(body(ok));
    expect(request).toEqual(ok);
  });

  test.each<[string, unknown, string]>([
    ['null', null, 'body must be a JSON object (an AdmissionReview)'],
    ['a string', 'AdmissionReview', 'body must be a JSON object (an AdmissionReview)'],
    ['a list', [body(ok)], 'body must be a JSON object (an AdmissionReview)'],
    ['an empty object', {}, 'body is empty: expected an AdmissionReview'],
    ['no apiVersion', { kind: 'AdmissionReview', request: ok }, 'apiVersion must be admission.k8s.io/v1, got null'],
    [
      'v1beta1',
      { ...body(ok), apiVersion: 'admission.k8s.io/v1beta1' },
      'apiVersion must be admission.k8s.io/v1, got "admission.k8s.io/v1beta1"',
    ],
    ['no kind', { apiVersion: ADMISSION_API_VERSION, request: ok }, 'kind must be AdmissionReview, got null'],
    ['wrong kind', { ...body(ok), kind: 'Pod' }, 'kind must be AdmissionReview, got "Pod"'],
    [
      'no request',
      { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview' },
      'request is missing or not an object',
    ],
    ['request a list', body([] as unknown as Record<string, unknown>), 'request is missing or not an object'],
    ['no uid', body({ ...ok, uid: undefined }), 'request.uid must be a non-empty string'],
    ['empty uid', body({ ...ok, uid: '' }), 'request.uid must be a non-empty string'],
    ['numeric uid', body({ ...ok, uid: 7 }), 'request.uid must be a non-empty string'],
    ['no operation', body({ ...ok, operation: undefined }), 'request.operation must be a non-empty string'],
    ['no request.kind', body({ ...ok, kind: undefined }), 'request.kind is missing or not an object'],
    ['request.kind a string', body({ ...ok, kind: 'Pod' }), 'request.kind is missing or not an object'],
    ['no request.resource', body({ ...ok, resource: null }), 'request.resource is missing or not an object'],
    [
      'no request.kind.kind',
      body({ ...ok, kind: { group: '', version: 'v1' } }),
      'request.kind.kind must be a non-empty string',
    ],
    [
      'no request.resource.resource',
      body({ ...ok, resource: { group: '', version: 'v1', resource: '' } }),
      'request.resource.resource must be a non-empty string',
    ],
    ['object a string', body({ ...ok, object: 'pod' }), 'request.object must be an object or null'],
    ['oldObject a list', body({ ...ok, oldObject: [] }), 'request.oldObject must be an object or null'],
    ['CREATE without object', body({ ...ok, object: undefined }), 'request.object is required for CREATE'],
    [
      'UPDATE with null object',
      body({ ...ok, operation: 'UPDATE', object: null }),
      'request.object is required for UPDATE',
    ],
  ])('rejects %s', (_name, value, message) => {
    expect(rejection(value)).toBe(message);
  });

  test('DELETE without object is a valid request', () => {
    expect(
      parseAdmissionReview(body({ ...ok, operation: 'DELETE', object: null, oldObject: { kind: 'Pod' } })).operation,
    ).toBe('DELETE');
  });
});

describe('mutatePod', () => {
  test('a watcher pod is patched; uid echoed, JSONPatch base64, namespace from the request', () => {
    const object = deepFreeze(replicaSetPod());
    const before = clone(object);
    const outcome = mutatePod(podRequest(object), { config: cfg() });
    expect(object).toEqual(before);
    expect(outcome.result).toBe('patched');
    const { response } = outcome.response;
    expect(outcome.response.apiVersion).toBe('admission.k8s.io/v1');
    expect(outcome.response.kind).toBe('AdmissionReview');
    expect(response.uid).toBe(UID);
    expect(response.allowed).toBe(true);
    expect(response.patchType).toBe('JSONPatch');
    expect(response.status).toBeUndefined();
    expect(response.warnings).toBeUndefined();
    const patch = decodePatch(response.patch);
    const sorted = (ops: Operation[]) => ops.map((o) => JSON.stringify(o)).sort();
    expect(sorted(patch)).toEqual(
      sorted([
        { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'only-watch/watcher-deployment' } },
        { op: 'add', path: '/spec/containers/0/env', value: [{ name: 'K8S_WATCH_POLICY', value: 'watch-only' }] },
      ]),
    );
    // The patch applies to the object as sent (without namespace), and does not add one.
    const patched = applyTo(object, patch);
    expect(patched.metadata?.namespace).toBeUndefined();
    expect(patched.spec?.containers?.[0]?.env).toEqual([{ name: 'K8S_WATCH_POLICY', value: 'watch-only' }]);
    // The pod is reviewed as sent: the decision does not depend on the namespace.
    expect(outcome.review?.pod.metadata?.namespace).toBeUndefined();
  });

  test('a pod without metadata gets a patch that applies to it as sent', () => {
    const { metadata: _dropped, ...object } = replicaSetPod([agent(), { name: 'app', image: 'nginx' }]);
    const outcome = mutatePod(podRequest(object), { config: cfg() });
    expect(outcome.result).toBe('patched');
    expect(applyTo(object, decodePatch(outcome.response.response.patch)).metadata).toEqual({
      annotations: { [REASON]: 'watch-disabled/serverless-sidecar' },
    });
  });

  test('an agent pod whose env stays as it is still gets the reason annotation', () => {
    const object = { ...replicaSetPod(), metadata: { name: 'ds', ownerReferences: [owner('DaemonSet')] } };
    const outcome = mutatePod(podRequest(object), { config: cfg() });
    expect(outcome.result).toBe('patched');
    expect(outcome.review?.decision.rule).toBe('default');
    expect(outcome.response.response.patchType).toBe('JSONPatch');
    expect(outcome.response.response.warnings).toBeUndefined();
    expect(decodePatch(outcome.response.response.patch)).toEqual([
      { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'normal/default' } },
    ]);
  });

  test('an unchanged pod (already admitted, as on reinvocation): no patch, no patchType', () => {
    const object = {
      ...replicaSetPod(),
      metadata: { name: 'ds', ownerReferences: [owner('DaemonSet')], annotations: { [REASON]: 'normal/default' } },
    };
    const outcome = mutatePod(podRequest(object), { config: cfg() });
    expect(outcome.result).toBe('unchanged');
    expect(outcome.response.response).toEqual({ uid: UID, allowed: true });
    expect(outcome.review?.decision.rule).toBe('default');
  });

  test('a pod without an agent: no patch, no patchType', () => {
    const outcome = mutatePod(podRequest(replicaSetPod([app()])), { config: cfg() });
    expect(outcome.result).toBe('unchanged');
    expect(outcome.response.response).toEqual({ uid: UID, allowed: true });
    expect(outcome.review?.decision.rule).toBe('no-agent');
  });

  test('a denial: status 403 with the message, no patch', () => {
    const outcome = mutatePod(podRequest(replicaSetPod([agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', '')] })])), {
      config: cfg(),
    });
    expect(outcome.result).toBe('denied');
    expect(outcome.response.response).toEqual({
      uid: UID,
      allowed: false,
      status: {
        code: 403,
        message:
          'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); remove it and set K8S_WATCH_POLICY=watch-only (agents older than v6.6.6 read only ONLY_WATCH_K8S_RESOURCE: upgrade them first, or set deprecatedEnv: warn)',
      },
    });
  });

  test('warnings are returned with the patch', () => {
    const outcome = mutatePod(
      podRequest(replicaSetPod([agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'true')] }), istio()])),
      {
        config: cfg({ deprecatedEnv: 'migrate' }),
      },
    );
    expect(outcome.result).toBe('patched');
    expect(outcome.response.response.warnings).toEqual([
      'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE replaced by K8S_WATCH_POLICY=watch-only',
    ]);
    expect(decodePatch(outcome.response.response.patch)).toContainEqual({
      op: 'replace',
      path: '/spec/containers/0/env/0/name',
      value: 'K8S_WATCH_POLICY',
    });
  });

  test('warnings with only the reason annotation as the patch', () => {
    const outcome = mutatePod(podRequest(replicaSetPod([agent({ env: [ev('K8S_WATCH_POLICY', 'watch-disabled')] })])), {
      config: cfg(),
    });
    expect(outcome.result).toBe('patched');
    expect(decodePatch(outcome.response.response.patch)).toEqual([
      { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'watch-disabled/explicit-env' } },
    ]);
    expect(outcome.response.response.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY=watch-disabled kept (explicitEnv respect); the webhook would set only-watch (watcher-deployment)',
    ]);
  });

  test('warnings without a patch', () => {
    const object = replicaSetPod([agent({ env: [ev('K8S_WATCH_POLICY', 'watch-disabled')] })]);
    object.metadata!.annotations = { [REASON]: 'watch-disabled/explicit-env' };
    const outcome = mutatePod(podRequest(object), { config: cfg() });
    expect(outcome.result).toBe('unchanged');
    expect(outcome.response.response.patch).toBeUndefined();
    expect(outcome.response.response.patchType).toBeUndefined();
    expect(outcome.response.response.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY=watch-disabled kept (explicitEnv respect); the webhook would set only-watch (watcher-deployment)',
    ]);
  });

  test.each<[string, Partial<AdmissionRequest>]>([
    ['UPDATE', { operation: 'UPDATE' }],
    ['DELETE', { operation: 'DELETE', object: null }],
    ['a subresource', { subResource: 'ephemeralcontainers' }],
    ['a Deployment', { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }],
    ['a null object', { object: null }],
  ])('%s is allowed untouched', (_name, over) => {
    const object = replicaSetPod([agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'true')] }), app()]);
    const outcome = mutatePod(podRequest(object, over), { config: cfg() });
    expect(outcome.result).toBe('unchanged');
    expect(outcome.response.response).toEqual({ uid: UID, allowed: true });
    expect(outcome.review).toBeUndefined();
  });
});

describe('mutatePod: a pod without metadata', () => {
  // Finding: the review adds the request namespace to a copy of the pod, so when the pod as sent has
  // no metadata at all the patch (`add /metadata/annotations`) does not apply to it. Unlikely from a
  // real kube-apiserver (a pod always has a name or generateName), but it contradicts the code's
  // own contract "the patch applies to the object as sent".
  test('the patch applies to the object as sent', () => {
    const object: Pod = { apiVersion: 'v1', kind: 'Pod', spec: { containers: [agent(), app()] } };
    const outcome = mutatePod(podRequest(object), { config: cfg() });
    const patch = decodePatch(outcome.response.response.patch);
    expect(() => applyTo(object, patch)).not.toThrow();
  });
});

describe('validateController', () => {
  const deployment = (containers = [agent()], templateLabels: Record<string, string> = {}): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'deepflow-watcher' },
    spec: {
      replicas: 1,
      template: { metadata: { labels: { app: 'deepflow-watcher', ...templateLabels } }, spec: { containers } },
    },
  });

  test('a valid controller is allowed and never patched', () => {
    const object = deployment();
    (object.spec as Record<string, unknown>).strategy = {
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 0, maxUnavailable: 1 },
    };
    const outcome = validateController(controllerRequest(object), { config: cfg() });
    expect(outcome.result).toBe('unchanged');
    expect(outcome.response.response).toEqual({ uid: UID, allowed: true });
    expect(outcome.review?.decision).toMatchObject({ policy: 'only-watch', rule: 'watcher-deployment' });
    expect(outcome.review?.pod.metadata?.namespace).toBe('deepflow');
  });

  test('a watcher Deployment with the default rolling update is allowed with the surge warning, never patched', () => {
    const outcome = validateController(controllerRequest(deployment()), { config: cfg() });
    expect(outcome.result).toBe('unchanged');
    expect(outcome.response.response).toEqual({
      uid: UID,
      allowed: true,
      warnings: [
        'this Deployment runs watch-only agents (K8S_WATCH_POLICY=watch-only) and its rolling update can surge to 2 pods: the DeepFlow server hands the watch to any watch-only agent, so several of them keep taking it from each other during every rollout; set strategy.rollingUpdate.maxSurge: 0 (or strategy.type: Recreate)',
      ],
    });
    expect(outcome.review?.decision).toMatchObject({ policy: 'only-watch', rule: 'watcher-deployment' });
  });

  test('UPDATE is validated too', () => {
    const outcome = validateController(
      controllerRequest(deployment([agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'true')] })]), { operation: 'UPDATE' }),
      { config: cfg() },
    );
    expect(outcome.result).toBe('denied');
    expect(outcome.response.response.status).toEqual({
      code: 403,
      message:
        'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); remove it and set K8S_WATCH_POLICY=watch-only (agents older than v6.6.6 read only ONLY_WATCH_K8S_RESOURCE: upgrade them first, or set deprecatedEnv: warn)',
    });
    expect(outcome.response.response.patch).toBeUndefined();
  });

  test('warnings are returned', () => {
    const outcome = validateController(
      controllerRequest(deployment([agent({ env: [ev('K8S_WATCH_POLICY', 'watch-disabled')] })])),
      { config: cfg() },
    );
    expect(outcome.response.response).toEqual({
      uid: UID,
      allowed: true,
      warnings: [
        'container "deepflow-agent": K8S_WATCH_POLICY=watch-disabled kept (explicitEnv respect); the webhook would set only-watch (watcher-deployment)',
      ],
    });
  });

  test('a CronJob is validated on spec.jobTemplate.spec.template', () => {
    const cronJob: KubeObject = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'c', namespace: 'jobs' },
      spec: {
        jobTemplate: {
          spec: {
            template: {
              metadata: { labels: { 'deepflow.io/k8s-watch-policy': 'WATCH-ONLY' } },
              spec: { containers: [agent()] },
            },
          },
        },
      },
    };
    const outcome = validateController(controllerRequest(cronJob), { config: cfg() });
    expect(outcome.response.response.status?.message).toBe(
      'label deepflow.io/k8s-watch-policy: invalid value "WATCH-ONLY"; use one of watch-only, only-watch, watch-disabled, normal',
    );
    expect(outcome.review?.pod.metadata?.namespace).toBe('jobs');
  });

  test('the kind comes from the request when the object has none', () => {
    const { kind: _kind, ...object } = deployment([agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'x')] })]);
    const outcome = validateController(controllerRequest({ ...object, kind: 'Deployment' }, { object }), {
      config: cfg(),
    });
    expect(outcome.result).toBe('denied');
  });

  test.each<[string, KubeObject, Partial<AdmissionRequest>]>([
    [
      'DELETE',
      deployment([agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'x')] })]),
      { operation: 'DELETE', object: null },
    ],
    ['CONNECT', deployment([agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'x')] })]), { operation: 'CONNECT' }],
    [
      'the scale subresource',
      deployment([agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'x')] })]),
      { subResource: 'scale' },
    ],
    [
      'a Service',
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 's' },
        spec: { template: { spec: { containers: [agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'x')] })] } } },
      },
      {},
    ],
    [
      'a Deployment without a template',
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: {} },
      {},
    ],
  ])('%s is allowed untouched', (_name, object, over) => {
    const outcome = validateController(controllerRequest(object, over), { config: cfg() });
    expect(outcome.result).toBe('unchanged');
    expect(outcome.response.response).toEqual({ uid: UID, allowed: true });
    expect(outcome.review).toBeUndefined();
  });
});

describe('hostile kinds', () => {
  const body = (
    kind: string,
    objectKind: string | undefined,
    object: Record<string, unknown>,
    operation = 'CREATE',
    oldObject?: Record<string, unknown>,
  ) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u',
      kind: { group: '', version: 'v1', kind },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation,
      object: { ...object, ...(objectKind !== undefined && { kind: objectKind }) },
      ...(oldObject && { oldObject }),
    },
  });

  test('a Pod by the request kind with another object kind is still checked as a Pod: 400, not a crash', () => {
    for (const spec of [
      { containers: [null] },
      { tolerations: 'y' },
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: 5 }] },
          },
        },
      },
    ]) {
      expect(() => parseAdmissionReview(body('Pod', 'Foo', { spec }))).toThrow(BadAdmissionReview);
    }
  });

  test.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'kind %j is no pod controller: allowed untouched',
    (kind) => {
      const deployment = {
        metadata: { name: 'd' },
        spec: {
          template: {
            spec: {
              containers: [{ name: 'deepflow-agent', env: [{ name: 'ONLY_WATCH_K8S_RESOURCE', value: 'true' }] }],
            },
          },
        },
      };
      const request = parseAdmissionReview(body(kind, undefined, deployment, 'UPDATE', deployment));
      expect(validateController(request, { config: cfg() }).response.response).toEqual({ uid: 'u', allowed: true });
      expect(mutatePod(request, { config: cfg() }).response.response).toEqual({ uid: 'u', allowed: true });
    },
  );
});

describe('sameJson', () => {
  test.each([
    [{ a: [1, { b: 'x' }] }, { a: [1, { b: 'x' }] }, true],
    [{ a: 1, b: 2 }, { b: 2, a: 1 }, true],
    [{ a: 1 }, { a: 1, b: undefined }, false],
    [[1, 2], { 0: 1, 1: 2 }, false],
    [{ a: null }, { a: {} }, false],
    ['x', 'x', true],
  ])('%j vs %j: %s', (a, b, same) => {
    expect(sameJson(a, b)).toBe(same);
  });

  test('deeper than the limit counts as different; no recursion however deep', () => {
    let a: unknown = 0;
    let b: unknown = 0;
    for (let i = 0; i < 100_000; i++) {
      a = [a];
      b = [b];
    }
    expect(sameJson(a, b)).toBe(false);
    expect(sameJson([[1]], [[1]], 2)).toBe(true);
    expect(sameJson([[[1]]], [[[1]]], 2)).toBe(false);
  });
});
