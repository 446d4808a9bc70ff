import type { Pod } from '../kube/objects.ts';

/** The kind of the pod's controller (the ownerReference with `controller: true`), if any. */
export function controllerKind(pod: Pod): string | undefined {
  return pod.metadata?.ownerReferences?.find((ref) => ref.controller === true)?.kind;
}
