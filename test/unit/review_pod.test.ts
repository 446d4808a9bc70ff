import { describe, expect, test } from '@jest/globals';
import type { Operation } from 'fast-json-patch';
import type { NodeLookup } from '../../src/kube/node_lookup.ts';
import { reviewPod, type PodReview } from '../../src/admission/review_pod.ts';
import type { Config } from '../../src/config/config.ts';
import type { Pod } from '../../src/kube/objects.ts';
import {
  agent,
  app,
  applyTo,
  cfg,
  clone,
  deepFreeze,
  envOf,
  ev,
  evFrom,
  INJECTION,
  istio,
  nativeSidecar,
  nodeLookup,
  pod,
  POLICY,
  REASON,
  ROLE,
  VIRTUAL_NODE,
} from '../support/fixtures.ts';

/**
 * Reviews a deep-frozen copy of `p` and checks the invariants every review must keep: the input
 * is untouched, the patch applies to a copy of the input and gives review.pod, a denial has no
 * patch, and a second review of review.pod has no patch and the same decision.
 */
function review(p: Pod, config: Config = cfg(), nodes?: NodeLookup): PodReview {
  const before = clone(p);
  const input = deepFreeze(clone(p));
  const r = reviewPod(input, { config, ...(nodes && { nodes }) });
  expect(input).toEqual(before);
  expect(applyTo(input, r.patch)).toEqual(r.pod);
  if (r.patch.length === 0) expect(r.pod).toBe(input);
  if (!r.allowed) {
    expect(r.patch).toEqual([]);
    expect(r.denial).toBeTruthy();
  } else {
    expect(r.denial).toBeUndefined();
    const again = reviewPod(deepFreeze(clone(r.pod)), { config, ...(nodes && { nodes }) });
    expect(again.patch).toEqual([]);
    expect(again.allowed).toBe(true);
    expect(again.decision).toEqual(r.decision);
  }
  return r;
}

/** The exact set of operations (fast-json-patch's order of independent operations is not part of the contract). */
function expectPatch(actual: Operation[], expected: Operation[]): void {
  const sorted = (ops: Operation[]) => ops.map((o) => JSON.stringify(o)).sort();
  expect(sorted(actual)).toEqual(sorted(expected));
}

const deprecated = (value = 'true') => ev('ONLY_WATCH_K8S_RESOURCE', value);
const UPGRADE =
  '(agents older than v6.6.6 read only ONLY_WATCH_K8S_RESOURCE: upgrade them first, or set deprecatedEnv: warn)';
const denied = (where: string, spelling = 'watch-only') =>
  `${where}: ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); remove it and set K8S_WATCH_POLICY=${spelling} ${UPGRADE}`;
const deprecatedWarning = (where: string, why = '') =>
  `${where}: ONLY_WATCH_K8S_RESOURCE is deprecated and makes agents from v6.6.6 on exit${why}; remove it and set K8S_WATCH_POLICY=watch-only (agents older than v6.6.6 read only ONLY_WATCH_K8S_RESOURCE: upgrade them first)`;
const policyEnv = (value: string) => ev('K8S_WATCH_POLICY', value);

