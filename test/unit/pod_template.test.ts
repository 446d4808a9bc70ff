import { describe, expect, test } from '@jest/globals';
import { isPodController, reviewTemplate, TEMPLATE_KINDS } from '../../src/admission/pod_template.js';
import type { Rule } from '../../src/admission/decision.js';
import type { Container, KubeObject } from '../../src/kube/objects.js';
import type { Policy } from '../../src/policy/policy.js';
import { agent, app, cfg, clone, deepFreeze, ev, INJECTION, istio, REASON } from './fixtures.js';

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
  const metadata = { name: `deepflow-${kind.toLowerCase()}`, namespace: 'deepflow', labels: { 'app.kubernetes.io/name': 'deepflow' } };
  const base = { apiVersion: API_VERSIONS[kind], kind, metadata };
  switch (kind) {
    case 'CronJob':
      return { ...base, spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { backoffLimit: 2, template } } } };
    case 'PodTemplate':
      return { ...base, template };
    case 'Job':
      return { ...base, spec: { backoffLimit: 2, template: { ...template, spec: { ...template.spec, restartPolicy: 'Never' } } } };
    default:
      return { ...base, spec: { replicas: 1, selector: { matchLabels: { app: 'deepflow-agent' } }, template } };
  }
}

function at(object: unknown, path: string[]): unknown {
  return path.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], object);
}

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
  test.each<[string, Policy, Rule]>([
    ['Deployment', 'only-watch', 'watcher-deployment'],
    ['ReplicaSet', 'only-watch', 'watcher-deployment'],
    ['DaemonSet', 'normal', 'default'],
    ['StatefulSet', 'normal', 'default'],
    ['ReplicationController', 'normal', 'default'],
    ['Job', 'normal', 'default'],
    ['CronJob', 'normal', 'default'],
    ['PodTemplate', 'normal', 'default'],
  ])('%s with only agent containers -> %s (%s)', (kind, policy, rule) => {
    const object = deepFreeze(controller(kind, [agent(), istio()]));
    const before = clone(object);
    const reviewed = reviewTemplate(object, { config: cfg() });
    expect(reviewed).toBeDefined();
    expect(reviewed!.review.decision).toMatchObject({ policy, rule });
    expect(object).toEqual(before);
    if (policy === 'normal') {
      expect(reviewed!.object).toBe(object);
      expect(reviewed!.review.patch).toEqual([]);
    } else {
      const template = at(reviewed!.object, TEMPLATE_PATH[kind]!) as { metadata: { annotations: Record<string, string> }; spec: { containers: Container[] } };
      expect(template.metadata.annotations).toEqual({ [REASON]: `${policy}/${rule}` });
      expect(template.spec.containers[0]!.env).toEqual([{ name: 'K8S_WATCH_POLICY', value: 'only-watch' }]);
    }
  });

  test.each(Object.keys(TEMPLATE_PATH))('%s with an app container: the template is mutated as a sidecar, the input is not', (kind) => {
    const object = deepFreeze(controller(kind, [app('web'), agent()]));
    const before = clone(object);
    const reviewed = reviewTemplate(object, { config: cfg() })!;
    expect(object).toEqual(before);
    expect(reviewed.review.decision).toMatchObject({ policy: 'watch-disabled', rule: 'serverless-sidecar' });
    expect(reviewed.review.allowed).toBe(true);
    expect(reviewed.object).not.toBe(object);

    // The mutated object differs from the input exactly at the template's annotation and the agent's env.
    const expected = clone(before);
    const template = at(expected, TEMPLATE_PATH[kind]!) as { metadata: Record<string, unknown>; spec: { containers: Container[] } };
    template.metadata.annotations = { [REASON]: 'watch-disabled/serverless-sidecar' };
    template.spec.containers[1]!.env = [{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }];
    expect(reviewed.object).toEqual(expected);
  });

  test('the review pod carries the namespace and the owner; the template does not get them', () => {
    const reviewed = reviewTemplate(controller('Deployment', [agent()]), { config: cfg() })!;
    expect(reviewed.review.pod.metadata?.namespace).toBe('deepflow');
    expect(reviewed.review.pod.metadata?.ownerReferences).toEqual([
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'deepflow-deployment', controller: true },
    ]);
    const template = at(reviewed.object, ['spec', 'template']) as { metadata: Record<string, unknown> };
    expect(template.metadata).toEqual({ labels: { app: 'deepflow-agent' }, annotations: { [REASON]: 'only-watch/watcher-deployment' } });
  });

  test('a CronJob template is at spec.jobTemplate.spec.template and its pods belong to a Job', () => {
    const object = controller('CronJob', [agent()], { tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists' }] });
    const reviewed = reviewTemplate(object, { config: cfg() })!;
    expect(reviewed.review.pod.metadata?.ownerReferences?.[0]?.kind).toBe('Job');
    expect(reviewed.review.decision).toMatchObject({ policy: 'watch-disabled', rule: 'serverless-toleration' });
    const env = (at(reviewed.object, ['spec', 'jobTemplate', 'spec', 'template', 'spec', 'containers']) as Container[])[0]!.env;
    expect(env).toEqual([{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }]);
    expect(at(reviewed.object, ['spec', 'schedule'])).toBe('*/5 * * * *');
    expect(at(reviewed.object, ['spec', 'jobTemplate', 'spec', 'backoffLimit'])).toBe(2);
  });

  test('a DaemonSet template tolerating virtual-kubelet stays normal; a Deployment of agents does not become a sidecar', () => {
    const tolerations = [{ key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' }];
    expect(reviewTemplate(controller('DaemonSet', [agent()], { tolerations }), { config: cfg() })!.review.decision.rule).toBe('default');
    expect(reviewTemplate(controller('Deployment', [agent()], { tolerations }), { config: cfg() })!.review.decision.rule).toBe('watcher-deployment');
    expect(reviewTemplate(controller('StatefulSet', [agent()], { tolerations }), { config: cfg() })!.review.decision.rule).toBe('serverless-toleration');
  });

  test('a watcher Deployment pinned to virtual-kubelet stays only-watch', () => {
    const object = controller('Deployment', [agent()], { nodeSelector: { type: 'virtual-kubelet' } });
    expect(reviewTemplate(object, { config: cfg() })!.review.decision).toMatchObject({ policy: 'only-watch', rule: 'watcher-deployment' });
  });

  test('a template with ONLY_WATCH_K8S_RESOURCE is denied and the object returned untouched', () => {
    const object = deepFreeze(controller('Deployment', [agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'true')] })]));
    const reviewed = reviewTemplate(object, { config: cfg() })!;
    expect(reviewed.review.allowed).toBe(false);
    expect(reviewed.review.denial).toBe(
      'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported; remove it and set K8S_WATCH_POLICY=only-watch',
    );
    expect(reviewed.review.patch).toEqual([]);
    expect(reviewed.object).toBe(object);
  });

  test('a template with an invalid policy label is denied', () => {
    const object = controller('DaemonSet', [agent()]);
    (at(object, ['spec', 'template', 'metadata']) as { labels: Record<string, string> }).labels['deepflow.io/k8s-watch-policy'] = 'watcher';
    expect(reviewTemplate(object, { config: cfg() })!.review.denial).toBe(
      'label deepflow.io/k8s-watch-policy: invalid value "watcher"; use one of only-watch, watch-only, watch-disabled, normal',
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
    const object: KubeObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'w' }, spec: { template: { spec: { containers: [agent()] } } } };
    const reviewed = reviewTemplate(object, { config: cfg() })!;
    expect(at(reviewed.object, ['spec', 'template', 'metadata'])).toEqual({ annotations: { [REASON]: 'only-watch/watcher-deployment' } });
  });

  test('a second review of the mutated object has no patch', () => {
    const first = reviewTemplate(controller('Deployment', [agent(), istio()]), { config: cfg() })!;
    const second = reviewTemplate(first.object, { config: cfg() })!;
    expect(second.review.patch).toEqual([]);
    expect(second.object).toBe(first.object);
    expect(second.review.decision).toEqual(first.review.decision);
  });

  test.each<[string, KubeObject]>([
    ['a Pod', { apiVersion: 'v1', kind: 'Pod', spec: { containers: [agent()] } }],
    ['a Service', { apiVersion: 'v1', kind: 'Service', spec: {} }],
    ['no kind', { spec: { template: { spec: { containers: [agent()] } } } }],
    ['a Deployment without template', { apiVersion: 'apps/v1', kind: 'Deployment', spec: { replicas: 1 } }],
    ['a Deployment whose template is not a map', { apiVersion: 'apps/v1', kind: 'Deployment', spec: { template: 'x' } }],
    ['a CronJob without jobTemplate', { apiVersion: 'batch/v1', kind: 'CronJob', spec: { template: { spec: { containers: [agent()] } } } }],
  ])('%s is not reviewed', (_name, object) => {
    expect(reviewTemplate(object, { config: cfg() })).toBeUndefined();
  });
});
