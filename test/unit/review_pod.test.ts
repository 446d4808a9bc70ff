import { describe, expect, test } from '@jest/globals';
import type { Operation } from 'fast-json-patch';
import type { NodeLookup } from '../../src/admission/serverless_rule.js';
import { reviewPod, type PodReview } from '../../src/admission/review_pod.js';
import type { Config } from '../../src/config/config.js';
import type { Pod } from '../../src/kube/objects.js';
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
} from './fixtures.js';

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
      { op: 'add', path: '/metadata/annotations/deepflow.io~1k8s-watch-policy-reason', value: 'only-watch/watcher-deployment' },
      { op: 'add', path: '/spec/containers/0/env', value: [{ name: 'K8S_WATCH_POLICY', value: 'only-watch' }] },
    ]);
    expect(r.pod.metadata?.annotations).toEqual({ 'prometheus.io/scrape': 'true', 'a~b/c': 'x', [REASON]: 'only-watch/watcher-deployment' });
  });

  test('an existing env list is appended to', () => {
    const r = review(
      pod({ owner: 'ReplicaSet', annotations: {}, containers: [agent({ env: [ev('RUST_LOG', 'info'), evFrom('K8S_NODE_IP_FOR_DEEPFLOW')] })] }),
    );
    expectPatch(r.patch, [
      { op: 'add', path: '/metadata/annotations/deepflow.io~1k8s-watch-policy-reason', value: 'only-watch/watcher-deployment' },
      { op: 'add', path: '/spec/containers/0/env/2', value: { name: 'K8S_WATCH_POLICY', value: 'only-watch' } },
    ]);
  });

  test('an existing reason annotation is replaced', () => {
    const r = review(pod({ owner: 'ReplicaSet', annotations: { [REASON]: 'normal/default' } }));
    expect(r.patch).toContainEqual({ op: 'replace', path: '/metadata/annotations/deepflow.io~1k8s-watch-policy-reason', value: 'only-watch/watcher-deployment' });
  });

  test('every agent container gets the variable', () => {
    const r = review(pod({ containers: [agent(), app(), agent({ name: 'agent-2', env: [] })], initContainers: [nativeSidecar(agent({ name: 'agent-3' }))] }));
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
    expect(r.patch).toContainEqual({ op: 'add', path: '/metadata', value: { annotations: { [REASON]: 'watch-disabled/serverless-sidecar' } } });
  });

  test('an agent container that already has the value: no patch', () => {
    const r = review(pod({ containers: [app(), agent({ env: [policyEnv('watch-disabled')] })] }));
    expect(r.patch).toEqual([]);
    expect(r.injected).toBeUndefined();
    expect(r.decision).toMatchObject({ policy: 'watch-disabled', rule: 'serverless-sidecar' });
  });

  test('normal: no variable, no annotation', () => {
    const r = review(pod({ owner: 'DaemonSet' }));
    expect(r).toMatchObject({ allowed: true, patch: [], warnings: [], decision: { policy: 'normal', rule: 'default' } });
  });

  test('label only-watch injects with rule label', () => {
    const r = review(pod({ owner: 'DaemonSet', labels: { [POLICY]: 'watch-only' } }));
    expect(envOf(r.pod)).toEqual([policyEnv('only-watch')]);
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
    const r = review(pod({ owner: 'DaemonSet', spec: { nodeName: VIRTUAL_NODE.name } }), cfg(), nodeLookup(VIRTUAL_NODE));
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('watch-disabled/serverless-node-label');
    expect(review(pod({ owner: 'DaemonSet', spec: { nodeName: VIRTUAL_NODE.name } })).patch).toEqual([]);
  });
});

