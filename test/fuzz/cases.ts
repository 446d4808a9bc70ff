/**
 * Generated AdmissionReviews for the fuzz suite (test/unit/fuzz.test.ts, `npm run fuzz`): no
 * imports from src/, so that both the jest suite (src) and the long runner (dist) use them.
 *
 * Three kinds of case, a third each:
 *  - arbitrary JSON as the body;
 *  - a plausible AdmissionReview of a Pod or a pod controller (agents, sidecars, labels,
 *    spellings, duplicates, the deprecated variable, owners, nodes, tolerations, affinity);
 *  - such a review with one field the rules read replaced by an arbitrary JSON value.
 */
import fc from 'fast-check';

const POLICY_VALUES = ['watch-only', 'only-watch', 'watch-disabled', '', 'WATCH-ONLY', 'normal', 'x'];

const envVar = fc.oneof(
  fc.record({ name: fc.constant('K8S_WATCH_POLICY'), value: fc.constantFrom(...POLICY_VALUES) }),
  fc.record({
    name: fc.constant('K8S_WATCH_POLICY'),
    valueFrom: fc.constant({ configMapKeyRef: { name: 'c', key: 'k' } }),
  }),
  fc.record({ name: fc.constant('ONLY_WATCH_K8S_RESOURCE'), value: fc.constantFrom('true', '') }),
  fc.record({ name: fc.constantFrom('RUST_LOG', 'A', 'a/b~c'), value: fc.string({ maxLength: 8 }) }),
);

const agentImage = fc.constantFrom(
  'deepflow-agent:v7.1',
  'registry:5000/deepflow/deepflow-agent:v6.6.4',
  'deepflow-agent@sha256:abc',
  'deepflow-agent',
);
const container = fc.record(
  {
    name: fc.constantFrom('deepflow-agent', 'app', 'istio-proxy', 'sidecar'),
    image: fc.oneof(agentImage, fc.constantFrom('nginx:1.27', 'busybox:1.36')),
    env: fc.array(envVar, { maxLength: 4 }),
    restartPolicy: fc.constant('Always'),
  },
  { requiredKeys: ['name'] },
);

const owner = fc.record({
  apiVersion: fc.constant('apps/v1'),
  kind: fc.constantFrom('ReplicaSet', 'DaemonSet', 'Job', 'StatefulSet'),
  name: fc.constant('o'),
  controller: fc.boolean(),
});

const requirement = fc.record({
  key: fc.constantFrom('type', 'metadata.name', 'kubernetes.io/os'),
  operator: fc.constantFrom('In', 'NotIn', 'Exists'),
  values: fc.array(fc.constantFrom('virtual-kubelet', 'node-1', 'vk-0', 'linux'), { maxLength: 2 }),
});

const podSpec = fc.record(
  {
    containers: fc.array(container, { minLength: 1, maxLength: 3 }),
    initContainers: fc.array(container, { maxLength: 2 }),
    nodeName: fc.constantFrom('node-1', 'vk-0'),
    nodeSelector: fc.dictionary(
      fc.constantFrom('type', 'eks.amazonaws.com/compute-type'),
      fc.constantFrom('virtual-kubelet', 'fargate', 'ec2'),
    ),
    tolerations: fc.array(
      fc.record(
        { key: fc.constantFrom('virtual-kubelet.io/provider', 'other'), operator: fc.constant('Exists') },
        { requiredKeys: [] },
      ),
      { maxLength: 2 },
    ),
    affinity: fc.record({
      nodeAffinity: fc.record({
        requiredDuringSchedulingIgnoredDuringExecution: fc.record({
          nodeSelectorTerms: fc.array(
            fc.record(
              {
                matchExpressions: fc.array(requirement, { maxLength: 2 }),
                matchFields: fc.array(requirement, { maxLength: 1 }),
              },
              { requiredKeys: [] },
            ),
            { maxLength: 2 },
          ),
        }),
      }),
    }),
  },
  { requiredKeys: ['containers'] },
);

const metadata = fc.record(
  {
    name: fc.constantFrom('p', 'watcher-0'),
    namespace: fc.constant('ns'),
    labels: fc.dictionary(
      fc.constantFrom(
        'deepflow.io/k8s-watch-policy',
        'deepflow.io/role',
        'deepflow.io/k8s-watch-policy-injection',
        'alibabacloud.com/eci',
        'app',
      ),
      fc.constantFrom(
        'watch-only',
        'only-watch',
        'watch-disabled',
        'normal',
        'k8s-watcher',
        'disabled',
        'true',
        'bogus',
      ),
    ),
    annotations: fc.dictionary(
      fc.constantFrom('eks.tke.cloud.tencent.com/ds-injection', 'deepflow.io/k8s-watch-policy-reason', 'a~b/c'),
      fc.constantFrom('true', 'normal/default', 'x'),
    ),
    ownerReferences: fc.array(owner, { maxLength: 2 }),
  },
  { requiredKeys: ['name'] },
);

