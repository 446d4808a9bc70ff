import { describe, expect, test } from '@jest/globals';
import { isPodController, reviewTemplate, TEMPLATE_KINDS } from '../../src/admission/pod_template.ts';
import type { Rule } from '../../src/admission/decision.ts';
import type { Container, KubeObject } from '../../src/kube/objects.ts';
import type { Policy } from '../../src/policy/policy.ts';
import { agent, app, cfg, clone, deepFreeze, ev, INJECTION, istio, REASON } from '../support/fixtures.ts';

const API_VERSIONS: Record<string, string> = {
  Deployment: 'apps/v1',
  DaemonSet: 'apps/v1',
  StatefulSet: 'apps/v1',
  ReplicaSet: 'apps/v1',
  ReplicationController: 'v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
  PodTemplate: 'v1',
};

const TEMPLATE_PATH: Record<string, string[]> = {
  Deployment: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
  PodTemplate: ['template'],
};

/** A pod controller of `kind` whose template runs `containers`, with a few extra fields to keep. */
function controller(kind: string, containers: Container[], templateExtra: Record<string, unknown> = {}): KubeObject {
  const template = {
    metadata: { labels: { app: 'deepflow-agent' } },
    spec: { serviceAccountName: 'deepflow-agent', containers, ...templateExtra },
  };
  const metadata = {
    name: `deepflow-${kind.toLowerCase()}`,
    namespace: 'deepflow',
    labels: { 'app.kubernetes.io/name': 'deepflow' },
  };
  const base = { apiVersion: API_VERSIONS[kind], kind, metadata };
  switch (kind) {
    case 'CronJob':
      return { ...base, spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { backoffLimit: 2, template } } } };
    case 'PodTemplate':
      return { ...base, template };
    case 'Job':
      return {
        ...base,
        spec: { backoffLimit: 2, template: { ...template, spec: { ...template.spec, restartPolicy: 'Never' } } },
      };
    default:
      return { ...base, spec: { replicas: 1, selector: { matchLabels: { app: 'deepflow-agent' } }, template } };
  }
}

function at(object: unknown, path: string[]): unknown {
  return path.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], object);
}

const FLAP =
  'the DeepFlow server hands the watch to any watch-only agent, so several of them keep taking it from each other';

/** The warning for a one-replica Deployment of watch-only agents with the default rolling update (maxSurge 25% -> 1). */
const surgeWarning = () =>
  `this Deployment runs watch-only agents (K8S_WATCH_POLICY=watch-only) and its rolling update can surge to 2 pods: ${FLAP} during every rollout; set strategy.rollingUpdate.maxSurge: 0 (or strategy.type: Recreate)`;

describe('TEMPLATE_KINDS', () => {
  test('every pod controller of DESIGN §2', () => {
    expect(Object.keys(TEMPLATE_KINDS).sort()).toEqual(Object.keys(TEMPLATE_PATH).sort());
    for (const [kind, path] of Object.entries(TEMPLATE_PATH)) expect(TEMPLATE_KINDS[kind]?.path).toEqual(path);
  });

  test.each([
    ['Deployment', true],
    ['CronJob', true],
    ['PodTemplate', true],
    ['Pod', false],
    ['Service', false],
    ['deployment', false],
    ['toString', false],
    [undefined, false],
  ])('isPodController(%j) = %j', (kind, expected) => {
    expect(isPodController(kind)).toBe(expected);
  });
});

