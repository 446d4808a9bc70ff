/**
 * A pod as the admission rules read it, computed once per review: its labels and annotations,
 * its containers sorted into agents, infrastructure (mesh proxies) and applications, the kind of
 * its controller, and the node it targets. The decision's rules and the review read this view
 * instead of each deriving the containers again.
 */
import {
  allContainers,
  isAgentContainer,
  isInfrastructureContainer,
  isNativeSidecar,
  type LocatedContainer,
} from '../agent/agent_containers.ts';
import type { Config } from '../config/config.ts';
import type { NodeLookup } from '../kube/node_lookup.ts';
import type { NodeInfo, Pod } from '../kube/objects.ts';
import { controllerKind } from './owner.ts';
import { targetNodeName } from './target_node.ts';

export interface PodView {
  pod: Pod;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Every container, init container and ephemeral container, with where it is. */
  containers: LocatedContainer[];
  /** The agent containers: regular containers and native sidecars that are agents. */
  agents: LocatedContainer[];
  /** The regular containers and native sidecars that are neither agents nor infrastructure. */
  applications: LocatedContainer[];
  /** Whether the pod's regular containers are all agents or infrastructure (and there is one). */
  onlyAgentsAndInfrastructure: boolean;
  /** The kind of the pod's controller (ReplicaSet, DaemonSet, ...), if any. */
  controller: string | undefined;
  /** The node the pod is bound or pinned to, when the caller's node cache knows it. */
  targetNode: NodeInfo | undefined;
}

/** The key of a container within its pod: `<field>/<index>`. */
export const containerKey = (c: LocatedContainer): string => `${c.field}/${c.index}`;

export function podView(pod: Pod, config: Config, nodes?: NodeLookup): PodView {
  const containers = allContainers(pod.spec);
  const running = containers.filter(
    ({ field, container }) => field === 'containers' || (field === 'initContainers' && isNativeSidecar(container)),
  );
  const agent = config.agent;
  const regular = running.filter(({ field }) => field === 'containers');
  const nodeName = targetNodeName(pod);
  return {
    pod,
    labels: pod.metadata?.labels ?? {},
    annotations: pod.metadata?.annotations ?? {},
    containers,
    agents: running.filter(({ container }) => isAgentContainer(container, agent)),
    applications: running.filter(
      ({ container }) => !isAgentContainer(container, agent) && !isInfrastructureContainer(container, agent),
    ),
    onlyAgentsAndInfrastructure:
      regular.length > 0 &&
      regular.every(
        ({ container }) => isAgentContainer(container, agent) || isInfrastructureContainer(container, agent),
      ),
    controller: controllerKind(pod),
    targetNode: nodeName !== undefined && nodes ? nodes(nodeName) : undefined,
  };
}