describe('onlyWatchValue', () => {
  test('watch-only is the spelling written', () => {
    const r = review(pod({ owner: 'ReplicaSet' }), cfg({ onlyWatchValue: 'watch-only' }));
    expect(envOf(r.pod)).toEqual([policyEnv('watch-only')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/watcher-deployment');
  });

  test.each([
    ['only-watch', 'watch-only'],
    ['watch-only', 'only-watch'],
  ] as const)('an explicit %s with onlyWatchValue %s is equal and left alone (explicitEnv respect)', (explicit, spelling) => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent({ env: [policyEnv(explicit)] })] }), cfg({ onlyWatchValue: spelling }));
    expect(r).toMatchObject({ patch: [], warnings: [] });
    expect(r.injected).toBeUndefined();
  });

  test.each([
    ['only-watch', 'watch-only'],
    ['watch-only', 'only-watch'],
  ] as const)('an explicit %s with onlyWatchValue %s is respelled with a warning under explicitEnv override', (explicit, spelling) => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent({ env: [policyEnv(explicit)] })] }), cfg({ onlyWatchValue: spelling, explicitEnv: 'override' }));
    expect(r.patch).toContainEqual({ op: 'replace', path: '/spec/containers/0/env/0/value', value: spelling });
    expect(envOf(r.pod)).toEqual([policyEnv(spelling)]);
    expect(r.warnings).toEqual([`container "deepflow-agent": K8S_WATCH_POLICY=${explicit} respelled ${spelling} (onlyWatchValue, explicitEnv override)`]);
    expect(r.injected).toBe('only-watch');
  });

  test('an explicit only-watch with a default decision is neither respelled nor warned about', () => {
    const r = review(pod({ owner: 'DaemonSet', containers: [agent({ env: [policyEnv('only-watch')] })] }), cfg({ onlyWatchValue: 'watch-only' }));
    expect(r).toMatchObject({ patch: [], warnings: [] });
  });

  test('the same spelling: nothing to do', () => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent({ env: [policyEnv('watch-only')] })] }), cfg({ onlyWatchValue: 'watch-only' }));
    expect(r).toMatchObject({ patch: [], warnings: [] });
  });
});

