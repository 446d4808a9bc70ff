/**
 * watchOnlyReplicaWarnings and surgePods (src/admission/watch_only_replicas.ts): a pod controller
 * that would run more than one watch-only agent at a time (replicas > 1, a DaemonSet, or a
 * one-replica Deployment whose rolling update can surge) gets a warning; nothing else does.
 */
import { describe, expect, test } from '@jest/globals';
import { surgePods, watchOnlyReplicaWarnings } from '../../src/admission/watch_only_replicas.ts';
import type { Container, KubeObject, Pod } from '../../src/kube/objects.ts';
import { agent, app, cfg, ev, evFrom, pod } from '../support/fixtures.ts';

const FLAP =
  'the DeepFlow server hands the watch to any watch-only agent, so several of them keep taking it from each other';

/** The pod as admitted: its agent runs with K8S_WATCH_POLICY=`value`. */
const watchOnlyPod = (value = 'watch-only'): Pod =>
  pod({ containers: [agent({ env: [ev('K8S_WATCH_POLICY', value)] })] });

/** A pod controller `kind` named `w`; `spec` holds replicas and strategy (the template does not matter here). */
function workload(kind: string, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: kind === 'Job' || kind === 'CronJob' ? 'batch/v1' : 'apps/v1',
    kind,
    metadata: { name: 'w', namespace: 'deepflow' },
    spec,
  };
}

const surgeWarning = (kind: string, total: number, spelling = 'watch-only') =>
  `this ${kind} runs watch-only agents (K8S_WATCH_POLICY=${spelling}) and its rolling update can surge to ${total} pods: ${FLAP} during every rollout; set strategy.rollingUpdate.maxSurge: 0 (or strategy.type: Recreate)`;
const replicasWarning = (kind: string, replicas: number) =>
  `this ${kind} runs watch-only agents (K8S_WATCH_POLICY=watch-only) with replicas: ${replicas}: ${FLAP}; use replicas: 1`;
const parallelismWarning = (kind: string, parallelism: number) =>
  `this ${kind} runs watch-only agents (K8S_WATCH_POLICY=watch-only) with parallelism: ${parallelism}: ${FLAP}; use parallelism: 1`;
const DAEMONSET_WARNING = `this DaemonSet runs watch-only agents (K8S_WATCH_POLICY=watch-only) on every node: ${FLAP}; run one watcher Deployment instead`;

describe('surgePods', () => {
  test.each<[number, unknown, number]>([
    // Kubernetes' default maxSurge is 25 %, rounded up: one pod for any Deployment of 1 to 4 replicas.
    [1, undefined, 1],
    [4, undefined, 1],
    [5, undefined, 2],
    [1, null, 1],
    [1, '25%', 1],
    [1, '50%', 1],
    [3, '50%', 2],
    [2, '100%', 2],
    [1, '0%', 0],
    [0, '25%', 0],
    // An integer is a number of pods.
    [1, 0, 0],
    [1, 1, 1],
    [1, 3, 3],
    [10, 2, 2],
    [1, 2.9, 2],
    [1, -1, 0],
    // A string of digits is read as that number; anything else surges nothing.
    [1, '2', 2],
    [1, '0', 0],
    [1, 'lots', 0],
    [1, '25 %', 0],
  ])('replicas %j, maxSurge %j -> %j', (replicas, maxSurge, expected) => {
    expect(surgePods(replicas, maxSurge)).toBe(expected);
  });
});

