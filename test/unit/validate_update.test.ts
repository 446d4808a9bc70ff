/**
 * `/validate` on UPDATE (validateController): a pod controller whose template is bad (here: it
 * still carries ONLY_WATCH_K8S_RESOURCE) is refused when it is created and whenever its pod
 * template changes, but an UPDATE that leaves the template as it was (labels, replicas, a
 * finalizer) or that touches an object being deleted is allowed with the finding as a warning,
 * so that objects predating the webhook can still be scaled and deleted.
 */
import { describe, expect, test } from '@jest/globals';
import type { AdmissionRequest } from '../../src/webhook/admission_review.ts';
import { validateController } from '../../src/webhook/validate.ts';
import type { Container, KubeObject } from '../../src/kube/objects.ts';
import { agent, app, cfg, clone, deepFreeze, ev } from '../support/fixtures.ts';

const UID = 'a3c1e7f0-1d2b-4c5e-8f90-123456789abc';

const DENIAL =
  'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); remove it and set K8S_WATCH_POLICY=watch-only (agents older than v6.6.6 read only ONLY_WATCH_K8S_RESOURCE: upgrade them first, or set deprecatedEnv: warn)';
/** The template's pods run watch-only (the webhook injects it) and the Deployment has the default rolling update. */
const SURGE =
  'this Deployment runs watch-only agents (K8S_WATCH_POLICY=watch-only) and its rolling update can surge to 2 pods: the DeepFlow server hands the watch to any watch-only agent, so several of them keep taking it from each other during every rollout; set strategy.rollingUpdate.maxSurge: 0 (or strategy.type: Recreate)';
const UNCHANGED = `${DENIAL} (allowed because its pod template is unchanged; the next change of the pod template is refused)`;
const DELETING = `${DENIAL} (allowed because the object is being deleted; the next change of the pod template is refused)`;

const badAgent = (): Container => agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'true')] });

function deployment(containers: Container[] = [badAgent()]): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'deepflow-watcher', namespace: 'deepflow', labels: { app: 'deepflow-watcher' }, generation: 3 },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'deepflow-watcher' } },
      template: { metadata: { labels: { app: 'deepflow-watcher' } }, spec: { containers } },
    },
  };
}

function cronJob(containers: Container[] = [badAgent()]): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'agent-check', namespace: 'deepflow' },
    spec: {
      schedule: '*/5 * * * *',
      jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers } } } },
    },
  };
}

function request(operation: 'CREATE' | 'UPDATE', object: KubeObject, oldObject?: KubeObject | null): AdmissionRequest {
  const kind = String(object.kind);
  const group = kind === 'CronJob' ? 'batch' : 'apps';
  return deepFreeze({
    uid: UID,
    kind: { group, version: 'v1', kind },
    resource: { group, version: 'v1', resource: `${kind.toLowerCase()}s` },
    namespace: 'deepflow',
    operation,
    object,
    ...(oldObject !== undefined && { oldObject }),
  });
}

/** A copy of `object` changed by `edit` (which may mutate the copy freely). */
function changed(object: KubeObject, edit: (o: any) => void): KubeObject {
  const copy = clone(object);
  edit(copy);
  return copy;
}

const allowedWith = (warnings: string[]) => ({ uid: UID, allowed: true, warnings });
const denied = (message: string) => ({ uid: UID, allowed: false, status: { code: 403, message } });