describe('reviewTemplate: the owner kind a template inherits', () => {
  // A template of only agent containers is a watcher only when its pods will belong to a ReplicaSet.
  // Only the one-replica Deployment can run two watch-only pods at once (its rolling update surges).
  test.each<[string, Policy, Rule, string[]]>([
    ['Deployment', 'only-watch', 'watcher-deployment', [surgeWarning()]],
    ['ReplicaSet', 'only-watch', 'watcher-deployment', []],
    ['DaemonSet', 'normal', 'default', []],
    ['StatefulSet', 'normal', 'default', []],
    ['ReplicationController', 'normal', 'default', []],
    ['Job', 'normal', 'default', []],
    ['CronJob', 'normal', 'default', []],
    ['PodTemplate', 'normal', 'default', []],
  ])('%s with only agent containers -> %s (%s)', (kind, policy, rule, warnings) => {
    const object = deepFreeze(controller(kind, [agent(), istio()]));
    const before = clone(object);
    const reviewed = reviewTemplate(object, { config: cfg() });
    expect(reviewed).toBeDefined();
    expect(reviewed!.review.decision).toMatchObject({ policy, rule });
    expect(reviewed!.review.warnings).toEqual(warnings);
    expect(object).toEqual(before);
    expect(reviewed!.object).not.toBe(object);
    // Every agent template gets the reason annotation; only a policy other than normal also gets the env.
    const expected = clone(before);
    const template = at(expected, TEMPLATE_PATH[kind]!) as {
      metadata: Record<string, unknown>;
      spec: { containers: Container[] };
    };
    template.metadata.annotations = { [REASON]: `${policy}/${rule}` };
    if (policy === 'normal') {
      expect(reviewed!.review.patch).toEqual([
        { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'normal/default' } },
      ]);
      expect(reviewed!.review.injected).toBeUndefined();
    } else {
      template.spec.containers[0]!.env = [{ name: 'K8S_WATCH_POLICY', value: 'watch-only' }];
      expect(reviewed!.review.injected).toBe('only-watch');
    }
    expect(reviewed!.object).toEqual(expected);
  });

  test.each(Object.keys(TEMPLATE_PATH).filter((kind) => kind !== 'DaemonSet'))(
    '%s with an app container: the template is mutated as a sidecar, the input is not',
    (kind) => {
      const object = deepFreeze(controller(kind, [app('web'), agent()]));
      const before = clone(object);
      const reviewed = reviewTemplate(object, { config: cfg() })!;
      expect(object).toEqual(before);
      expect(reviewed.review.decision).toMatchObject({ policy: 'watch-disabled', rule: 'serverless-sidecar' });
      expect(reviewed.review.allowed).toBe(true);
      expect(reviewed.object).not.toBe(object);

      // The mutated object differs from the input exactly at the template's annotation and the agent's env.
      const expected = clone(before);
      const template = at(expected, TEMPLATE_PATH[kind]!) as {
        metadata: Record<string, unknown>;
        spec: { containers: Container[] };
      };
      template.metadata.annotations = { [REASON]: 'watch-disabled/serverless-sidecar' };
      template.spec.containers[1]!.env = [{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }];
      expect(reviewed.object).toEqual(expected);
      expect(reviewed.review.warnings).toEqual([]);
    },
  );

  test('a DaemonSet with an app container is decided by its node: normal, only the reason annotation is added', () => {
    const object = deepFreeze(controller('DaemonSet', [app('web'), agent()]));
    const before = clone(object);
    const reviewed = reviewTemplate(object, { config: cfg() })!;
    expect(object).toEqual(before);
    expect(reviewed.review.decision).toEqual({
      policy: 'normal',
      rule: 'default',
      detail: 'no rule matched',
      affirmative: false,
    });
    expect(reviewed.review.warnings).toEqual([]);
    const expected = clone(before);
    (at(expected, ['spec', 'template', 'metadata']) as Record<string, unknown>).annotations = {
      [REASON]: 'normal/default',
    };
    expect(reviewed.object).toEqual(expected);
  });

  test('the review pod carries the namespace and the owner; the template does not get them', () => {
    const reviewed = reviewTemplate(controller('Deployment', [agent()]), { config: cfg() })!;
    expect(reviewed.review.warnings).toEqual([surgeWarning()]);
    expect(reviewed.review.pod.metadata?.namespace).toBe('deepflow');
    expect(reviewed.review.pod.metadata?.ownerReferences).toEqual([
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'deepflow-deployment', controller: true },
    ]);
    const template = at(reviewed.object, ['spec', 'template']) as { metadata: Record<string, unknown> };
    expect(template.metadata).toEqual({
      labels: { app: 'deepflow-agent' },
      annotations: { [REASON]: 'only-watch/watcher-deployment' },
    });
  });

  test('a CronJob template is at spec.jobTemplate.spec.template and its pods belong to a Job', () => {
    const object = controller('CronJob', [agent()], {
      tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists' }],
    });
    const reviewed = reviewTemplate(object, { config: cfg() })!;
    expect(reviewed.review.pod.metadata?.ownerReferences?.[0]?.kind).toBe('Job');
    expect(reviewed.review.decision).toMatchObject({ policy: 'watch-disabled', rule: 'serverless-toleration' });
    const env = (
      at(reviewed.object, ['spec', 'jobTemplate', 'spec', 'template', 'spec', 'containers']) as Container[]
    )[0]!.env;
    expect(env).toEqual([{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }]);
    expect(at(reviewed.object, ['spec', 'schedule'])).toBe('*/5 * * * *');
    expect(at(reviewed.object, ['spec', 'jobTemplate', 'spec', 'backoffLimit'])).toBe(2);
  });

  test('a DaemonSet template tolerating virtual-kubelet stays normal; a Deployment of agents does not become a sidecar', () => {
    const tolerations = [{ key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' }];
    expect(
      reviewTemplate(controller('DaemonSet', [agent()], { tolerations }), { config: cfg() })!.review.decision.rule,
    ).toBe('default');
    const deployment = reviewTemplate(controller('Deployment', [agent()], { tolerations }), { config: cfg() })!.review;
    expect(deployment.decision.rule).toBe('watcher-deployment');
    expect(deployment.warnings).toEqual([surgeWarning()]);
    expect(
      reviewTemplate(controller('StatefulSet', [agent()], { tolerations }), { config: cfg() })!.review.decision.rule,
    ).toBe('serverless-toleration');
  });

  test.each<[string, Record<string, string>, Record<string, string>]>([
    ['the ECI pod label', { 'alibabacloud.com/eci': 'true' }, {}],
    ['the Fargate pod label', { 'eks.amazonaws.com/fargate-profile': 'default' }, {}],
    ["TKE's ds-injection annotation", {}, { 'eks.tke.cloud.tencent.com/ds-injection': 'true' }],
  ])(
    'a DaemonSet template with %s stays normal (its copies on ordinary nodes are the natural watchers)',
    (_name, labels, annotations) => {
      const object = controller('DaemonSet', [agent()]);
      const metadata = at(object, ['spec', 'template', 'metadata']) as {
        labels: Record<string, string>;
        annotations?: Record<string, string>;
      };
      Object.assign(metadata.labels, labels);
      if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
      const reviewed = reviewTemplate(object, { config: cfg() })!;
      expect(reviewed.review.decision).toEqual({
        policy: 'normal',
        rule: 'default',
        detail: 'no rule matched',
        affirmative: false,
      });
      expect(at(reviewed.object, ['spec', 'template', 'metadata', 'annotations'])).toEqual({
        ...annotations,
        [REASON]: 'normal/default',
      });
      expect(at(reviewed.object, ['spec', 'template', 'spec', 'containers'])).toEqual([agent()]);
      // The same markers on a StatefulSet still make it watch-disabled.
      const statefulSet = controller('StatefulSet', [agent()]);
      const ssMetadata = at(statefulSet, ['spec', 'template', 'metadata']) as {
        labels: Record<string, string>;
        annotations?: Record<string, string>;
      };
      Object.assign(ssMetadata.labels, labels);
      if (Object.keys(annotations).length > 0) ssMetadata.annotations = annotations;
      expect(reviewTemplate(statefulSet, { config: cfg() })!.review.decision.policy).toBe('watch-disabled');
    },
  );

  test.each<[string, Record<string, unknown>, string]>([
    ['a serverless nodeSelector', { nodeSelector: { type: 'virtual-kubelet' } }, 'nodeSelector type=virtual-kubelet'],
    [
      'required affinity to serverless nodes',
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'eks.amazonaws.com/compute-type', operator: 'In', values: ['fargate'] }] },
              ],
            },
          },
        },
      },
      'required node affinity eks.amazonaws.com/compute-type In [fargate]',
    ],
  ])('a DaemonSet template pinned to serverless nodes by %s is watch-disabled', (_name, extra, detail) => {
    const reviewed = reviewTemplate(controller('DaemonSet', [app('web'), agent()], extra), { config: cfg() })!;
    expect(reviewed.review.decision).toEqual({
      policy: 'watch-disabled',
      rule: 'serverless-node-selector',
      detail,
      affirmative: true,
    });
    expect(at(reviewed.object, ['spec', 'template', 'metadata', 'annotations'])).toEqual({
      [REASON]: 'watch-disabled/serverless-node-selector',
    });
    expect((at(reviewed.object, ['spec', 'template', 'spec', 'containers']) as Container[])[1]!.env).toEqual([
      { name: 'K8S_WATCH_POLICY', value: 'watch-disabled' },
    ]);
  });

  test('a watcher Deployment pinned to virtual-kubelet stays only-watch', () => {
    const object = controller('Deployment', [agent()], { nodeSelector: { type: 'virtual-kubelet' } });
    const review = reviewTemplate(object, { config: cfg() })!.review;
    expect(review.decision).toMatchObject({ policy: 'only-watch', rule: 'watcher-deployment' });
    expect(review.warnings).toEqual([surgeWarning()]);
  });

  test('a template with ONLY_WATCH_K8S_RESOURCE is denied and the object returned untouched', () => {
    const object = deepFreeze(controller('Deployment', [agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'true')] })]));
    const reviewed = reviewTemplate(object, { config: cfg() })!;
    expect(reviewed.review.allowed).toBe(false);
    expect(reviewed.review.denial).toBe(
      'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); remove it and set K8S_WATCH_POLICY=watch-only (agents older than v6.6.6 read only ONLY_WATCH_K8S_RESOURCE: upgrade them first, or set deprecatedEnv: warn)',
    );
    // A denied template gets no replica warning, though its Deployment would surge.
    expect(reviewed.review.warnings).toEqual([]);
    expect(reviewed.review.patch).toEqual([]);
    expect(reviewed.object).toBe(object);
  });

  test('a template with an invalid policy label is denied', () => {
    const object = controller('DaemonSet', [agent()]);
    (at(object, ['spec', 'template', 'metadata']) as { labels: Record<string, string> }).labels[
      'deepflow.io/k8s-watch-policy'
    ] = 'watcher';
    expect(reviewTemplate(object, { config: cfg() })!.review.denial).toBe(
      'label deepflow.io/k8s-watch-policy: invalid value "watcher"; use one of watch-only, only-watch, watch-disabled, normal',
    );
  });

  test('a template labelled injection disabled is not mutated', () => {
    const object = controller('Deployment', [agent()]);
    (at(object, ['spec', 'template', 'metadata']) as { labels: Record<string, string> }).labels[INJECTION] = 'disabled';
    const reviewed = reviewTemplate(object, { config: cfg() })!;
    expect(reviewed.review.decision.rule).toBe('disabled');
    expect(reviewed.object).toBe(object);
  });

  test('a template without metadata gets the annotation', () => {
    const object: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'w' },
      spec: { template: { spec: { containers: [agent()] } } },
    };
    const reviewed = reviewTemplate(object, { config: cfg() })!;
    expect(at(reviewed.object, ['spec', 'template', 'metadata'])).toEqual({
      annotations: { [REASON]: 'only-watch/watcher-deployment' },
    });
    // No replicas: Kubernetes' default of 1, and the default rolling update surges.
    expect(reviewed.review.warnings).toEqual([surgeWarning()]);
  });

  test('a second review of the mutated object has no patch', () => {
    const first = reviewTemplate(controller('Deployment', [agent(), istio()]), { config: cfg() })!;
    const second = reviewTemplate(first.object, { config: cfg() })!;
    expect(second.review.patch).toEqual([]);
    expect(second.object).toBe(first.object);
    expect(second.review.decision).toEqual(first.review.decision);
    expect(second.review.warnings).toEqual([surgeWarning()]);
    expect(second.review.warnings).toEqual(first.review.warnings);
  });

  test('a second review of a mutated normal template has no patch either', () => {
    const first = reviewTemplate(controller('DaemonSet', [agent()]), { config: cfg() })!;
    expect(first.review.patch).toEqual([
      { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'normal/default' } },
    ]);
    const second = reviewTemplate(first.object, { config: cfg() })!;
    expect(second.review.patch).toEqual([]);
    expect(second.object).toBe(first.object);
  });

  test.each<[string, KubeObject]>([
    ['a Pod', { apiVersion: 'v1', kind: 'Pod', spec: { containers: [agent()] } }],
    ['a Service', { apiVersion: 'v1', kind: 'Service', spec: {} }],
    ['no kind', { spec: { template: { spec: { containers: [agent()] } } } }],
    ['a Deployment without template', { apiVersion: 'apps/v1', kind: 'Deployment', spec: { replicas: 1 } }],
    [
      'a Deployment whose template is not a map',
      { apiVersion: 'apps/v1', kind: 'Deployment', spec: { template: 'x' } },
    ],
    [
      'a CronJob without jobTemplate',
      { apiVersion: 'batch/v1', kind: 'CronJob', spec: { template: { spec: { containers: [agent()] } } } },
    ],
  ])('%s is not reviewed', (_name, object) => {
    expect(reviewTemplate(object, { config: cfg() })).toBeUndefined();
  });
});

