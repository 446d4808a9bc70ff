import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { agentContainers, allContainers } from '../../src/agent/agent_containers.ts';
import { findEnv, literalValue } from '../../src/agent/container_env.ts';
import { reviewPod } from '../../src/admission/review_pod.ts';
import { parsePolicyEnv } from '../../src/policy/policy.ts';
import type { Config } from '../../src/config/config.ts';
import type { Container, EnvVar, Pod, Toleration } from '../../src/kube/objects.ts';
import {
  AGENT_IMAGE,
  APP_IMAGE,
  applyTo,
  cfg,
  clone,
  daemonSetAffinity,
  deepFreeze,
  INJECTION,
  ISTIO_IMAGE,
  nodeLookup,
  ORDINARY_NODE,
  owner,
  POLICY,
  REASON,
  ROLE,
  VIRTUAL_NODE,
} from '../support/fixtures.ts';

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 300);

const POLICY_VALUES = ['only-watch', 'watch-only', 'watch-disabled', '', 'normal', 'WATCH-ONLY', 'bogus'];

const envValue: fc.Arbitrary<Omit<EnvVar, 'name'>> = fc.oneof(
  fc.constantFrom(...POLICY_VALUES).map((value) => ({ value })),
  fc.constant({ valueFrom: { configMapKeyRef: { name: 'deepflow', key: 'policy' } } }),
  fc.constant({}),
);

const envList: fc.Arbitrary<EnvVar[] | undefined> = fc.option(
  fc
    .uniqueArray(
      fc.constantFrom('K8S_WATCH_POLICY', 'ONLY_WATCH_K8S_RESOURCE', 'RUST_LOG', 'K8S_NODE_IP_FOR_DEEPFLOW', 'a/b~c'),
      { maxLength: 4 },
    )
    .chain((names) => fc.tuple(...names.map((name) => envValue.map((v) => ({ name, ...v }))))),
  { nil: undefined },
);

type Kind = 'agent-by-name' | 'agent-by-image' | 'app' | 'istio-proxy';
const kind = fc.constantFrom<Kind>('agent-by-name', 'agent-by-image', 'app', 'istio-proxy');

function container(k: Kind, env: EnvVar[] | undefined): Container {
  // Renamed duplicates (see uniqueNames) of a by-name agent or of istio-proxy become applications.
  const c: Container =
    k === 'agent-by-name'
      ? { name: 'deepflow-agent', image: 'busybox:1.36' }
      : k === 'agent-by-image'
        ? { name: 'agent', image: AGENT_IMAGE }
        : k === 'istio-proxy'
          ? { name: 'istio-proxy', image: ISTIO_IMAGE }
          : { name: 'app', image: APP_IMAGE };
  if (env !== undefined) c.env = env;
  return c;
}

const containerSpec = fc.record({ kind, env: envList, nativeSidecar: fc.boolean() });

/** Gives unique names to the containers of a pod. */
function uniqueNames(containers: Container[], taken: Set<string>): Container[] {
  return containers.map((c) => {
    let name = c.name;
    for (let i = 2; taken.has(name); i++) name = `${c.name}-${i}`;
    taken.add(name);
    return { ...c, name };
  });
}

const labels = fc.record(
  {
    [INJECTION]: fc.constantFrom('enabled', 'disabled'),
    [POLICY]: fc.constantFrom('only-watch', 'watch-only', 'watch-disabled', 'normal', 'Only-Watch', ''),
    [ROLE]: fc.constantFrom('k8s-watcher', 'other'),
    'alibabacloud.com/eci': fc.constantFrom('true', 'false'),
    'eks.amazonaws.com/fargate-profile': fc.constant('fp-default'),
    app: fc.constant('deepflow-agent'),
  },
  { requiredKeys: [] },
);

const annotations = fc.record(
  {
    'a~b/c': fc.constant('x'),
    '~1/~0': fc.constant('y'),
    'prometheus.io/scrape': fc.constant('true'),
    'eks.tke.cloud.tencent.com/ds-injection': fc.constantFrom('true', 'false'),
    [REASON]: fc.constantFrom('normal/default', 'only-watch/watcher-deployment'),
  },
  { requiredKeys: [] },
);