describe('deprecatedEnv', () => {
  test('reject: the exact denial', () => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent({ env: [deprecated()] })] }));
    expect(r.allowed).toBe(false);
    expect(r.denial).toBe('container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported; remove it and set K8S_WATCH_POLICY=only-watch');
    expect(r.decision).toMatchObject({ policy: 'only-watch', rule: 'watcher-deployment' });
  });

  test('reject: the fix names the configured spelling', () => {
    const r = review(pod({ containers: [agent({ env: [deprecated()] })] }), cfg({ onlyWatchValue: 'watch-only' }));
    expect(r.denial).toBe('container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported; remove it and set K8S_WATCH_POLICY=watch-only');
  });

  test.each([
    ['an empty value', ev('ONLY_WATCH_K8S_RESOURCE', '')],
    ['no value', ev('ONLY_WATCH_K8S_RESOURCE')],
    ['valueFrom', evFrom('ONLY_WATCH_K8S_RESOURCE')],
  ])('reject: an init container with %s is denied', (_name, variable) => {
    const r = review(pod({ initContainers: [{ name: 'wait-for-server', image: 'busybox:1.36', env: [variable] }] }));
    expect(r.denial).toBe('init container "wait-for-server": ONLY_WATCH_K8S_RESOURCE is no longer supported; remove it and set K8S_WATCH_POLICY=only-watch');
  });

  test('reject: an ephemeral container is denied', () => {
    const r = review(pod({ ephemeralContainers: [{ name: 'debug', image: 'busybox', env: [deprecated('1')] }] }));
    expect(r.denial).toBe('ephemeral container "debug": ONLY_WATCH_K8S_RESOURCE is no longer supported; remove it and set K8S_WATCH_POLICY=only-watch');
  });

  test('reject: an application container is denied too, even in a pod without an agent', () => {
    const r = review(pod({ containers: [app('web', { env: [deprecated()] })] }));
    expect(r).toMatchObject({ allowed: false, denial: 'container "web": ONLY_WATCH_K8S_RESOURCE is no longer supported; remove it and set K8S_WATCH_POLICY=only-watch' });
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
        'label deepflow.io/k8s-watch-policy: invalid value "bogus"; use one of only-watch, watch-only, watch-disabled, normal',
        'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported; remove it and set K8S_WATCH_POLICY=only-watch',
        'init container "init": ONLY_WATCH_K8S_RESOURCE is no longer supported; remove it and set K8S_WATCH_POLICY=only-watch',
        'container "deepflow-agent": K8S_WATCH_POLICY="WATCH-ONLY" is not a value the agent knows (it would silently run as normal); use only-watch or watch-disabled',
      ].join('; '),
    );
  });

  test('warn: allowed with a warning, the variable left in place, the decision still applied', () => {
    const r = review(pod({ containers: [agent({ env: [deprecated()] }), app()] }), cfg({ deprecatedEnv: 'warn' }));
    expect(r.allowed).toBe(true);
    expect(r.warnings).toEqual([
      'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is deprecated and makes the agent exit; remove it and set K8S_WATCH_POLICY=only-watch',
    ]);
    expect(envOf(r.pod)).toEqual([deprecated(), policyEnv('watch-disabled')]);
  });

  test('warn: an init container', () => {
    const r = review(pod({ owner: 'DaemonSet', initContainers: [{ name: 'init', env: [deprecated('')] }] }), cfg({ deprecatedEnv: 'warn' }));
    expect(r).toMatchObject({ allowed: true, patch: [] });
    expect(r.warnings).toEqual([
      'init container "init": ONLY_WATCH_K8S_RESOURCE is deprecated and makes the agent exit; remove it and set K8S_WATCH_POLICY=only-watch',
    ]);
  });

  test('migrate: replaced in place by K8S_WATCH_POLICY=<spelling>', () => {
    const r = review(
      pod({ owner: 'DaemonSet', containers: [agent({ env: [ev('A', '1'), deprecated(), ev('B', '2')] })] }),
      cfg({ deprecatedEnv: 'migrate' }),
    );
    expect(r.allowed).toBe(true);
    expect(envOf(r.pod)).toEqual([ev('A', '1'), policyEnv('only-watch'), ev('B', '2')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/migrated');
    expect(r.warnings).toEqual(['container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE replaced by K8S_WATCH_POLICY=only-watch']);
    expect(r.injected).toBeUndefined();
  });

  test('migrate: watch-only spelling, duplicates removed', () => {
    const r = review(
      pod({ owner: 'DaemonSet', containers: [agent({ env: [deprecated(''), ev('A', '1'), deprecated('true')] })] }),
      cfg({ deprecatedEnv: 'migrate', onlyWatchValue: 'watch-only' }),
    );
    expect(envOf(r.pod)).toEqual([policyEnv('watch-only'), ev('A', '1')]);
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
    expect(r.warnings).toEqual(['container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE removed; its K8S_WATCH_POLICY is kept']);
  });

  test('migrate: a watcher keeps the migrated value and reason', () => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent({ env: [deprecated()] })] }), cfg({ deprecatedEnv: 'migrate' }));
    expect(envOf(r.pod)).toEqual([policyEnv('only-watch')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/migrated');
  });

  test('migrate + override on a sidecar: the decision replaces the migrated value', () => {
    const r = review(
      pod({ containers: [agent({ env: [deprecated()] }), app()] }),
      cfg({ deprecatedEnv: 'migrate', explicitEnv: 'override' }),
    );
    expect(envOf(r.pod)).toEqual([policyEnv('watch-disabled')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('watch-disabled/serverless-sidecar');
    expect(r.warnings).toEqual([
      'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE replaced by K8S_WATCH_POLICY=only-watch',
      'container "deepflow-agent": K8S_WATCH_POLICY=only-watch replaced by watch-disabled: watch-disabled (serverless-sidecar), explicitEnv override',
    ]);
  });

  test('migrate + respect on a sidecar: the migrated value is kept with a warning', () => {
    const r = review(pod({ containers: [agent({ env: [deprecated()] }), app()] }), cfg({ deprecatedEnv: 'migrate' }));
    expect(envOf(r.pod)).toEqual([policyEnv('only-watch')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/migrated');
    expect(r.warnings).toContain(
      'container "deepflow-agent": K8S_WATCH_POLICY=only-watch kept (explicitEnv respect); the webhook would set watch-disabled (serverless-sidecar)',
    );
  });

  test('migrate: a non-agent container only warns', () => {
    const r = review(
      pod({ owner: 'DaemonSet', initContainers: [{ name: 'init', env: [deprecated()] }], containers: [agent(), app('web', { env: [deprecated()] })] }),
      cfg({ deprecatedEnv: 'migrate' }),
    );
    expect(r.warnings).toEqual([
      'container "web": ONLY_WATCH_K8S_RESOURCE is deprecated and makes the agent exit (not an agent container, not migrated); remove it and set K8S_WATCH_POLICY=only-watch',
      'init container "init": ONLY_WATCH_K8S_RESOURCE is deprecated and makes the agent exit (not an agent container, not migrated); remove it and set K8S_WATCH_POLICY=only-watch',
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
      'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is deprecated and makes the agent exit (injection disabled, not migrated); remove it and set K8S_WATCH_POLICY=only-watch',
    ]);
  });

  test('migrate: a native sidecar agent is migrated', () => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [istio()], initContainers: [nativeSidecar(agent({ env: [deprecated()] }))] }), cfg({ deprecatedEnv: 'migrate' }));
    expect(envOf(r.pod)).toEqual([policyEnv('only-watch')]);
  });
});

