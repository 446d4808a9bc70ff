/**
 * Warnings for a pod controller that would run more than one watch-only agent at a time.
 *
 * The DeepFlow server hands the watch to any `watch-only` agent at its next sync, so two of them
 * take it from each other every minute (DESIGN §5). A watcher workload should run exactly one
 * pod, also during a rollout: `replicas: 1` and, for a Deployment, `maxSurge: 0` or `Recreate`;
 * a Job (or a CronJob's Job) runs `parallelism` pods at once.
 */
import { agentContainers } from '../agent/agent_containers.ts';
import type { Config } from '../config/config.ts';
import { isRecord, type KubeObject, type Pod } from '../kube/objects.ts';
import { POLICY_ENV } from '../policy/labels.ts';
import { findEnv, policyOfEnv } from '../agent/container_env.ts';

const FLAP =
  'the DeepFlow server hands the watch to any watch-only agent, so several of them keep taking it from each other';

/** Pods a rolling update may add above `replicas`: Kubernetes' `maxSurge` (default 25 %, rounded up). */
export function surgePods(replicas: number, maxSurge: unknown): number {
  if (typeof maxSurge === 'number') return Math.max(0, Math.floor(maxSurge));
  const value = typeof maxSurge === 'string' ? maxSurge : '25%';
  const percent = /^(\d+)%$/.exec(value);
  if (percent) return Math.ceil((replicas * Number(percent[1])) / 100);
  return /^\d+$/.test(value) ? Number(value) : 0;
}

function field(object: unknown, ...path: string[]): unknown {
  let at = object;
  for (const step of path) at = isRecord(at) ? at[step] : undefined;
  return at;
}

/**
 * The warnings for `object`, a pod controller whose pods will be admitted as `pod` (the template
 * reviewed as the pod it creates). Empty unless those pods run as watch-only agents.
 */
export function watchOnlyReplicaWarnings(object: KubeObject, pod: Pod, config: Config): string[] {
  const agent = agentContainers(pod.spec, config.agent)[0];
  if (!agent || policyOfEnv(findEnv(agent.container, POLICY_ENV), config.onlyWatchValue) !== 'only-watch') return [];
  const what = `this ${object.kind} runs watch-only agents (${POLICY_ENV}=${config.onlyWatchValue})`;
  if (object.kind === 'DaemonSet') return [`${what} on every node: ${FLAP}; run one watcher Deployment instead`];
  if (object.kind === 'Job' || object.kind === 'CronJob') {
    const job = object.kind === 'Job' ? field(object, 'spec') : field(object, 'spec', 'jobTemplate', 'spec');
    const parallelism = field(job, 'parallelism');
    // Kubernetes' default parallelism is 1; a Job runs at most as many pods at once as it must complete.
    const completions = field(job, 'completions');
    const running =
      typeof parallelism === 'number'
        ? typeof completions === 'number'
          ? Math.min(parallelism, completions)
          : parallelism
        : 1;
    if (running > 1) return [`${what} with parallelism: ${String(parallelism)}: ${FLAP}; use parallelism: 1`];
    return [];
  }
  if (!['Deployment', 'StatefulSet', 'ReplicaSet', 'ReplicationController'].includes(object.kind ?? '')) return [];
  const declared = field(object, 'spec', 'replicas');
  const replicas = typeof declared === 'number' ? declared : 1;
  if (replicas > 1) return [`${what} with replicas: ${replicas}: ${FLAP}; use replicas: 1`];
  if (object.kind !== 'Deployment' || replicas < 1) return [];
  if (field(object, 'spec', 'strategy', 'type') === 'Recreate') return [];
  const surge = surgePods(replicas, field(object, 'spec', 'strategy', 'rollingUpdate', 'maxSurge'));
  if (surge === 0) return [];
  return [
    `${what} and its rolling update can surge to ${replicas + surge} pods: ${FLAP} during every rollout; set strategy.rollingUpdate.maxSurge: 0 (or strategy.type: Recreate)`,
  ];
}
