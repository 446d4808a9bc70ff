import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { agentPodRecord, Interner, nodeReadiness } from '../../src/controller/agent_pod_record.ts';
import type { KubeObject, Node, Pod } from '../../src/kube/objects.ts';
import { AgentPodIndex } from '../../src/watcher_election/agent_pod_index.ts';
import { podFacts } from '../../src/watcher_election/candidates.ts';
import { elect, tallyOf, tallyText, type WatcherRef } from '../../src/watcher_election/elect.ts';
import { app, cfg, ev, kubeNode, runningPod } from '../support/fixtures.ts';

const T = (minute: number) => `2024-05-01T10:${String(minute).padStart(2, '0')}:00Z`;
const NODES = ['node-1', 'node-2', 'node-3'];

interface PodSpec {
  name: string;
  policy: string | undefined;
  node: string;
  created: number;
  terminating: boolean;
  ready: boolean;
  labelled: boolean;
  deprecated: boolean;
  agent: boolean;
}

function podOf(s: PodSpec): Pod {
  const env = [
    ...(s.policy === undefined ? [] : [ev('K8S_WATCH_POLICY', s.policy)]),
    ...(s.deprecated ? [ev('ONLY_WATCH_K8S_RESOURCE', '')] : []),
  ];
  return runningPod({
    name: s.name,
    node: s.node,
    created: T(s.created),
    terminating: s.terminating,
    ready: s.ready,
    ...(s.labelled && { labels: { 'deepflow.io/k8s-watcher': 'true' } }),
    ...(!s.agent
      ? { containers: [app()] }
      : env.length > 0 && { containers: [app(), { name: 'deepflow-agent', image: 'deepflow-agent:v7', env }] }),
  });
}

/** True about one time in five. */
const rarely = fc.integer({ min: 0, max: 4 }).map((n) => n === 0);

const podSpec = fc.record({
  name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
  policy: fc.constantFrom(undefined, 'watch-only', 'watch-disabled', 'watch-disabled', 'only-watch'),
  node: fc.constantFrom(...NODES),
  created: fc.integer({ min: 0, max: 9 }),
  terminating: rarely,
  ready: fc.boolean(),
  labelled: fc.boolean(),
  deprecated: rarely,
  agent: rarely.map((x) => !x),
});

type Step =
  | { type: 'pod'; spec: PodSpec }
  | { type: 'delete'; name: string }
  | { type: 'node'; name: string; ready: 'True' | 'False' | 'Unknown' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: podSpec.map((spec): Step => ({ type: 'pod', spec })) },
  { weight: 2, arbitrary: fc.constantFrom('a', 'b', 'c', 'd').map((name): Step => ({ type: 'delete', name })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...NODES), fc.constantFrom('True', 'False', 'Unknown') as fc.Arbitrary<'True' | 'False'>)
      .map(([name, ready]): Step => ({ type: 'node', name, ready })),
  },
);

/** Plays the steps into the index as the informers' handlers do, and into plain lists. */
function play(steps: readonly Step[]) {
  const config = cfg();
  const record = agentPodRecord(config);
  const index = new AgentPodIndex();
  const pods = new Map<string, Pod>();
  const stored = new Map<string, ReturnType<typeof record>>();
  const nodes = new Map<string, Node>(NODES.map((n) => [n, kubeNode(n)]));
  for (const n of nodes.values()) index.setNodeNotReady(n.metadata!.name!, nodeReadiness(n as KubeObject).notReady);
  for (const s of steps) {
    if (s.type === 'node') {
      const node = kubeNode(s.name, s.ready);
      nodes.set(s.name, node);
      index.setNodeNotReady(s.name, nodeReadiness(node as KubeObject).notReady);
    } else if (s.type === 'delete') {
      index.update(stored.get(s.name), undefined);
      stored.delete(s.name);
      pods.delete(s.name);
    } else {
      const pod = podOf(s.spec);
      const after = record(pod);
      index.update(stored.get(s.spec.name), after);
      stored.set(s.spec.name, after);
      pods.set(s.spec.name, pod);
    }
  }
  return { config, index, pods: [...pods.values()], nodes: [...nodes.values()], stored: [...stored.values()] };
}

