/**
 * The transform the controller's pod informer applies before storing: only what the election
 * reads survives (no managedFields, volumes, probes, resources...), and pods without an agent
 * container shrink to their identity, so memory follows the number of agents, not of pods.
 */
import { agentContainers } from '../agent/agent_containers.js';
import type { Config } from '../config/config.js';
import type { Container, KubeObject, Pod } from '../kube/objects.js';

const slim = ({ name, image, env, restartPolicy }: Container): Container => ({
  name,
  ...(image !== undefined && { image }),
  ...(env !== undefined && { env }),
  ...(restartPolicy !== undefined && { restartPolicy }),
});

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
        ...(m.labels && { labels: m.labels }),
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
          conditions: pod.status.conditions.map(({ type, status, lastTransitionTime }) => ({ type, status, ...(lastTransitionTime && { lastTransitionTime }) })),
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