describe('invalidPolicy', () => {
  test.each(['WATCH-ONLY', 'onlywatch', 'normal', 'disabled', ' only-watch'])('reject: K8S_WATCH_POLICY=%j is denied', (value) => {
    const r = review(pod({ containers: [agent({ env: [policyEnv(value)] })] }));
    expect(r.allowed).toBe(false);
    expect(r.denial).toBe(
      `container "deepflow-agent": K8S_WATCH_POLICY=${JSON.stringify(value)} is not a value the agent knows (it would silently run as normal); use only-watch or watch-disabled`,
    );
  });

  test('reject: the fix names the configured spelling', () => {
    const r = review(pod({ initContainers: [nativeSidecar(agent({ env: [policyEnv('x')] }))] }), cfg({ onlyWatchValue: 'watch-only' }));
    expect(r.denial).toBe(
      'init container "deepflow-agent": K8S_WATCH_POLICY="x" is not a value the agent knows (it would silently run as normal); use watch-only or watch-disabled',
    );
  });

  test('an empty value is what the agent sees as unset: valid', () => {
    const r = review(pod({ owner: 'DaemonSet', containers: [agent({ env: [policyEnv('')] })] }));
    expect(r).toMatchObject({ allowed: true, patch: [], warnings: [] });
  });

  test('the variable on a non-agent container is not checked', () => {
    expect(review(pod({ owner: 'DaemonSet', containers: [agent(), istio()], initContainers: [app('init', { env: [policyEnv('x')] })] })).allowed).toBe(true);
  });

  test.each(['only_watch', 'Only-Watch', 'watcher', ''])('reject: label %j is denied', (value) => {
    const r = review(pod({ labels: { [POLICY]: value } }));
    expect(r.denial).toBe(`label deepflow.io/k8s-watch-policy: invalid value ${JSON.stringify(value)}; use one of only-watch, watch-only, watch-disabled, normal`);
  });

  test('reject: an invalid label is denied even with injection disabled', () => {
    expect(review(pod({ labels: { [INJECTION]: 'disabled', [POLICY]: 'x' } })).allowed).toBe(false);
  });

  test('warn: an invalid label is a warning and the next rules decide', () => {
    const r = review(pod({ labels: { [POLICY]: 'WATCH-ONLY' }, owner: 'ReplicaSet' }), cfg({ invalidPolicy: 'warn' }));
    expect(r.allowed).toBe(true);
    expect(r.warnings).toEqual(['label deepflow.io/k8s-watch-policy: invalid value "WATCH-ONLY"; use one of only-watch, watch-only, watch-disabled, normal']);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/watcher-deployment');
  });

  test('warn: an invalid env with a default decision is kept with one warning', () => {
    const r = review(pod({ owner: 'DaemonSet', containers: [agent({ env: [policyEnv('watch_only')] })] }), cfg({ invalidPolicy: 'warn' }));
    expect(r).toMatchObject({ allowed: true, patch: [] });
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY="watch_only" is not a value the agent knows (it would silently run as normal); use only-watch or watch-disabled',
    ]);
  });

  test('warn + override: an invalid env is replaced by the decision', () => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent({ env: [policyEnv('watch_only')] })] }), cfg({ invalidPolicy: 'warn', explicitEnv: 'override' }));
    expect(envOf(r.pod)).toEqual([policyEnv('only-watch')]);
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY="watch_only" is not a value the agent knows (it would silently run as normal); use only-watch or watch-disabled',
      'container "deepflow-agent": K8S_WATCH_POLICY=watch_only replaced by only-watch: only-watch (watcher-deployment), explicitEnv override',
    ]);
  });

  test('warn + respect: an invalid env is kept', () => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent({ env: [policyEnv('watch_only')] })] }), cfg({ invalidPolicy: 'warn' }));
    expect(r.patch).toEqual([]);
    expect(r.warnings).toHaveLength(2);
    expect(r.warnings[1]).toBe(
      'container "deepflow-agent": K8S_WATCH_POLICY=watch_only kept (explicitEnv respect); the webhook would set only-watch (watcher-deployment)',
    );
  });
});

