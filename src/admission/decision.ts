/**
 * The admission decision for one pod: DESIGN §5, first match wins.
 *
 *   1. label injection=disabled -> no mutation (validation still runs)      rule `disabled`
 *   2. no agent container -> no mutation                                      rule `no-agent`
 *   3. label deepflow.io/k8s-watch-policy -> that policy                      rule `label`
 *   4. watcher (selector, or a ReplicaSet pod of agents only) -> only-watch  see watcher_rule.ts
 *   5. serverless or sidecar -> watch-disabled                               see serverless_rule.ts
 *   6. otherwise -> normal (no injection)                                    rule `default`
 *
 * A watcher Deployment running on serverless nodes is still a watcher: rule 4 comes before 5.
 */
import type { Config } from '../config/config.ts';
import type { Pod } from '../kube/objects.ts';
import { INJECTION_LABEL, POLICY_LABEL } from '../policy/labels.ts';
import { parsePolicyLabel, type Policy } from '../policy/policy.ts';
import type { NodeLookup } from '../kube/node_lookup.ts';
import { podView, type PodView } from './pod_view.ts';
import { matchServerless, type ServerlessRule } from './serverless_rule.ts';
import { matchWatcher, type WatcherRule } from './watcher_rule.ts';

export type Rule = 'disabled' | 'no-agent' | 'label' | WatcherRule | ServerlessRule | 'default';

export interface Decision {
  policy: Policy;
  rule: Rule;
  /** Human-readable evidence for the rule, for logs and the CLI. */
  detail: string;
  /**
   * True when a rule positively chose the policy (rules 3-5). Only such a decision replaces an
   * explicit `K8S_WATCH_POLICY` under `explicitEnv: override` or raises a conflict warning;
   * rule 6 (`default`) has no opinion about a value the user set.
   */
  affirmative: boolean;
}

export function decide(pod: Pod, config: Config, nodes?: NodeLookup): Decision {
  return decideView(podView(pod, config, nodes), config);
}

/** {@link decide} over a view of the pod the caller computed already. */
export function decideView(view: PodView, config: Config): Decision {
  const labels = view.labels;
  if (labels[INJECTION_LABEL] === 'disabled') {
    return { policy: 'normal', rule: 'disabled', detail: `pod label ${INJECTION_LABEL}=disabled`, affirmative: false };
  }
  if (view.agents.length === 0) {
    return { policy: 'normal', rule: 'no-agent', detail: 'no agent container', affirmative: false };
  }
  const labelled = labels[POLICY_LABEL] === undefined ? undefined : parsePolicyLabel(labels[POLICY_LABEL]);
  if (labelled) {
    return {
      policy: labelled,
      rule: 'label',
      detail: `pod label ${POLICY_LABEL}=${labels[POLICY_LABEL]}`,
      affirmative: true,
    };
  }
  const watcher = matchWatcher(view, config);
  if (watcher) return { policy: 'only-watch', ...watcher, affirmative: true };
  const serverless = matchServerless(view, config);
  if (serverless) return { policy: 'watch-disabled', ...serverless, affirmative: true };
  return { policy: 'normal', rule: 'default', detail: 'no rule matched', affirmative: false };
}