const podArb: fc.Arbitrary<Pod> = fc
  .record({
    containers: fc.array(containerSpec, { minLength: 1, maxLength: 4 }),
    initContainers: fc.array(containerSpec, { maxLength: 2 }),
    ephemeral: fc.array(containerSpec, { maxLength: 1 }),
    labels: fc.option(labels, { nil: undefined }),
    annotations: fc.option(annotations, { nil: undefined }),
    owner: fc.constantFrom('ReplicaSet', 'DaemonSet', 'Job', undefined),
    nodeSelector: fc.option(
      fc.constantFrom<Record<string, string>>({ type: 'virtual-kubelet' }, { 'kubernetes.io/os': 'linux' }),
      { nil: undefined },
    ),
    tolerations: fc.option(
      fc.constantFrom<Toleration[]>(
        [{ key: 'virtual-kubelet.io/provider', operator: 'Exists' }],
        [{ operator: 'Exists' }],
      ),
      { nil: undefined },
    ),
    node: fc.constantFrom<'nodeName' | 'affinity' | undefined>('nodeName', 'affinity', undefined),
    nodeIsVirtual: fc.boolean(),
    namespace: fc.option(fc.constant('deepflow'), { nil: undefined }),
  })
  .map((g) => {
    const taken = new Set<string>();
    const containers = uniqueNames(
      g.containers.map((c) => container(c.kind, c.env)),
      taken,
    );
    const initContainers = uniqueNames(
      g.initContainers.map((c) => ({
        ...container(c.kind, c.env),
        ...(c.nativeSidecar && { restartPolicy: 'Always' }),
      })),
      taken,
    );
    const ephemeral = uniqueNames(
      g.ephemeral.map((c) => container(c.kind, c.env)),
      taken,
    );
    const p: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers } };
    const metadata = p.metadata!;
    const spec = p.spec!;
    if (g.namespace) metadata.namespace = g.namespace;
    if (g.labels) metadata.labels = g.labels;
    if (g.annotations) metadata.annotations = g.annotations;
    if (g.owner) metadata.ownerReferences = [owner(g.owner)];
    if (initContainers.length) spec.initContainers = initContainers;
    if (ephemeral.length) spec.ephemeralContainers = ephemeral;
    if (g.nodeSelector) spec.nodeSelector = g.nodeSelector;
    if (g.tolerations) spec.tolerations = g.tolerations;
    const nodeName = g.nodeIsVirtual ? VIRTUAL_NODE.name : ORDINARY_NODE.name;
    if (g.node === 'nodeName') spec.nodeName = nodeName;
    if (g.node === 'affinity') spec.affinity = daemonSetAffinity(nodeName);
    return p;
  });

const configArb: fc.Arbitrary<Config> = fc
  .record({
    onlyWatchValue: fc.constantFrom('only-watch', 'watch-only' as const),
    deprecatedEnv: fc.constantFrom('reject', 'warn', 'migrate' as const),
    invalidPolicy: fc.constantFrom('reject', 'warn' as const),
    explicitEnv: fc.constantFrom('respect', 'override' as const),
    inferWatcherFromDeployment: fc.boolean(),
    sidecar: fc.boolean(),
  })
  .map(({ sidecar, ...rest }) => cfg({ ...rest, serverless: { sidecar } }));

const withNodes = fc.boolean();

const REASON_PATTERN =
  /^(unknown\/value-from|(only-watch|watch-disabled|normal)\/(migrated|explicit-env|default|label|watcher-selector|watcher-deployment|serverless-sidecar|serverless-pod-label|serverless-pod-annotation|serverless-node-selector|serverless-node-label|serverless-toleration))$/;

