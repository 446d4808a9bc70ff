/**
 * The transform the controller's pod informer applies before storing: only what the election
 * reads survives (no managedFields, volumes, probes, resources...; of the env only the two
 * policy variables, of the labels only the watcher label), and pods without an agent container
 * shrink to their identity, so memory follows the number of agents, not of pods or their size.
 */
import { agentContainers } from '../agent/agent_containers.ts';
import type { Config } from '../config/config.ts';
import type { Container, KubeObject, Pod } from '../kube/objects.ts';
import { DEPRECATED_ENV, POLICY_ENV, WATCHER_LABEL } from '../policy/labels.ts';

const ELECTION_ENV = new Set([POLICY_ENV, DEPRECATED_ENV]);

const slim = ({ name, image, env, restartPolicy }: Container): Container => {
  const kept = env?.filter((e) => ELECTION_ENV.has(e.name));
  return {
    name,
    ...(image !== undefined && { image }),
    ...(kept !== undefined && kept.length > 0 && { env: kept }),
    ...(restartPolicy !== undefined && { restartPolicy }),
  };
};

export function trimPod(config: Config): (object: KubeObject) => Pod {
  return (object) => {
    const pod = object as Pod;
    const m = pod.metadata ?? {};
    // No resourceVersion: two versions that differ only in what the election never reads are equal.
    const identity = { name: m.name, namespace: m.namespace, uid: m.uid };
    if (agentContainers(pod.spec, config.agent).length === 0) return { metadata: identity };
    const spec = pod.spec ?? {};
    return {
      metadata: {
        ...identity,
        ...(m.labels?.[WATCHER_LABEL] !== undefined && { labels: { [WATCHER_LABEL]: m.labels[WATCHER_LABEL] } }),
        ...(m.creationTimestamp && { creationTimestamp: m.creationTimestamp }),
        ...(m.deletionTimestamp && { deletionTimestamp: m.deletionTimestamp }),
      },
      spec: {
        ...(spec.nodeName && { nodeName: spec.nodeName }),
        containers: (spec.containers ?? []).map(slim),
        ...(spec.initContainers && { initContainers: spec.initContainers.map(slim) }),
        ...(spec.ephemeralContainers && { ephemeralContainers: spec.ephemeralContainers.map(slim) }),
      },
      status: {
        ...(pod.status?.phase && { phase: pod.status.phase }),
        ...(pod.status?.conditions && {
          conditions: pod.status.conditions.map(({ type, status, lastTransitionTime }) => ({
            type,
            status,
            ...(lastTransitionTime && { lastTransitionTime }),
          })),
        }),
      },
    };
  };
}

/** Nodes keep their name, labels and conditions. */
export function trimNode(object: KubeObject): KubeObject {
  const node = object as KubeObject & { status?: { conditions?: { type: string; status: string }[] } };
  return {
    metadata: { name: node.metadata?.name, uid: node.metadata?.uid, labels: node.metadata?.labels ?? {} },
    status: { conditions: (node.status?.conditions ?? []).map(({ type, status }) => ({ type, status })) },
  };
}
