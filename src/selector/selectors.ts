/** Label selectors (metav1.LabelSelector semantics) and the wildcard maps of the config. */
import type { LabelSelector } from '../kube/objects.ts';
import type { WildcardMap } from '../config/config.ts';

/** True when `labels` satisfy every matchLabels entry and every matchExpressions requirement. */
export function matchesLabelSelector(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const have = labels ?? {};
  const matchLabels = Object.entries(selector.matchLabels ?? {});
  const expressions = selector.matchExpressions ?? [];
  // An empty selector matches everything in Kubernetes; a watcher selector that matches every
  // agent would make every agent only-watch, so we treat an empty selector as matching nothing.
  if (matchLabels.length === 0 && expressions.length === 0) return false;
  for (const [k, v] of matchLabels) if (have[k] !== v) return false;
  for (const { key, operator, values = [] } of expressions) {
    const present = Object.hasOwn(have, key);
    switch (operator) {
      case 'In':
        if (!present || !values.includes(have[key]!)) return false;
        break;
      case 'NotIn':
        if (present && values.includes(have[key]!)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
    }
  }
  return true;
}

/** The first `key: value` of `wanted` that `have` carries (`"*"` matches any value), if any. */
export function firstWildcardMatch(wanted: WildcardMap, have: Record<string, string> | undefined): string | undefined {
  if (!have) return undefined;
  for (const [k, v] of Object.entries(wanted)) {
    if (Object.hasOwn(have, k) && (v === '*' || have[k] === v)) return `${k}=${have[k]}`;
  }
  return undefined;
}

/** Whether `value` of label `key` is matched by the wildcard map. */
export function wildcardMatches(wanted: WildcardMap, key: string, value: string): boolean {
  return Object.hasOwn(wanted, key) && (wanted[key] === '*' || wanted[key] === value);
}