const pod = fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('Pod'), metadata, spec: podSpec });

const controller = fc.record({
  apiVersion: fc.constant('apps/v1'),
  kind: fc.constantFrom('Deployment', 'DaemonSet', 'StatefulSet', 'Job', 'CronJob'),
  metadata: fc.record({ name: fc.constant('w'), namespace: fc.constant('ns') }),
  spec: fc.record(
    {
      replicas: fc.integer({ min: 0, max: 3 }),
      template: fc.record({ metadata, spec: podSpec }),
      jobTemplate: fc.record({ spec: fc.record({ template: fc.record({ metadata, spec: podSpec }) }) }),
    },
    { requiredKeys: [] },
  ),
});

function review(object: unknown, operation: 'CREATE' | 'UPDATE', uid: string): Record<string, unknown> {
  const kind = (object as { kind?: string }).kind ?? 'Pod';
  const resource = kind === 'Pod' ? 'pods' : `${kind.toLowerCase()}s`;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: kind === 'Pod' ? '' : 'apps', version: 'v1', kind },
      resource: { group: '', version: 'v1', resource },
      operation,
      namespace: 'ns',
      object,
      ...(operation === 'UPDATE' && { oldObject: object }),
    },
  };
}

const uid = fc.uuid();
const plausible = fc.oneof(
  fc.tuple(pod, uid).map(([p, u]) => review(p, 'CREATE', u)),
  fc
    .tuple(controller, fc.constantFrom<'CREATE' | 'UPDATE'>('CREATE', 'UPDATE'), uid)
    .map(([c, op, u]) => review(c, op, u)),
);

/** The paths of the fields the rules read, in a pod review and a controller review. */
const FIELD_PATHS: readonly string[][] = [
  ['request', 'object'],
  ['request', 'object', 'metadata'],
  ['request', 'object', 'metadata', 'labels'],
  ['request', 'object', 'metadata', 'annotations'],
  ['request', 'object', 'metadata', 'ownerReferences'],
  ['request', 'object', 'metadata', 'ownerReferences', '0'],
  ['request', 'object', 'metadata', 'name'],
  ['request', 'object', 'spec'],
  ['request', 'object', 'spec', 'containers'],
  ['request', 'object', 'spec', 'containers', '0'],
  ['request', 'object', 'spec', 'containers', '0', 'env'],
  ['request', 'object', 'spec', 'containers', '0', 'env', '0'],
  ['request', 'object', 'spec', 'containers', '0', 'name'],
  ['request', 'object', 'spec', 'containers', '0', 'image'],
  ['request', 'object', 'spec', 'initContainers'],
  ['request', 'object', 'spec', 'tolerations'],
  ['request', 'object', 'spec', 'tolerations', '0'],
  ['request', 'object', 'spec', 'nodeSelector'],
  ['request', 'object', 'spec', 'nodeName'],
  ['request', 'object', 'spec', 'affinity'],
  [
    'request',
    'object',
    'spec',
    'affinity',
    'nodeAffinity',
    'requiredDuringSchedulingIgnoredDuringExecution',
    'nodeSelectorTerms',
  ],
  ['request', 'object', 'spec', 'replicas'],
  ['request', 'object', 'spec', 'strategy'],
  ['request', 'object', 'spec', 'template'],
  ['request', 'object', 'spec', 'template', 'spec', 'containers'],
  ['request', 'object', 'spec', 'template', 'spec', 'containers', '0', 'env'],
  ['request', 'oldObject'],
  ['request', 'uid'],
  ['request', 'kind'],
  ['request', 'resource', 'resource'],
  ['request', 'operation'],
  ['request', 'name'],
  ['request', 'dryRun'],
];

function withField(body: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(body);
  let at: Record<string, unknown> = copy;
  for (const step of path.slice(0, -1)) {
    const next = at[step];
    if (next === null || typeof next !== 'object') return copy; // the path does not exist in this case
    at = next as Record<string, unknown>;
  }
  at[path.at(-1)!] = value;
  return copy;
}

const corrupted = fc
  .tuple(plausible, fc.constantFrom(...FIELD_PATHS), fc.jsonValue({ maxDepth: 3 }))
  .map(([body, path, value]) => withField(body, path, value));

/** One fuzz case: the body the webhook receives. */
export const admissionBody: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue({ maxDepth: 4 }), plausible, corrupted);

/** Only plausible reviews (every field of the right type). */
export const plausibleBody = plausible;