describe('explicitEnv', () => {
  const watcherWith = (value: string) => pod({ owner: 'ReplicaSet', containers: [agent({ env: [ev('RUST_LOG', 'info'), policyEnv(value)] })] });

  test('respect: a different valid value is kept with a warning', () => {
    const r = review(watcherWith('watch-disabled'));
    expect(r).toMatchObject({ allowed: true, patch: [] });
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY=watch-disabled kept (explicitEnv respect); the webhook would set only-watch (watcher-deployment)',
    ]);
  });

  test('override: a different valid value is replaced', () => {
    const r = review(watcherWith('watch-disabled'), cfg({ explicitEnv: 'override' }));
    expectPatch(r.patch, [
      { op: 'add', path: '/metadata/annotations', value: { [REASON]: 'only-watch/watcher-deployment' } },
      { op: 'replace', path: '/spec/containers/0/env/1/value', value: 'only-watch' },
    ]);
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY=watch-disabled replaced by only-watch: only-watch (watcher-deployment), explicitEnv override',
    ]);
    expect(r.injected).toBe('only-watch');
  });

  test('override to normal removes the variable', () => {
    const p = pod({ labels: { [POLICY]: 'normal' }, containers: [agent({ env: [ev('A', '1'), policyEnv('only-watch'), ev('B', '2')] }), app()] });
    const r = review(p, cfg({ explicitEnv: 'override' }));
    expect(envOf(r.pod)).toEqual([ev('A', '1'), ev('B', '2')]);
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('normal/label');
    expect(r.injected).toBe('normal');
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY=only-watch replaced by (unset): normal (label), explicitEnv override',
    ]);
  });

  test('respect: label normal keeps an explicit value with a warning', () => {
    const r = review(pod({ labels: { [POLICY]: 'normal' }, containers: [agent({ env: [policyEnv('watch-disabled')] })] }));
    expect(r.patch).toEqual([]);
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY=watch-disabled kept (explicitEnv respect); the webhook would set normal (label)',
    ]);
  });

  test.each(['respect', 'override'] as const)('%s: rule 6 (default) never overrides nor warns', (mode) => {
    const r = review(pod({ owner: 'DaemonSet', containers: [agent({ env: [policyEnv('only-watch')] })] }), cfg({ explicitEnv: mode }));
    expect(r).toMatchObject({ allowed: true, patch: [], warnings: [] });
  });

  test('override: an explicit empty value on a sidecar is replaced', () => {
    const r = review(pod({ containers: [agent({ env: [policyEnv('')] }), app()] }), cfg({ explicitEnv: 'override' }));
    expect(envOf(r.pod)).toEqual([policyEnv('watch-disabled')]);
  });

  test.each(['respect', 'override'] as const)('%s: valueFrom is kept with a warning', (mode) => {
    const p = pod({ containers: [agent({ env: [evFrom('K8S_WATCH_POLICY')] }), app()] });
    const r = review(p, cfg({ explicitEnv: mode }));
    expect(r).toMatchObject({ allowed: true, patch: [] });
    expect(envOf(r.pod)).toEqual([evFrom('K8S_WATCH_POLICY')]);
    expect(r.warnings).toEqual([
      'container "deepflow-agent": K8S_WATCH_POLICY comes from valueFrom and is kept; the webhook would set watch-disabled (serverless-sidecar)',
    ]);
  });

  test('valueFrom with a default decision: no warning', () => {
    const r = review(pod({ owner: 'DaemonSet', containers: [agent({ env: [evFrom('K8S_WATCH_POLICY')] })] }));
    expect(r).toMatchObject({ patch: [], warnings: [] });
  });

  test('two agents: one kept, one injected', () => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent({ env: [policyEnv('watch-disabled')] }), agent({ name: 'agent-2' })] }));
    expect(envOf(r.pod)).toEqual([policyEnv('watch-disabled')]);
    expect(envOf(r.pod, 'agent-2')).toEqual([policyEnv('only-watch')]);
    expect(r.warnings).toHaveLength(1);
  });
});

describe('mesh and watchers', () => {
  test('istio-proxy next to a watcher agent does not make it a sidecar', () => {
    const r = review(pod({ owner: 'ReplicaSet', containers: [agent(), istio()], labels: { app: 'deepflow-watcher' } }));
    expect(r.pod.metadata?.annotations?.[REASON]).toBe('only-watch/watcher-deployment');
  });

  test('watcher selector label on a pod with an app', () => {
    const r = review(pod({ labels: { [ROLE]: 'k8s-watcher' }, containers: [app(), agent()] }));
    expect(envOf(r.pod)).toEqual([policyEnv('only-watch')]);
  });
});