describe('the patch', () => {
  test('a sidecar without annotations and env: add the annotations map and the env list', () => {
    const r = review(pod({ containers: [app('web'), agent()] }));
    expect(r.allowed).toBe(true);
    expect(r.warnings).toEqual([]);
    expect(r.injected).toBe('watch-disabled');
    expectPatch(r.patch, [
      { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'watch-disabled/serverless-sidecar' } },
      { op: 'add', path: '/spec/containers/1/env', value: [{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }] },
    ]);
  });

  test('existing annotations: the reason key is escaped per RFC 6901', () => {
    const r = review(pod({ owner: 'ReplicaSet', annotations: { 'prometheus.io/scrape': 'true', 'a~b/c': 'x' } }));
    expectPatch(r.patch, [
      {
        op: 'add',
        path: '/metadata/annotations/deepflow.io~1k8s-watch-policy-reason',
        value: 'only-watch/watcher-deployment',
      },
      { op: 'add', path: '/spec/containers/0/env', value: [{ name: 'K8S_WATCH_POLICY', value: 'watch-only' }] },
    ]);
    expect(r.pod.metadata?.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'a~b/c': 'x',
      [REASON]: 'only-watch/watcher-deployment',
    });
  });

  test('an existing env list is appended to', () => {
    const r = review(
      pod({
        owner: 'ReplicaSet',
        annotations: {},
        containers: [agent({ env: [ev('RUST_LOG', 'info'), evFrom('K8S_NODE_IP_FOR_DEEPFLOW')] })],
      }),
    );
    expectPatch(r.patch, [
      {
        op: 'add',
        path: '/metadata/annotations/deepflow.io~1k8s-watch-policy-reason',
        value: 'only-watch/watcher-deployment',
      },
      { op: 'add', path: '/spec/containers/0/env/2', value: { name: 'K8S_WATCH_POLICY', value: 'watch-only' } },
    ]);
  });

  test('an existing reason annotation is replaced', () => {
    const r = review(pod({ owner: 'ReplicaSet', annotations: { [REASON]: 'normal/default' } }));
    expect(r.patch).toContainEqual({
      op: 'replace',
      path: '/metadata/annotations/deepflow.io~1k8s-watch-policy-reason',
      value: 'only-watch/watcher-deployment',
    });
  });

  test('every agent container gets the variable', () => {
    const r = review(
      pod({
        containers: [agent(), app(), agent({ name: 'agent-2', env: [] })],
        initContainers: [nativeSidecar(agent({ name: 'agent-3' }))],
      }),
    );
    expectPatch(r.patch, [
      { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'watch-disabled/serverless-sidecar' } },
      { op: 'add', path: '/spec/initContainers/0/env', value: [{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }] },
      { op: 'add', path: '/spec/containers/2/env/0', value: { name: 'K8S_WATCH_POLICY', value: 'watch-disabled' } },
      { op: 'add', path: '/spec/containers/0/env', value: [{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }] },
    ]);
  });

  test('a native sidecar agent is patched in initContainers', () => {
    const p = pod({ initContainers: [app('init-db'), nativeSidecar(agent())], containers: [app('web')] });
    const r = review(p);
    expect(envOf(r.pod)).toEqual([{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }]);
    expectPatch(r.patch, [
      { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'watch-disabled/serverless-sidecar' } },
      { op: 'add', path: '/spec/initContainers/1/env', value: [{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }] },
    ]);
    expect(r.pod.spec?.containers).toEqual(p.spec?.containers);
  });

  test('a pod without metadata gets one', () => {
    const r = review({ spec: { containers: [agent({ name: 'x' }), app()] } });
    expect(r.patch).toContainEqual({
      op: 'add',
      path: '/metadata',
      value: { annotations: { [REASON]: 'watch-disabled/serverless-sidecar' } },
    });
  });

  test('an agent container that already has the value: only the reason is added', () => {
    const r = review(pod({ containers: [app(), agent({ env: [policyEnv('watch-disabled')] })] }));
    expect(r.patch).toEqual([
      { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'watch-disabled/serverless-sidecar' } },
    ]);
    expect(r.injected).toBeUndefined();
    expect(r.decision).toMatchObject({ policy: 'watch-disabled', rule: 'serverless-sidecar' });
  });

  test('an agent container that already has the value and the reason: no patch', () => {
    const r = review(
      pod({
        annotations: { [REASON]: 'watch-disabled/serverless-sidecar' },
        containers: [app(), agent({ env: [policyEnv('watch-disabled')] })],
      }),
    );
    expect(r.patch).toEqual([]);
  });

  test('normal: no variable, the reason normal/default', () => {
    const r = review(pod({ owner: 'DaemonSet' }));
    expect(r).toMatchObject({ allowed: true, warnings: [], decision: { policy: 'normal', rule: 'default' } });
    expect(r.patch).toEqual([{ op: 'add', path: '/metadata/annotations', value: { [REASON]: 'normal/default' } }]);
    expect(r.injected).toBeUndefined();
  });

  test('a pod without an agent gets no reason', () => {
    expect(review(pod({ containers: [app()] })).patch).toEqual([]);
  });

  test('label only-watch injects with rule label', () => {
    const r = review(pod({ owner: 'DaemonSet', labels: { [POLICY]: 'only-watch' } }));
    expect(envOf(r.pod)).toEqual([policyEnv('watch-only')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/label');
  });

  test('injection disabled: no patch even for a sidecar', () => {
    const r = review(pod({ labels: { [INJECTION]: 'disabled' }, containers: [agent(), app()] }));
    expect(r).toMatchObject({ allowed: true, patch: [], decision: { rule: 'disabled' } });
  });

  test('an agent only in ephemeralContainers is not injected', () => {
    const r = review(pod({ containers: [app()], ephemeralContainers: [agent()] }));
    expect(r).toMatchObject({ allowed: true, patch: [], decision: { rule: 'no-agent' } });
  });

  test('the node lookup is used for the target node', () => {
    const r = review(
      pod({ owner: 'DaemonSet', spec: { nodeName: VIRTUAL_NODE.name } }),
      cfg(),
      nodeLookup(VIRTUAL_NODE),
    );
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('watch-disabled/serverless-node-label');
    expect(
      review(pod({ owner: 'DaemonSet', spec: { nodeName: VIRTUAL_NODE.name } })).pod.metadata?.annotations?.[REASON],
    ).toBe('normal/default');
  });
});