describe('reviewPod properties', () => {
  test('the patch applies cleanly to a copy of the input and gives review.pod; the input is never mutated', () => {
    const seen = { runs: 0, patched: 0, denied: 0, unchanged: 0 };
    fc.assert(
      fc.property(podArb, configArb, withNodes, (p, config, known) => {
        const before = clone(p);
        const input = deepFreeze(clone(p));
        const r = reviewPod(input, { config, ...(known && { nodes: nodeLookup(VIRTUAL_NODE, ORDINARY_NODE) }) });
        expect(input).toEqual(before);
        expect(applyTo(input, r.patch)).toEqual(r.pod);
        if (r.patch.length === 0) expect(r.pod).toBe(input);
        seen.runs++;
        seen[!r.allowed ? 'denied' : r.patch.length > 0 ? 'patched' : 'unchanged']++;
      }),
      { numRuns: NUM_RUNS },
    );
    // The generators reach every outcome often enough for the property to mean something.
    expect(seen.runs).toBe(NUM_RUNS);
    for (const outcome of ['patched', 'denied', 'unchanged'] as const)
      expect(seen[outcome]).toBeGreaterThan(NUM_RUNS / 10);
  });

  test('a second review of review.pod produces no patch and the same decision', () => {
    fc.assert(
      fc.property(podArb, configArb, withNodes, (p, config, known) => {
        const options = { config, ...(known && { nodes: nodeLookup(VIRTUAL_NODE, ORDINARY_NODE) }) };
        const r = reviewPod(deepFreeze(p), options);
        if (!r.allowed) return;
        const again = reviewPod(deepFreeze(clone(r.pod)), options);
        expect(again.patch).toEqual([]);
        expect(again.allowed).toBe(true);
        expect(again.decision).toEqual(r.decision);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('denials produce no patch and leave the pod as it is', () => {
    fc.assert(
      fc.property(podArb, configArb, (p, config) => {
        const input = deepFreeze(p);
        const r = reviewPod(input, { config });
        if (!r.allowed) {
          expect(r.patch).toEqual([]);
          expect(r.pod).toBe(input);
          expect(typeof r.denial).toBe('string');
          expect(r.denial).not.toBe('');
        } else {
          expect(r.denial).toBeUndefined();
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test('what an admitted pod looks like', () => {
    fc.assert(
      fc.property(podArb, configArb, withNodes, (p, config, known) => {
        const r = reviewPod(deepFreeze(p), {
          config,
          ...(known && { nodes: nodeLookup(VIRTUAL_NODE, ORDINARY_NODE) }),
        });
        if (!r.allowed) return;
        const containers = allContainers(r.pod.spec);
        // deprecatedEnv reject: nothing admitted carries ONLY_WATCH_K8S_RESOURCE.
        if (config.deprecatedEnv === 'reject')
          expect(containers.some(({ container }) => findEnv(container, 'ONLY_WATCH_K8S_RESOURCE'))).toBe(false);
        // migrate: an agent of a mutated pod no longer carries it.
        if (config.deprecatedEnv === 'migrate' && r.decision.rule !== 'disabled') {
          for (const { container } of agentContainers(r.pod.spec, config.agent))
            expect(findEnv(container, 'ONLY_WATCH_K8S_RESOURCE')).toBeUndefined();
        }
        // invalidPolicy reject: every agent literal is a value the agent knows.
        if (config.invalidPolicy === 'reject') {
          for (const { container } of agentContainers(r.pod.spec, config.agent)) {
            const env = findEnv(container, 'K8S_WATCH_POLICY');
            const value = env && literalValue(env);
            if (value !== undefined) expect(parsePolicyEnv(value)).toBeDefined();
          }
        }
        // Every agent pod the webhook mutates says why, and its agents hold one K8S_WATCH_POLICY at most,
        // never in the spelling the configured agents do not read.
        if (r.decision.rule !== 'disabled' && r.decision.rule !== 'no-agent') {
          expect(r.pod.metadata?.annotations?.[REASON]).toMatch(REASON_PATTERN);
          for (const { container } of agentContainers(r.pod.spec, config.agent)) {
            const entries = (container.env ?? []).filter((e) => e.name === 'K8S_WATCH_POLICY');
            expect(entries.length).toBeLessThanOrEqual(1);
            expect(entries[0]?.value).not.toBe(config.onlyWatchValue === 'only-watch' ? 'watch-only' : 'only-watch');
          }
        }
        // The written values use the configured spelling.
        if (r.patch.length > 0) {
          // Every K8S_WATCH_POLICY the review wrote (new or changed) is a valid literal in the configured spelling.
          const other = config.onlyWatchValue === 'only-watch' ? 'watch-only' : 'only-watch';
          const inputAgents = agentContainers(p.spec, config.agent);
          agentContainers(r.pod.spec, config.agent).forEach(({ container }, i) => {
            const after = findEnv(container, 'K8S_WATCH_POLICY');
            const before = findEnv(inputAgents[i]!.container, 'K8S_WATCH_POLICY');
            if (after && after.valueFrom === undefined && (!before || before.value !== after.value)) {
              expect([config.onlyWatchValue, 'watch-disabled']).toContain(after.value);
              expect(after.value).not.toBe(other);
            }
          });
        }
        // Only agent containers (containers and native sidecars) are ever changed.
        for (const op of r.patch) {
          expect(op.path).toMatch(
            /^\/metadata(\/annotations(\/deepflow\.io~1k8s-watch-policy-reason)?)?$|^\/spec\/(containers|initContainers)\/\d+\/env(\/|$)/,
          );
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
