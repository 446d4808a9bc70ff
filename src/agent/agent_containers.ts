/**
 * Which containers of a pod are deepflow-agents, and which are infrastructure (mesh proxies).
 *
 * Agents are searched in `containers` and in native sidecars (`initContainers` with
 * `restartPolicy: Always`). A container is an agent when its name is one of
 * `agent.containerNames` or its image name (see {@link imageName}) is one of `agent.imageNames`.
 */
import type { AgentConfig } from '../config/config.ts';
import type { Container, PodSpec } from '../kube/objects.ts';
import { imageName } from './image_name.ts';

export type ContainerField = 'containers' | 'initContainers' | 'ephemeralContainers';

/** A container together with where it sits in the pod spec. */
export interface LocatedContainer {
  field: ContainerField;
  index: number;
  container: Container;
}

export function isAgentContainer(container: Container, agent: AgentConfig): boolean {
  if (agent.containerNames.includes(container.name)) return true;
  return typeof container.image === 'string' && agent.imageNames.includes(imageName(container.image));
}

export function isNativeSidecar(container: Container): boolean {
  return container.restartPolicy === 'Always';
}

export function isInfrastructureContainer(container: Container, agent: AgentConfig): boolean {
  return agent.infrastructureContainers.includes(container.name);
}

/** Every container of the spec, each with its location, in spec order. */
export function allContainers(spec: PodSpec | undefined): LocatedContainer[] {
  const out: LocatedContainer[] = [];
  for (const field of ['containers', 'initContainers', 'ephemeralContainers'] as const) {
    const list = spec?.[field];
    if (Array.isArray(list)) list.forEach((container, index) => out.push({ field, index, container }));
  }
  return out;
}

/** The agent containers of a pod: in `containers`, then native sidecars in `initContainers`. */
export function agentContainers(spec: PodSpec | undefined, agent: AgentConfig): LocatedContainer[] {
  return allContainers(spec).filter(
    ({ field, container }) =>
      (field === 'containers' || (field === 'initContainers' && isNativeSidecar(container))) &&
      isAgentContainer(container, agent),
  );
}

/**
 * The application containers that run next to the agent: entries of `containers` and native
 * sidecars that are neither agents nor infrastructure. Ordinary init containers have finished
 * before the agent starts and do not count.
 */
export function applicationContainers(spec: PodSpec | undefined, agent: AgentConfig): LocatedContainer[] {
  return allContainers(spec).filter(
    ({ field, container }) =>
      (field === 'containers' || (field === 'initContainers' && isNativeSidecar(container))) &&
      !isAgentContainer(container, agent) &&
      !isInfrastructureContainer(container, agent),
  );
}

/** How a container is named in messages: `container "x"`, `init container "x"`, ... */
export function describeContainer({ field, container }: LocatedContainer): string {
  const kind =
    field === 'initContainers'
      ? 'init container'
      : field === 'ephemeralContainers'
        ? 'ephemeral container'
        : 'container';
  return `${kind} ${JSON.stringify(container.name)}`;
}