describe('validateController on UPDATE of a controller whose template carries ONLY_WATCH_K8S_RESOURCE', () => {
  const options = { config: cfg() };

  test.each<[string, (o: any) => void]>([
    ['nothing changed', () => {}],
    ['only replicas changed (a scale)', (o) => (o.spec.replicas = 5)],
    ['only the object labels changed', (o) => (o.metadata.labels = { app: 'deepflow-watcher', team: 'observability' })],
    [
      'only annotations and finalizers changed',
      (o) => Object.assign(o.metadata, { annotations: { owner: 'ops' }, finalizers: ['example.com/hold'] }),
    ],
    [
      'only status and generation changed',
      (o) => Object.assign(o, { status: { replicas: 1 } }, { metadata: { ...o.metadata, generation: 4 } }),
    ],
  ])('allowed with a warning when the template is unchanged: %s', (_name, edit) => {
    const old = deployment();
    const outcome = validateController(request('UPDATE', changed(old, edit), old), options);
    expect(outcome.result).toBe('unchanged');
    expect(outcome.response.response).toEqual(allowedWith([UNCHANGED]));
    expect(outcome.review?.allowed).toBe(true);
  });

  test('the template compares by content, not by key order', () => {
    const old = deployment();
    const template = (old.spec as any).template;
    const reordered = {
      ...old,
      spec: {
        template: { spec: template.spec, metadata: template.metadata },
        selector: (old.spec as any).selector,
        replicas: 2,
      },
    };
    const outcome = validateController(request('UPDATE', reordered, old), options);
    expect(outcome.response.response).toEqual(allowedWith([UNCHANGED]));
  });

  test.each<[string, (o: any) => void]>([
    ['the image changed', (o) => (o.spec.template.spec.containers[0].image = 'deepflow-agent:v6.7')],
    ['a template label was added', (o) => (o.spec.template.metadata.labels.tier = 'watch')],
    [
      'kubectl rollout restart (a template annotation)',
      (o) => (o.spec.template.metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' }),
    ],
    ['the deprecated value changed', (o) => (o.spec.template.spec.containers[0].env[0].value = 'false')],
    ['a container was added', (o) => o.spec.template.spec.containers.push(app())],
  ])('denied when the template changes: %s', (_name, edit) => {
    const old = deployment();
    const outcome = validateController(request('UPDATE', changed(old, edit), old), options);
    expect(outcome.result).toBe('denied');
    expect(outcome.response.response).toEqual(denied(DENIAL));
  });

  test('denied when there is no oldObject to compare with', () => {
    expect(validateController(request('UPDATE', deployment()), options).response.response).toEqual(denied(DENIAL));
    expect(validateController(request('UPDATE', deployment(), null), options).response.response).toEqual(
      denied(DENIAL),
    );
  });

  test('denied when the oldObject has no template', () => {
    const old = changed(deployment(), (o) => delete o.spec.template);
    expect(validateController(request('UPDATE', deployment(), old), options).response.response).toEqual(denied(DENIAL));
  });

  test('allowed with a warning when the object is being deleted, even if the template changes', () => {
    const old = deployment();
    const deleting = changed(old, (o) => {
      o.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
      o.metadata.finalizers = [];
      o.spec.template.spec.containers[0].image = 'deepflow-agent:v6.7';
    });
    const outcome = validateController(request('UPDATE', deleting, old), options);
    expect(outcome.result).toBe('unchanged');
    expect(outcome.response.response).toEqual(allowedWith([DELETING]));
    // Without oldObject too: the deletion alone is enough.
    expect(validateController(request('UPDATE', deleting), options).response.response).toEqual(allowedWith([DELETING]));
  });

  test('a CronJob is compared on spec.jobTemplate.spec.template', () => {
    const old = cronJob();
    const suspended = changed(old, (o) => (o.spec.suspend = true));
    expect(validateController(request('UPDATE', suspended, old), options).response.response).toEqual(
      allowedWith([UNCHANGED]),
    );
    const edited = changed(old, (o) => (o.spec.jobTemplate.spec.template.spec.restartPolicy = 'OnFailure'));
    expect(validateController(request('UPDATE', edited, old), options).response.response).toEqual(denied(DENIAL));
  });

  test('the earlier warnings come first and every denial reason is kept', () => {
    const config = cfg({ invalidPolicy: 'warn' });
    const containers = [
      agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'true'), ev('K8S_WATCH_POLICY', 'WATCH-ONLY')] }),
      app('sidecar', { env: [ev('ONLY_WATCH_K8S_RESOURCE', '')] }),
    ];
    const old = deployment(containers);
    const both =
      `${DENIAL}; container "sidecar": ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); ` +
      'remove it and set K8S_WATCH_POLICY=watch-only (agents older than v6.6.6 read only ONLY_WATCH_K8S_RESOURCE: upgrade them first, or set deprecatedEnv: warn)';
    const invalid =
      'container "deepflow-agent": K8S_WATCH_POLICY="WATCH-ONLY" is not a value the agent knows (it would silently run as normal); use watch-only or watch-disabled';
    const scaled = changed(old, (o) => (o.spec.replicas = 0));
    expect(validateController(request('UPDATE', scaled, old), { config }).response.response).toEqual(
      allowedWith([
        invalid,
        `${both} (allowed because its pod template is unchanged; the next change of the pod template is refused)`,
      ]),
    );
    expect(validateController(request('CREATE', old), { config }).response.response).toEqual({
      ...denied(both),
      warnings: [invalid],
    });
  });

  test('an UPDATE that removes the deprecated variable is allowed without warnings', () => {
    const old = deployment();
    const fixed = changed(old, (o) => {
      o.spec.template.spec.containers[0].env = [ev('K8S_WATCH_POLICY', 'watch-only')];
      o.spec.strategy = { type: 'Recreate' };
    });
    const outcome = validateController(request('UPDATE', fixed, old), options);
    expect(outcome.result).toBe('unchanged');
    expect(outcome.response.response).toEqual({ uid: UID, allowed: true });
  });

  test('an UPDATE that removes the deprecated variable but keeps the default rolling update is allowed with the surge warning', () => {
    const old = deployment();
    const fixed = changed(
      old,
      (o) => (o.spec.template.spec.containers[0].env = [ev('K8S_WATCH_POLICY', 'watch-only')]),
    );
    const outcome = validateController(request('UPDATE', fixed, old), options);
    expect(outcome.result).toBe('unchanged');
    expect(outcome.response.response).toEqual(allowedWith([SURGE]));
  });

  test('an UPDATE that sets the other spelling is allowed with the respelling warning (and the surge warning)', () => {
    const old = deployment();
    const fixed = changed(
      old,
      (o) => (o.spec.template.spec.containers[0].env = [ev('K8S_WATCH_POLICY', 'only-watch')]),
    );
    const outcome = validateController(request('UPDATE', fixed, old), options);
    expect(outcome.result).toBe('unchanged');
    expect(outcome.response.response).toEqual(
      allowedWith([
        'container "deepflow-agent": K8S_WATCH_POLICY=only-watch respelled watch-only: the agent reads only watch-only and would run as normal with only-watch (onlyWatchValue)',
        SURGE,
      ]),
    );
  });

  test('an UPDATE to an agent image older than v6.6.6 is denied with the upgrade advice', () => {
    const old = deployment();
    const image = 'registry.cn-beijing.aliyuncs.com/deepflow-ce/deepflow-agent:v6.6.4';
    const downgraded = changed(old, (o) => (o.spec.template.spec.containers[0].image = image));
    expect(validateController(request('UPDATE', downgraded, old), options).response.response).toEqual(
      denied(
        'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); remove it and set K8S_WATCH_POLICY=watch-only; ' +
          `its image "${image}" is an agent older than v6.6.6, which reads only ONLY_WATCH_K8S_RESOURCE: upgrade the agent to v6.6.6 or later (or set deprecatedEnv: warn)`,
      ),
    );
  });

  test('an UPDATE that introduces the deprecated variable is denied', () => {
    const old = deployment([agent()]);
    const broken = changed(
      old,
      (o) => (o.spec.template.spec.containers[0].env = [ev('ONLY_WATCH_K8S_RESOURCE', 'true')]),
    );
    expect(validateController(request('UPDATE', broken, old), options).response.response).toEqual(denied(DENIAL));
  });

  test('with deprecatedEnv: warn the UPDATE is allowed with the plain warning, not the grace one', () => {
    const old = deployment();
    const outcome = validateController(
      request(
        'UPDATE',
        changed(old, (o) => (o.spec.template.spec.containers[0].image = 'x')),
        old,
      ),
      { config: cfg({ deprecatedEnv: 'warn' }) },
    );
    expect(outcome.response.response).toEqual(
      allowedWith([
        'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is deprecated and makes agents from v6.6.6 on exit; remove it and set K8S_WATCH_POLICY=watch-only (agents older than v6.6.6 read only ONLY_WATCH_K8S_RESOURCE: upgrade them first)',
        SURGE,
      ]),
    );
  });
});

describe('validateController on CREATE is always denied for such a template', () => {
  const options = { config: cfg() };

  test.each<[string, KubeObject, KubeObject | undefined]>([
    ['a Deployment', deployment(), undefined],
    ['a CronJob', cronJob(), undefined],
    ['with an identical oldObject', deployment(), deployment()],
    [
      'with deletionTimestamp set',
      changed(deployment(), (o) => (o.metadata.deletionTimestamp = '2026-01-01T00:00:00Z')),
      undefined,
    ],
  ])('%s', (_name, object, old) => {
    const outcome = validateController(request('CREATE', object, old), options);
    expect(outcome.result).toBe('denied');
    expect(outcome.response.response).toEqual(denied(DENIAL));
    expect(outcome.review?.allowed).toBe(false);
  });
});
