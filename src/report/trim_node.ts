/** What the reports keep of a node: its name, labels and conditions. */
import type { KubeObject } from '../kube/objects.ts';

export function trimNode(object: KubeObject): KubeObject {
  const node = object as KubeObject & { status?: { conditions?: { type: string; status: string }[] } };
  return {
    metadata: { name: node.metadata?.name, uid: node.metadata?.uid, labels: node.metadata?.labels ?? {} },
    status: { conditions: (node.status?.conditions ?? []).map(({ type, status }) => ({ type, status })) },
  };
}