describe('reviewTemplate: controllers that would run several watch-only agents at once', () => {
  const label = (object: KubeObject, value: string) => {
    const metadata = at(object, TEMPLATE_PATH[object.kind!]!) as { metadata: { labels: Record<string, string> } };
    metadata.metadata.labels['deepflow.io/k8s-watch-policy'] = value;
    return object;
  };

  test('a DaemonSet labelled only-watch warns: every node runs one', () => {
    const reviewed = reviewTemplate(label(controller('DaemonSet', [agent()]), 'only-watch'), { config: cfg() })!;
    expect(reviewed.review.decision).toMatchObject({ policy: 'only-watch', rule: 'label' });
    expect(reviewed.review.warnings).toEqual([
      `this DaemonSet runs watch-only agents (K8S_WATCH_POLICY=watch-only) on every node: ${FLAP}; run one watcher Deployment instead`,
    ]);
    expect((at(reviewed.object, ['spec', 'template', 'spec', 'containers']) as Container[])[0]!.env).toEqual([
      { name: 'K8S_WATCH_POLICY', value: 'watch-only' },
    ]);
  });

  test('a watcher Deployment with replicas 3 warns about the replicas', () => {
    const object = controller('Deployment', [agent()]);
    (object.spec as Record<string, unknown>).replicas = 3;
    expect(reviewTemplate(object, { config: cfg() })!.review.warnings).toEqual([
      `this Deployment runs watch-only agents (K8S_WATCH_POLICY=watch-only) with replicas: 3: ${FLAP}; use replicas: 1`,
    ]);
  });

  test('a watcher Deployment with maxSurge 0 or Recreate, and a one-replica StatefulSet, do not warn', () => {
    const noSurge = controller('Deployment', [agent()]);
    (noSurge.spec as Record<string, unknown>).strategy = {
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 0, maxUnavailable: 1 },
    };
    expect(reviewTemplate(noSurge, { config: cfg() })!.review.warnings).toEqual([]);
    const recreate = controller('Deployment', [agent()]);
    (recreate.spec as Record<string, unknown>).strategy = { type: 'Recreate' };
    expect(reviewTemplate(recreate, { config: cfg() })!.review.warnings).toEqual([]);
    const statefulSet = reviewTemplate(label(controller('StatefulSet', [agent()]), 'watch-only'), {
      config: cfg(),
    })!.review;
    expect(statefulSet.decision.policy).toBe('only-watch');
    expect(statefulSet.warnings).toEqual([]);
  });

  test('the warning names the configured spelling', () => {
    const reviewed = reviewTemplate(controller('Deployment', [agent()]), {
      config: cfg({ onlyWatchValue: 'only-watch' }),
    })!;
    expect(reviewed.review.warnings).toEqual([
      `this Deployment runs watch-only agents (K8S_WATCH_POLICY=only-watch) and its rolling update can surge to 2 pods: ${FLAP} during every rollout; set strategy.rollingUpdate.maxSurge: 0 (or strategy.type: Recreate)`,
    ]);
  });

  test.each<[string, Container[], string[]]>([
    ['watch-disabled (a sidecar)', [app('web'), agent()], []],
    [
      'watch-disabled (kept explicitly)',
      [agent({ env: [ev('K8S_WATCH_POLICY', 'watch-disabled')] })],
      [
        'container "deepflow-agent": K8S_WATCH_POLICY=watch-disabled kept (explicitEnv respect); the webhook would set only-watch (watcher-deployment)',
      ],
    ],
    ['normal (labelled)', [agent()], []],
  ])(
    'a Deployment whose agents run %s gets no replica warning, whatever its replicas',
    (name, containers, warnings) => {
      const object = controller('Deployment', containers);
      (object.spec as Record<string, unknown>).replicas = 5;
      if (name.startsWith('normal')) label(object, 'normal');
      expect(reviewTemplate(object, { config: cfg() })!.review.warnings).toEqual(warnings);
    },
  );
});