describe('onlyWatchValue', () => {
  test('watch-only, the spelling released agents read, is the default', () => {
    const r = review(pod({ owner: 'ReplicaSet' }));
    expect(envOf(r.pod)).toEqual([policyEnv('watch-only')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/watcher-deployment');
  });

  test('only-watch is written for agents built to the design spelling', () => {
    const r = review(pod({ owner: 'ReplicaSet' }), cfg({ onlyWatchValue: 'only-watch' }));
    expect(envOf(r.pod)).toEqual([policyEnv('only-watch')]);
  });

  const respelled = (explicit: string, spelling: string) =>
    `container "deepflow-agent": K8S_WATCH_POLICY=${explicit} respelled ${spelling}: the agent reads only ${spelling} and would run as normal with ${explicit} (onlyWatchValue)`;

  test.each([
    ['only-watch', 'watch-only', 'respect'],
    ['watch-only', 'only-watch', 'respect'],
    ['only-watch', 'watch-only', 'override'],
    ['watch-only', 'only-watch', 'override'],
  ] as const)(
    'a watcher with an explicit %s and onlyWatchValue %s is respelled with a warning (explicitEnv %s)',
    (explicit, spelling, explicitEnv) => {
      const r = review(
        pod({ owner: 'ReplicaSet', containers: [agent({ env: [policyEnv(explicit)] })] }),
        cfg({ onlyWatchValue: spelling, explicitEnv }),
      );
      expect(r.patch).toContainEqual({ op: 'replace', path: '/spec/containers/0/env/0/value', value: spelling });
      expect(envOf(r.pod)).toEqual([policyEnv(spelling)]);
      expect(r.warnings).toEqual([respelled(explicit, spelling)]);
      expect(r.injected).toBe('only-watch');
      expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/watcher-deployment');
    },
  );

  test('an explicit only-watch with a default decision is respelled and kept as explicit', () => {
    const r = review(pod({ owner: 'DaemonSet', containers: [agent({ env: [policyEnv('only-watch')] })] }));
    expect(envOf(r.pod)).toEqual([policyEnv('watch-only')]);
    expect(r.warnings).toEqual([respelled('only-watch', 'watch-only')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/explicit-env');
    expect(r.injected).toBeUndefined();
  });

  test('an explicit only-watch on a sidecar (respect) is kept, respelled, with both warnings', () => {
    const r = review(pod({ containers: [agent({ env: [policyEnv('only-watch')] }), app()] }));
    expect(envOf(r.pod)).toEqual([policyEnv('watch-only')]);
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY=only-watch kept (explicitEnv respect); the webhook would set watch-disabled (serverless-sidecar)',
      respelled('only-watch', 'watch-only'),
    ]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/explicit-env');
  });

  test('the same spelling: only the reason', () => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent({ env: [policyEnv('watch-only')] })] }));
    expect(r.warnings).toEqual([]);
    expect(r.patch).toEqual([
      { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'only-watch/watcher-deployment' } },
    ]);
  });
});