describe('AgentPodIndex: the election over the index equals the election over every pod', () => {
  test('watcher, reason, the candidates that may watch, the tally, the labelled and deprecated pods', () => {
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 40 }),
        fc.constantFrom<WatcherRef | undefined>(undefined, { namespace: 'deepflow', name: 'a' }),
        (steps, current) => {
          const { config, index, pods, nodes, stored } = play(steps);
          const full = elect(pods, nodes, current, config);
          const indexed = index.elect(current);
          expect(indexed.watcher).toEqual(full.watcher);
          expect(indexed.reason).toBe(full.reason);
          expect(indexed.candidates).toEqual(full.candidates.filter((c) => c.policy !== 'watch-disabled'));
          const tally = index.tally(indexed);
          const expected = tallyOf(full.candidates);
          expect(tally.total).toBe(expected.total);
          expect(Object.fromEntries(tally.byReason)).toEqual(Object.fromEntries(expected.byReason));
          expect(tallyText(tally)).toBe(tallyText(expected));
          expect(index.size).toBe(full.candidates.length);
          expect(index.watchDisabled).toBe(full.candidates.filter((c) => c.policy === 'watch-disabled').length);
          // /status lists the watch-disabled pods from the store, with the reasons elect gives them.
          const rows = stored.flatMap((f) => (f?.policy === 'watch-disabled' ? [index.reportOf(f)] : []));
          expect(new Set(rows.map((r) => JSON.stringify(r)))).toEqual(
            new Set(full.candidates.filter((c) => c.policy === 'watch-disabled').map((r) => JSON.stringify(r))),
          );
          const names = (xs: { name: string }[]) => xs.map((x) => x.name).sort();
          expect(names(index.labelledPods())).toEqual(
            names(
              pods
                .filter((p) => p.metadata?.labels?.['deepflow.io/k8s-watcher'] === 'true' && podFacts(p, config))
                .map((p) => ({ name: p.metadata!.name! })),
            ),
          );
          expect(names(index.deprecatedPods())).toEqual(names(stored.flatMap((f) => (f?.deprecatedEnv ? [f] : []))));
        },
      ),
      { numRuns: 400 },
    );
  });

  test('emptied: every pod deleted leaves nothing filed', () => {
    const { index } = play([
      {
        type: 'pod',
        spec: {
          name: 'a',
          policy: 'watch-disabled',
          node: 'node-1',
          created: 0,
          terminating: false,
          ready: true,
          labelled: true,
          deprecated: true,
          agent: true,
        },
      },
      {
        type: 'pod',
        spec: {
          name: 'b',
          policy: undefined,
          node: 'node-2',
          created: 1,
          terminating: false,
          ready: true,
          labelled: false,
          deprecated: false,
          agent: true,
        },
      },
      { type: 'node', name: 'node-1', ready: 'False' },
      { type: 'delete', name: 'a' },
      { type: 'delete', name: 'b' },
    ]);
    const e = index.elect(undefined);
    expect(e).toEqual({ watcher: null, reason: 'no-candidate', candidates: [] });
    expect(index.tally(e)).toEqual({ total: 0, byReason: new Map() });
    expect(index.size).toBe(0);
    expect(index.labelledPods()).toEqual([]);
    expect(index.deprecatedPods()).toEqual([]);
  });
});

describe('agentPodRecord: what the controller stores of a pod', () => {
  test('a pod without an agent is null; an agent pod its facts, sharing namespace and node strings', () => {
    const record = agentPodRecord(cfg());
    expect(record(runningPod({ name: 'shop', containers: [app()] }))).toBeNull();
    const a = record(runningPod({ name: 'a', policy: 'watch-disabled' }))!;
    const b = record(runningPod({ name: 'b', policy: 'watch-disabled' }))!;
    expect(a).toEqual({
      namespace: 'deepflow',
      name: 'a',
      uid: 'a-uid',
      node: 'node-1',
      policy: 'watch-disabled',
      ineligible: 'watch-disabled',
      readySince: Date.parse('2024-05-01T10:00:00Z'),
      createdAt: Date.parse('2024-05-01T10:00:00Z'),
      watcherLabel: false,
      deprecatedEnv: false,
    });
    expect(Object.keys(a)).toEqual(Object.keys(b)); // one shape for every pod
  });

  test('the interner returns the first string object for an equal value, and forgets past its limit', () => {
    const strings = new Interner(2);
    const first = strings.intern(['node', '1'].join('-'));
    expect(strings.intern(['node', '1'].join('-'))).toBe(first);
    strings.intern('node-2');
    expect(strings.intern('node-3')).toBe('node-3'); // cleared, then filed
    expect(strings.intern('node-1')).toBe('node-1');
  });
});
