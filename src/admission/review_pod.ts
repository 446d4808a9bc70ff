/**
 * Reviews one pod as the mutating webhook does, in four steps over one view of the pod
 * (pod_view.ts): the decision (decision.ts); the findings, denials and warnings
 * (pod_findings.ts); each agent container's env settled against the decision (agent_env.ts); the
 * admitted pod with its reason annotation, and the minimal JSON Patch to it.
 *
 * Pure: the input pod is never modified; the admitted pod is built by copying only the objects on
 * the path of a change, and the patch is the difference computed by fast-json-patch (which escapes
 * paths per RFC 6901). Reviewing the admitted pod again yields no patch and the same decision,
 * which is what `reinvocationPolicy: IfNeeded` relies on.
 */
import type { Operation } from 'fast-json-patch';
import type { Config } from '../config/config.ts';
import type { NodeLookup } from '../kube/node_lookup.ts';
import type { Container, Pod } from '../kube/objects.ts';
import { REASON_ANNOTATION } from '../policy/labels.ts';
import type { Policy } from '../policy/policy.ts';
import { admissionPatch } from './admission_patch.ts';
import { EXPLICIT, settleAgent, type SettledAgent } from './agent_env.ts';
import { decideView, type Decision } from './decision.ts';
import { findings, isMutating } from './pod_findings.ts';
import { containerKey, podView, type PodView } from './pod_view.ts';

export interface ReviewOptions {
  config: Config;
  /** The webhook's node cache (or the Nodes of a manifest); without it the target node is unknown. */
  nodes?: NodeLookup;
}

export interface PodReview {
  allowed: boolean;
  /** Every reason for a denial, joined with "; ". */
  denial?: string;
  /** Admission warnings, one per finding. */
  warnings: string[];
  decision: Decision;
  /** From the input pod to {@link pod}; empty when nothing changes. */
  patch: Operation[];
  /** The pod as admitted: the input object itself when nothing changes. */
  pod: Pod;
  /** The policy this review wrote into agent containers because of the decision, if any. */
  injected?: Policy;
}

export function reviewPod(pod: Pod, { config, nodes }: ReviewOptions): PodReview {
  const view = podView(pod, config, nodes);
  const decision = decideView(view, config);
  const { denials, warnings, toMigrate } = findings(view, decision, config);
  if (denials.length > 0) return { allowed: false, denial: denials.join('; '), warnings, decision, patch: [], pod };
  if (!isMutating(decision)) return { allowed: true, warnings, decision, patch: [], pod };
  const settled = view.agents.map((located) =>
    settleAgent(located, { decision, config, migrate: toMigrate.has(containerKey(located)), warnings }),
  );
  return admit(view, decision, settled, warnings);
}

/** The pod as admitted: the settled containers and the reason annotation, and the patch to it. */
function admit(view: PodView, decision: Decision, settled: SettledAgent[], warnings: string[]): PodReview {
  const { pod } = view;
  const replaced = new Map(settled.flatMap((s) => (s.container ? [[s.key, s.container] as const] : [])));
  const reason = podReason(settled, view.annotations[REASON_ANNOTATION]);
  if (replaced.size === 0 && view.annotations[REASON_ANNOTATION] === reason)
    return { allowed: true, warnings, decision, patch: [], pod };
  const admitted = withChanges(pod, replaced, reason);
  const patch = admissionPatch(pod, admitted);
  const injected = settled.some((s) => s.wrote) ? decision.policy : undefined;
  return {
    allowed: true,
    warnings,
    decision,
    patch,
    pod: patch.length > 0 ? admitted : pod,
    ...(injected && { injected }),
  };
}

/**
 * The pod's reason: its first agent's. A migrated value is explicit on the next review, so a pod
 * that says it was migrated keeps saying so (idempotence).
 */
function podReason(settled: SettledAgent[], previous: string | undefined): string {
  const reason = settled[0]!.reason;
  return reason.endsWith(`/${EXPLICIT}`) && previous === reason.replace(EXPLICIT, 'migrated') ? previous : reason;
}

/** A copy of the pod with the replaced containers and the reason annotation; only the changed paths are new objects. */
function withChanges(pod: Pod, replaced: Map<string, Container>, reason: string): Pod {
  const spec = { ...pod.spec };
  for (const field of ['containers', 'initContainers'] as const) {
    const list = spec[field];
    if (Array.isArray(list)) spec[field] = list.map((c, i) => replaced.get(`${field}/${i}`) ?? c);
  }
  const metadata = { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [REASON_ANNOTATION]: reason } };
  return { ...pod, metadata, spec };
}