describe('duplicate K8S_WATCH_POLICY entries', () => {
  const twice =
    'container "deepflow-agent": K8S_WATCH_POLICY was set 2 times; the earlier entries are removed, the last one (the one the agent reads) is kept';

  test('respect: the earlier entries go, the last (the one in effect) stays', () => {
    const r = review(
      pod({
        owner: 'DaemonSet',
        containers: [agent({ env: [policyEnv('watch-disabled'), ev('A', '1'), policyEnv('watch-only')] })],
      }),
    );
    expect(envOf(r.pod)).toEqual([ev('A', '1'), policyEnv('watch-only')]);
    expect(r.warnings).toEqual([twice]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/explicit-env');
  });

  test('override: exactly one entry is left, with the decided value', () => {
    const r = review(
      pod({ containers: [agent({ env: [policyEnv('watch-only'), policyEnv('only-watch'), policyEnv('')] }), app()] }),
      cfg({ explicitEnv: 'override' }),
    );
    expect(envOf(r.pod)).toEqual([policyEnv('watch-disabled')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('watch-disabled/serverless-sidecar');
  });

  test('override to normal removes every entry', () => {
    const r = review(
      pod({
        labels: { [POLICY]: 'normal' },
        containers: [agent({ env: [policyEnv('watch-only'), policyEnv('watch-disabled')] })],
      }),
      cfg({ explicitEnv: 'override' }),
    );
    expect(envOf(r.pod)).toEqual([]);
  });

  test('the upstream watcher with a user extra env of the other spelling: one watch-only entry', () => {
    const r = review(
      pod({ owner: 'ReplicaSet', containers: [agent({ env: [policyEnv('watch-only'), policyEnv('only-watch')] })] }),
    );
    expect(envOf(r.pod)).toEqual([policyEnv('watch-only')]);
    expect(r.warnings).toEqual([twice, respelled2('only-watch', 'watch-only')]);
  });
});

const respelled2 = (explicit: string, spelling: string) =>
  `container "deepflow-agent": K8S_WATCH_POLICY=${explicit} respelled ${spelling}: the agent reads only ${spelling} and would run as normal with ${explicit} (onlyWatchValue)`;

describe('deprecatedEnv', () => {
  test('reject: the exact denial', () => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent({ env: [deprecated()] })] }));
    expect(r.allowed).toBe(false);
    expect(r.denial).toBe(denied('container "deepflow-agent"'));
    expect(r.decision).toMatchObject({ policy: 'only-watch', rule: 'watcher-deployment' });
  });

  test('reject: the fix names the configured spelling', () => {
    const r = review(pod({ containers: [agent({ env: [deprecated()] })] }), cfg({ onlyWatchValue: 'only-watch' }));
    expect(r.denial).toBe(denied('container "deepflow-agent"', 'only-watch'));
  });

  test.each([
    'deepflow-agent:v6.6.4',
    'registry:5000/deepflow/deepflow-agent:v6.5',
    'deepflow-agent:6.6.5-rc1@sha256:abc',
  ])('reject: an image %s older than v6.6.6 is named, with the upgrade', (image) => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent({ image, env: [deprecated()] })] }));
    expect(r.denial).toBe(
      'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); ' +
        `remove it and set K8S_WATCH_POLICY=watch-only; its image ${JSON.stringify(image)} is an agent older than v6.6.6, which reads only ONLY_WATCH_K8S_RESOURCE: ` +
        'upgrade the agent to v6.6.6 or later (or set deprecatedEnv: warn)',
    );
  });

  test.each([
    'deepflow-agent:v6.6',
    'deepflow-agent:v6.6.6',
    'deepflow-agent:v7.1',
    'deepflow-agent:latest',
    'deepflow-agent',
  ])('reject: an image %s is not called old', (image) => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent({ image, env: [deprecated()] })] }));
    expect(r.denial).toBe(denied('container "deepflow-agent"'));
  });

  test.each([
    ['an empty value', ev('ONLY_WATCH_K8S_RESOURCE', '')],
    ['no value', ev('ONLY_WATCH_K8S_RESOURCE')],
    ['valueFrom', evFrom('ONLY_WATCH_K8S_RESOURCE')],
  ])('reject: an init container with %s is denied', (_name, variable) => {
    const r = review(pod({ initContainers: [{ name: 'wait-for-server', image: 'busybox:1.36', env: [variable] }] }));
    expect(r.denial).toBe(denied('init container "wait-for-server"'));
  });

  test('reject: an ephemeral container is denied', () => {
    const r = review(pod({ ephemeralContainers: [{ name: 'debug', image: 'busybox', env: [deprecated('1')] }] }));
    expect(r.denial).toBe(denied('ephemeral container "debug"'));
  });

  test('reject: an application container is denied too, even in a pod without an agent', () => {
    const r = review(pod({ containers: [app('web', { env: [deprecated()] })] }));
    expect(r).toMatchObject({ allowed: false, denial: denied('container "web"') });
  });

  test('reject: injection disabled still validates', () => {
    const r = review(pod({ labels: { [INJECTION]: 'disabled' }, containers: [agent({ env: [deprecated()] })] }));
    expect(r.allowed).toBe(false);
    expect(r.decision.rule).toBe('disabled');
  });

  test('reject: every offender is named, joined with "; "', () => {
    const r = review(
      pod({
        labels: { [POLICY]: 'bogus' },
        initContainers: [{ name: 'init', env: [deprecated()] }],
        containers: [agent({ env: [deprecated(), policyEnv('WATCH-ONLY')] })],
      }),
    );
    expect(r.denial).toBe(
      [
        'label deepflow.io/k8s-watch-policy: invalid value "bogus"; use one of watch-only, only-watch, watch-disabled, normal',
        denied('container "deepflow-agent"'),
        denied('init container "init"'),
        'container "deepflow-agent": K8S_WATCH_POLICY="WATCH-ONLY" is not a value the agent knows (it would silently run as normal); use watch-only or watch-disabled',
      ].join('; '),
    );
  });

  test('warn: allowed with a warning, the variable left in place, the decision still applied', () => {
    const r = review(pod({ containers: [agent({ env: [deprecated()] }), app()] }), cfg({ deprecatedEnv: 'warn' }));
    expect(r.allowed).toBe(true);
    expect(r.warnings).toEqual([deprecatedWarning('container "deepflow-agent"', '')]);
    expect(envOf(r.pod)).toEqual([deprecated(), policyEnv('watch-disabled')]);
  });

  test('warn: an init container', () => {
    const r = review(
      pod({
        owner: 'DaemonSet',
        annotations: { [REASON]: 'normal/default' },
        initContainers: [{ name: 'init', env: [deprecated('')] }],
      }),
      cfg({ deprecatedEnv: 'warn' }),
    );
    expect(r).toMatchObject({ allowed: true, patch: [] });
    expect(r.warnings).toEqual([deprecatedWarning('init container "init"', '')]);
  });

  test('migrate: replaced in place by K8S_WATCH_POLICY=<spelling>', () => {
    const r = review(
      pod({ owner: 'DaemonSet', containers: [agent({ env: [ev('A', '1'), deprecated(), ev('B', '2')] })] }),
      cfg({ deprecatedEnv: 'migrate' }),
    );
    expect(r.allowed).toBe(true);
    expect(envOf(r.pod)).toEqual([ev('A', '1'), policyEnv('watch-only'), ev('B', '2')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/migrated');
    expect(r.warnings).toEqual([
      'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE replaced by K8S_WATCH_POLICY=watch-only',
    ]);
    expect(r.injected).toBeUndefined();
  });

  test('migrate: only-watch spelling, duplicates removed', () => {
    const r = review(
      pod({ owner: 'DaemonSet', containers: [agent({ env: [deprecated(''), ev('A', '1'), deprecated('true')] })] }),
      cfg({ deprecatedEnv: 'migrate', onlyWatchValue: 'only-watch' }),
    );
    expect(envOf(r.pod)).toEqual([policyEnv('only-watch'), ev('A', '1')]);
  });

  test('migrate: K8S_WATCH_POLICY already present is kept and the deprecated variable removed', () => {
    const r = review(
      pod({ owner: 'DaemonSet', containers: [agent({ env: [deprecated(), policyEnv('watch-disabled')] })] }),
      cfg({ deprecatedEnv: 'migrate' }),
    );
    expect(envOf(r.pod)).toEqual([policyEnv('watch-disabled')]);
    expectPatch(r.patch, [
      { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'watch-disabled/migrated' } },
      { op: 'remove', path: '/spec/containers/0/env/0' },
    ]);
    expect(r.warnings).toEqual([
      'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE removed; its K8S_WATCH_POLICY is kept',
    ]);
  });

  test('migrate: a watcher keeps the migrated value, which is what the rules give', () => {
    const r = review(
      pod({ owner: 'ReplicaSet', containers: [agent({ env: [deprecated()] })] }),
      cfg({ deprecatedEnv: 'migrate' }),
    );
    expect(envOf(r.pod)).toEqual([policyEnv('watch-only')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/watcher-deployment');
  });

  test('migrate + override on a sidecar: the decision replaces the migrated value', () => {
    const r = review(
      pod({ containers: [agent({ env: [deprecated()] }), app()] }),
      cfg({ deprecatedEnv: 'migrate', explicitEnv: 'override' }),
    );
    expect(envOf(r.pod)).toEqual([policyEnv('watch-disabled')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('watch-disabled/serverless-sidecar');
    expect(r.warnings).toEqual([
      'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE replaced by K8S_WATCH_POLICY=watch-only',
      'container "deepflow-agent": K8S_WATCH_POLICY=watch-only replaced by watch-disabled: watch-disabled (serverless-sidecar), explicitEnv override',
    ]);
  });

  test('migrate + respect on a sidecar: the migrated value is kept with a warning', () => {
    const r = review(pod({ containers: [agent({ env: [deprecated()] }), app()] }), cfg({ deprecatedEnv: 'migrate' }));
    expect(envOf(r.pod)).toEqual([policyEnv('watch-only')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/migrated');
    expect(r.warnings).toContain(
      'container "deepflow-agent": K8S_WATCH_POLICY=watch-only kept (explicitEnv respect); the webhook would set watch-disabled (serverless-sidecar)',
    );
  });

  test('migrate: a non-agent container only warns', () => {
    const r = review(
      pod({
        owner: 'ReplicaSet',
        initContainers: [{ name: 'init', env: [deprecated()] }],
        containers: [agent(), app('web', { env: [deprecated()] })],
      }),
      cfg({ deprecatedEnv: 'migrate' }),
    );
    expect(r.warnings).toEqual([
      deprecatedWarning('container "web"', ' (not an agent container, not migrated)'),
      deprecatedWarning('init container "init"', ' (not an agent container, not migrated)'),
    ]);
    expect(envOf(r.pod, 'web')).toEqual([deprecated()]);
    expect(envOf(r.pod, 'init')).toEqual([deprecated()]);
    expect(envOf(r.pod)).toEqual([policyEnv('watch-disabled')]);
  });

  test('migrate: injection disabled only warns', () => {
    const r = review(
      pod({ labels: { [INJECTION]: 'disabled' }, containers: [agent({ env: [deprecated()] })] }),
      cfg({ deprecatedEnv: 'migrate' }),
    );
    expect(r).toMatchObject({ allowed: true, patch: [] });
    expect(r.warnings).toEqual([
      deprecatedWarning('container "deepflow-agent"', ' (injection disabled, not migrated)'),
    ]);
  });

  test('migrate: an agent older than v6.6.6 is not migrated (it reads only the old variable), with a warning', () => {
    const r = review(
      pod({ owner: 'ReplicaSet', containers: [agent({ image: 'deepflow-agent:v6.6.4', env: [deprecated()] })] }),
      cfg({ deprecatedEnv: 'migrate' }),
    );
    expect(envOf(r.pod)).toEqual([deprecated(), policyEnv('watch-only')]);
    expect(r.warnings).toEqual([
      'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is deprecated and makes agents from v6.6.6 on exit (not migrated: this agent reads only ONLY_WATCH_K8S_RESOURCE); ' +
        'remove it and set K8S_WATCH_POLICY=watch-only; its image "deepflow-agent:v6.6.4" is an agent older than v6.6.6, which reads only ONLY_WATCH_K8S_RESOURCE: upgrade the agent to v6.6.6 or later',
    ]);
  });

  test('migrate: a native sidecar agent is migrated', () => {
    const r = review(
      pod({
        owner: 'ReplicaSet',
        containers: [istio()],
        initContainers: [nativeSidecar(agent({ env: [deprecated()] }))],
      }),
      cfg({ deprecatedEnv: 'migrate' }),
    );
    expect(envOf(r.pod)).toEqual([policyEnv('watch-only')]);
  });
});

describe('invalidPolicy', () => {
  test.each(['WATCH-ONLY', 'onlywatch', 'normal', 'disabled', ' only-watch'])(
    'reject: K8S_WATCH_POLICY=%j is denied',
    (value) => {
      const r = review(pod({ containers: [agent({ env: [policyEnv(value)] })] }));
      expect(r.allowed).toBe(false);
      expect(r.denial).toBe(
        `container "deepflow-agent": K8S_WATCH_POLICY=${JSON.stringify(value)} is not a value the agent knows (it would silently run as normal); use watch-only or watch-disabled`,
      );
    },
  );

  test('reject: the fix names the configured spelling', () => {
    const r = review(
      pod({ initContainers: [nativeSidecar(agent({ env: [policyEnv('x')] }))] }),
      cfg({ onlyWatchValue: 'only-watch' }),
    );
    expect(r.denial).toBe(
      'init container "deepflow-agent": K8S_WATCH_POLICY="x" is not a value the agent knows (it would silently run as normal); use only-watch or watch-disabled',
    );
  });

  test('an empty value is what the agent sees as unset: valid', () => {
    const r = review(pod({ owner: 'DaemonSet', containers: [agent({ env: [policyEnv('')] })] }));
    expect(r).toMatchObject({ allowed: true, warnings: [] });
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('normal/default');
  });

  test('the variable on a non-agent container is not checked', () => {
    expect(
      review(
        pod({
          owner: 'DaemonSet',
          containers: [agent(), istio()],
          initContainers: [app('init', { env: [policyEnv('x')] })],
        }),
      ).allowed,
    ).toBe(true);
  });

  test.each(['only_watch', 'Only-Watch', 'watcher', ''])('reject: label %j is denied', (value) => {
    const r = review(pod({ labels: { [POLICY]: value } }));
    expect(r.denial).toBe(
      `label deepflow.io/k8s-watch-policy: invalid value ${JSON.stringify(value)}; use one of watch-only, only-watch, watch-disabled, normal`,
    );
  });

  test('reject: an invalid label is denied even with injection disabled', () => {
    expect(review(pod({ labels: { [INJECTION]: 'disabled', [POLICY]: 'x' } })).allowed).toBe(false);
  });

  test('warn: an invalid label is a warning and the next rules decide', () => {
    const r = review(pod({ labels: { [POLICY]: 'WATCH-ONLY' }, owner: 'ReplicaSet' }), cfg({ invalidPolicy: 'warn' }));
    expect(r.allowed).toBe(true);
    expect(r.warnings).toEqual([
      'label deepflow.io/k8s-watch-policy: invalid value "WATCH-ONLY"; use one of watch-only, only-watch, watch-disabled, normal',
    ]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/watcher-deployment');
  });

  test('warn: an invalid env with a default decision is kept with one warning', () => {
    const r = review(
      pod({ owner: 'DaemonSet', containers: [agent({ env: [policyEnv('watch_only')] })] }),
      cfg({ invalidPolicy: 'warn' }),
    );
    expect(r).toMatchObject({ allowed: true });
    expect(envOf(r.pod)).toEqual([policyEnv('watch_only')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('normal/explicit-env');
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY="watch_only" is not a value the agent knows (it would silently run as normal); use watch-only or watch-disabled',
    ]);
  });

  test('warn + override: an invalid env is replaced by the decision', () => {
    const r = review(
      pod({ owner: 'ReplicaSet', containers: [agent({ env: [policyEnv('watch_only')] })] }),
      cfg({ invalidPolicy: 'warn', explicitEnv: 'override' }),
    );
    expect(envOf(r.pod)).toEqual([policyEnv('watch-only')]);
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY="watch_only" is not a value the agent knows (it would silently run as normal); use watch-only or watch-disabled',
      'container "deepflow-agent": K8S_WATCH_POLICY=watch_only replaced by watch-only: only-watch (watcher-deployment), explicitEnv override',
    ]);
  });

  test('warn + respect: an invalid env is kept', () => {
    const r = review(
      pod({ owner: 'ReplicaSet', containers: [agent({ env: [policyEnv('watch_only')] })] }),
      cfg({ invalidPolicy: 'warn' }),
    );
    expect(envOf(r.pod)).toEqual([policyEnv('watch_only')]);
    expect(r.warnings).toHaveLength(2);
    expect(r.warnings[1]).toBe(
      'container "deepflow-agent": K8S_WATCH_POLICY=watch_only kept (explicitEnv respect); the webhook would set only-watch (watcher-deployment)',
    );
  });
});

describe('explicitEnv', () => {
  const watcherWith = (value: string) =>
    pod({ owner: 'ReplicaSet', containers: [agent({ env: [ev('RUST_LOG', 'info'), policyEnv(value)] })] });

  test('respect: a different valid value is kept with a warning', () => {
    const r = review(watcherWith('watch-disabled'));
    expect(r).toMatchObject({ allowed: true });
    expect(r.patch).toEqual([
      { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'watch-disabled/explicit-env' } },
    ]);
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY=watch-disabled kept (explicitEnv respect); the webhook would set only-watch (watcher-deployment)',
    ]);
  });

  test('override: a different valid value is replaced', () => {
    const r = review(watcherWith('watch-disabled'), cfg({ explicitEnv: 'override' }));
    expectPatch(r.patch, [
      { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'only-watch/watcher-deployment' } },
      { op: 'replace', path: '/spec/containers/0/env/1/value', value: 'watch-only' },
    ]);
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY=watch-disabled replaced by watch-only: only-watch (watcher-deployment), explicitEnv override',
    ]);
    expect(r.injected).toBe('only-watch');
  });

  test('override to normal removes the variable', () => {
    const p = pod({
      labels: { [POLICY]: 'normal' },
      containers: [agent({ env: [ev('A', '1'), policyEnv('watch-only'), ev('B', '2')] }), app()],
    });
    const r = review(p, cfg({ explicitEnv: 'override' }));
    expect(envOf(r.pod)).toEqual([ev('A', '1'), ev('B', '2')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('normal/label');
    expect(r.injected).toBe('normal');
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY=watch-only replaced by (unset): normal (label), explicitEnv override',
    ]);
  });

  test('respect: label normal keeps an explicit value with a warning', () => {
    const r = review(
      pod({ labels: { [POLICY]: 'normal' }, containers: [agent({ env: [policyEnv('watch-disabled')] })] }),
    );
    expect(envOf(r.pod)).toEqual([policyEnv('watch-disabled')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('watch-disabled/explicit-env');
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY=watch-disabled kept (explicitEnv respect); the webhook would set normal (label)',
    ]);
  });

  test.each(['respect', 'override'] as const)('%s: rule 6 (default) never overrides nor warns', (mode) => {
    const r = review(
      pod({ owner: 'DaemonSet', containers: [agent({ env: [policyEnv('watch-only')] })] }),
      cfg({ explicitEnv: mode }),
    );
    expect(r).toMatchObject({ allowed: true, warnings: [] });
    expect(envOf(r.pod)).toEqual([policyEnv('watch-only')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/explicit-env');
  });

  test('override: an explicit empty value on a sidecar is replaced', () => {
    const r = review(pod({ containers: [agent({ env: [policyEnv('')] }), app()] }), cfg({ explicitEnv: 'override' }));
    expect(envOf(r.pod)).toEqual([policyEnv('watch-disabled')]);
  });

  test.each(['respect', 'override'] as const)('%s: valueFrom is kept with a warning', (mode) => {
    const p = pod({ containers: [agent({ env: [evFrom('K8S_WATCH_POLICY')] }), app()] });
    const r = review(p, cfg({ explicitEnv: mode }));
    expect(r).toMatchObject({ allowed: true });
    expect(envOf(r.pod)).toEqual([evFrom('K8S_WATCH_POLICY')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('unknown/value-from');
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY comes from valueFrom and is kept; the webhook would set watch-disabled (serverless-sidecar)',
    ]);
  });

  test('valueFrom with a default decision: no warning', () => {
    const r = review(pod({ owner: 'DaemonSet', containers: [agent({ env: [evFrom('K8S_WATCH_POLICY')] })] }));
    expect(r).toMatchObject({ warnings: [] });
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('unknown/value-from');
  });

  test('two agents: one kept, one injected', () => {
    const r = review(
      pod({
        owner: 'ReplicaSet',
        containers: [agent({ env: [policyEnv('watch-disabled')] }), agent({ name: 'agent-2' })],
      }),
    );
    expect(envOf(r.pod)).toEqual([policyEnv('watch-disabled')]);
    expect(envOf(r.pod, 'agent-2')).toEqual([policyEnv('watch-only')]);
    expect(r.warnings).toHaveLength(1);
    // The pod's reason is its first agent's, the one the election reads.
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('watch-disabled/explicit-env');
  });
});

describe('mesh and watchers', () => {
  test('istio-proxy next to a watcher agent does not make it a sidecar', () => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent(), istio()], labels: { app: 'deepflow-watcher' } }));
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/watcher-deployment');
  });

  test('watcher selector label on a pod with an app', () => {
    const r = review(pod({ labels: { [ROLE]: 'k8s-watcher' }, containers: [app(), agent()] }));
    expect(envOf(r.pod)).toEqual([policyEnv('watch-only')]);
  });
});
