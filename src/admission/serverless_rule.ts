/**
 * Rule 5 of DESIGN §5: is this agent a serverless one or a sidecar (-> watch-disabled)?
 *
 * Checked in this order, the first match wins:
 *  - `serverless-sidecar`: the agent shares its pod with an application container;
 *  - `serverless-pod-label` / `serverless-pod-annotation`: markers that serverless platforms put
 *    on their pods (ECI, Fargate, TKE ds-injection);
 *  - `serverless-node-selector`: the pod is pinned to serverless nodes by `nodeSelector` or by
 *    required node affinity (every term requires a serverless node label);
 *  - `serverless-node-label`: the target node is known (spec.nodeName or a DaemonSet pod's
 *    affinity) and the node cache says it is a serverless node;
 *  - `serverless-toleration`: the pod tolerates a serverless taint. A toleration only *allows* a
 *    node, so this is used only when the target node is unknown.
 *
 * A DaemonSet pod is decided by its node alone (DESIGN §5): the node selector, required affinity
 * and node label checks apply to it, the sidecar, pod label, pod annotation and toleration checks
 * do not. Its copies on ordinary nodes stay normal even when the template carries TKE's
 * `ds-injection` annotation; the sidecars injected from it into application pods are caught by
 * the sidecar rule when the webhook is reinvoked.
 */
import type { Config } from '../config/config.ts';
import type { NodeSelectorTerm, Pod } from '../kube/objects.ts';
import { firstWildcardMatch, wildcardMatches } from '../selector/selectors.ts';
import type { PodView } from './pod_view.ts';
import type { RuleMatch } from './watcher_rule.ts';

export type ServerlessRule =
  | 'serverless-sidecar'
  | 'serverless-pod-label'
  | 'serverless-pod-annotation'
  | 'serverless-node-selector'
  | 'serverless-node-label'
  | 'serverless-toleration';

/** A required node-affinity term pins the pod to serverless nodes when one of its `In` expressions only allows serverless values. */
function termRequiresServerless(term: NodeSelectorTerm, config: Config): string | undefined {
  for (const e of term.matchExpressions ?? []) {
    if (
      e.operator === 'In' &&
      e.values?.length &&
      e.values.every((v) => wildcardMatches(config.serverless.nodeSelectors, e.key, v))
    ) {
      return `${e.key} In [${e.values.join(',')}]`;
    }
  }
  return undefined;
}

function affinityRequiresServerless(pod: Pod, config: Config): string | undefined {
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!Array.isArray(terms) || terms.length === 0) return undefined;
  const found = terms.map((t) => termRequiresServerless(t, config));
  return found.every((f) => f !== undefined) ? found[0] : undefined;
}

export function matchServerless(view: PodView, config: Config): RuleMatch<ServerlessRule> | undefined {
  const s = config.serverless;
  const { pod } = view;
  const spec = pod.spec;
  // A DaemonSet pod is one node's agent: only that node decides. Template-wide markers (TKE's
  // ds-injection annotation, pod labels, a second container, a toleration that every copy carries)
  // would otherwise make the copies on ordinary nodes, the natural watchers, watch-disabled.
  const daemonSet = view.controller === 'DaemonSet';
  if (!daemonSet) {
    const app = s.sidecar ? view.applications[0] : undefined;
    if (app)
      return {
        rule: 'serverless-sidecar',
        detail: `agent shares the pod with container ${JSON.stringify(app.container.name)}`,
      };
    const label = firstWildcardMatch(s.podLabels, view.labels);
    if (label) return { rule: 'serverless-pod-label', detail: `pod label ${label}` };
    const annotation = firstWildcardMatch(s.podAnnotations, view.annotations);
    if (annotation) return { rule: 'serverless-pod-annotation', detail: `pod annotation ${annotation}` };
  }
  const selector = firstWildcardMatch(s.nodeSelectors, spec?.nodeSelector);
  if (selector) return { rule: 'serverless-node-selector', detail: `nodeSelector ${selector}` };
  const affinity = affinityRequiresServerless(pod, config);
  if (affinity) return { rule: 'serverless-node-selector', detail: `required node affinity ${affinity}` };

  const node = view.targetNode;
  if (node) {
    const nodeLabel = firstWildcardMatch(s.nodeLabels, node.labels);
    return nodeLabel
      ? { rule: 'serverless-node-label', detail: `node ${node.name} has label ${nodeLabel}` }
      : undefined;
  }
  if (!daemonSet) {
    const toleration = (spec?.tolerations ?? []).find(
      (t) => typeof t.key === 'string' && s.tolerationKeys.includes(t.key),
    );
    if (toleration) return { rule: 'serverless-toleration', detail: `tolerates ${toleration.key}` };
  }
  return undefined;
}