describe('watchOnlyReplicaWarnings: controllers of watch-only pods', () => {
  test.each<[string, KubeObject, string[]]>([
    [
      'a Deployment with the default strategy',
      workload('Deployment', { replicas: 1 }),
      [surgeWarning('Deployment', 2)],
    ],
    ['a Deployment without replicas (1) and strategy', workload('Deployment'), [surgeWarning('Deployment', 2)]],
    [
      'a Deployment with an explicit RollingUpdate and no maxSurge',
      workload('Deployment', { replicas: 1, strategy: { type: 'RollingUpdate' } }),
      [surgeWarning('Deployment', 2)],
    ],
    [
      'a Deployment with maxSurge 25%',
      workload('Deployment', { replicas: 1, strategy: { rollingUpdate: { maxSurge: '25%' } } }),
      [surgeWarning('Deployment', 2)],
    ],
    [
      'a Deployment with maxSurge 50%',
      workload('Deployment', { replicas: 1, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '50%' } } }),
      [surgeWarning('Deployment', 2)],
    ],
    [
      'a Deployment with integer maxSurge 1',
      workload('Deployment', { replicas: 1, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } }),
      [surgeWarning('Deployment', 2)],
    ],
    [
      'a Deployment with integer maxSurge 3',
      workload('Deployment', { replicas: 1, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3 } } }),
      [surgeWarning('Deployment', 4)],
    ],
    [
      'a Deployment with maxSurge 0',
      workload('Deployment', {
        replicas: 1,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      }),
      [],
    ],
    [
      "a Deployment with maxSurge '0%'",
      workload('Deployment', {
        replicas: 1,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '0%', maxUnavailable: 1 } },
      }),
      [],
    ],
    [
      'a Deployment with strategy Recreate',
      workload('Deployment', { replicas: 1, strategy: { type: 'Recreate' } }),
      [],
    ],
    ['a Deployment scaled to 0', workload('Deployment', { replicas: 0 }), []],
    ['a Deployment with replicas 2', workload('Deployment', { replicas: 2 }), [replicasWarning('Deployment', 2)]],
    [
      'a Deployment with replicas 2 and Recreate',
      workload('Deployment', { replicas: 2, strategy: { type: 'Recreate' } }),
      [replicasWarning('Deployment', 2)],
    ],
    ['a StatefulSet with replicas 1', workload('StatefulSet', { replicas: 1 }), []],
    ['a StatefulSet without replicas', workload('StatefulSet'), []],
    ['a StatefulSet with replicas 3', workload('StatefulSet', { replicas: 3 }), [replicasWarning('StatefulSet', 3)]],
    ['a ReplicaSet with replicas 1 (no rollout of its own)', workload('ReplicaSet', { replicas: 1 }), []],
    ['a ReplicaSet with replicas 2', workload('ReplicaSet', { replicas: 2 }), [replicasWarning('ReplicaSet', 2)]],
    [
      'a ReplicationController with replicas 2',
      workload('ReplicationController', { replicas: 2 }),
      [replicasWarning('ReplicationController', 2)],
    ],
    ['a DaemonSet', workload('DaemonSet'), [DAEMONSET_WARNING]],
    [
      'a DaemonSet with a rolling update',
      workload('DaemonSet', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0 } } }),
      [DAEMONSET_WARNING],
    ],
    ['a Job', workload('Job', { backoffLimit: 2 }), []],
    ['a Job with parallelism 1', workload('Job', { parallelism: 1, completions: 5 }), []],
    ['a Job with parallelism 3', workload('Job', { parallelism: 3 }), [parallelismWarning('Job', 3)]],
    [
      'a Job with parallelism 3 and completions 1 (one pod at a time)',
      workload('Job', { parallelism: 3, completions: 1 }),
      [],
    ],
    [
      'a Job with parallelism 3 and completions 2',
      workload('Job', { parallelism: 3, completions: 2 }),
      [parallelismWarning('Job', 3)],
    ],
    ['a Job with parallelism 0 (suspended)', workload('Job', { parallelism: 0 }), []],
    ['a CronJob', workload('CronJob', { schedule: '*/5 * * * *' }), []],
    [
      'a CronJob whose Jobs run 2 pods at once',
      workload('CronJob', { schedule: '*/5 * * * *', jobTemplate: { spec: { parallelism: 2 } } }),
      [parallelismWarning('CronJob', 2)],
    ],
    [
      'a CronJob whose Jobs run one pod',
      workload('CronJob', { schedule: '*/5 * * * *', jobTemplate: { spec: { parallelism: 1 } } }),
      [],
    ],
    ['a PodTemplate', { apiVersion: 'v1', kind: 'PodTemplate', metadata: { name: 'w' }, template: {} }, []],
  ])('%s', (_name, object, warnings) => {
    expect(watchOnlyReplicaWarnings(object, watchOnlyPod(), cfg())).toEqual(warnings);
  });

  test('the warning names the kind, not the object (the CLI and kubectl name it)', () => {
    expect(
      watchOnlyReplicaWarnings({ apiVersion: 'apps/v1', kind: 'DaemonSet', spec: {} }, watchOnlyPod(), cfg()),
    ).toEqual([
      `this DaemonSet runs watch-only agents (K8S_WATCH_POLICY=watch-only) on every node: ${FLAP}; run one watcher Deployment instead`,
    ]);
  });

  test('the warning names the configured spelling', () => {
    expect(
      watchOnlyReplicaWarnings(
        workload('Deployment', { replicas: 1 }),
        watchOnlyPod('only-watch'),
        cfg({ onlyWatchValue: 'only-watch' }),
      ),
    ).toEqual([surgeWarning('Deployment', 2, 'only-watch')]);
  });
});

describe('watchOnlyReplicaWarnings: pods that do not run watch-only never warn', () => {
  const many: KubeObject[] = [
    workload('Deployment', { replicas: 1 }),
    workload('Deployment', { replicas: 5 }),
    workload('StatefulSet', { replicas: 3 }),
    workload('DaemonSet'),
  ];

  test.each<[string, Pod, ReturnType<typeof cfg>?]>([
    ['no K8S_WATCH_POLICY (normal)', pod()],
    ['watch-disabled', watchOnlyPod('watch-disabled')],
    ['an empty value', watchOnlyPod('')],
    ['an unknown value', watchOnlyPod('WATCH-ONLY')],
    ['valueFrom', pod({ containers: [agent({ env: [evFrom('K8S_WATCH_POLICY')] })] })],
    [
      'the other spelling, which the agent reads as normal (only-watch with the default onlyWatchValue)',
      watchOnlyPod('only-watch'),
    ],
    ['watch-only when onlyWatchValue is only-watch', watchOnlyPod('watch-only'), cfg({ onlyWatchValue: 'only-watch' })],
    ['no agent container', pod({ containers: [app('web', { env: [ev('K8S_WATCH_POLICY', 'watch-only')] })] })],
    ['a pod without spec', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }],
  ])('%s', (_name, p, config = cfg()) => {
    for (const object of many) expect(watchOnlyReplicaWarnings(object, p, config)).toEqual([]);
  });

  test("the first agent container decides (as the election reads a pod's policy)", () => {
    const second: Container = { ...agent({ env: [ev('K8S_WATCH_POLICY', 'watch-only')] }), name: 'deepflow-agent-2' };
    const firstNormal = pod({ containers: [agent(), second] });
    expect(watchOnlyReplicaWarnings(workload('DaemonSet'), firstNormal, cfg())).toEqual([]);
    const firstWatchOnly = pod({
      containers: [agent({ env: [ev('K8S_WATCH_POLICY', 'watch-only')] }), { ...agent(), name: 'deepflow-agent-2' }],
    });
    expect(watchOnlyReplicaWarnings(workload('DaemonSet'), firstWatchOnly, cfg())).toEqual([DAEMONSET_WARNING]);
  });
});
