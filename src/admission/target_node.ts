/**
 * The node a pod will run on, when the pod says so before scheduling: `spec.nodeName`, or the
 * node affinity the DaemonSet controller writes into each of its pods (every required term
 * carries `matchFields: [{key: metadata.name, operator: In, values: [<node>]}]`).
 */
import type { Pod } from '../kube/objects.ts';

export function targetNodeName(pod: Pod): string | undefined {
  const spec = pod.spec;
  if (!spec) return undefined;
  if (typeof spec.nodeName === 'string' && spec.nodeName !== '') return spec.nodeName;
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!Array.isArray(terms) || terms.length === 0) return undefined;
  let node: string | undefined;
  for (const term of terms) {
    const field = term.matchFields?.find((f) => f.key === 'metadata.name' && f.operator === 'In');
    const value = field?.values?.length === 1 ? field.values[0] : undefined;
    if (value === undefined || (node !== undefined && node !== value)) return undefined;
    node = value;
  }
  return node;
}
