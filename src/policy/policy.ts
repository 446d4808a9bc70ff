/**
 * The three watch policies and how their spellings are read.
 *
 * Released agents spell the preferred value `watch-only` (the default `onlyWatchValue`), the
 * design spells it `only-watch`; both are accepted on input and the other spelling is rewritten
 * to the configured one. Agents match exactly and case-sensitively and treat everything else as
 * normal, so anything else is an *invalid* value that we refuse or warn about.
 */

export type Policy = 'only-watch' | 'watch-disabled' | 'normal';

export const POLICIES: readonly Policy[] = ['only-watch', 'watch-disabled', 'normal'];

export type OnlyWatchSpelling = 'only-watch' | 'watch-only';

/** Reads a `deepflow.io/k8s-watch-policy` label value; undefined when it is not a valid value. */
export function parsePolicyLabel(value: string): Policy | undefined {
  switch (value) {
    case 'only-watch':
    case 'watch-only':
      return 'only-watch';
    case 'watch-disabled':
      return 'watch-disabled';
    case 'normal':
      return 'normal';
    default:
      return undefined;
  }
}

/**
 * Reads a literal `K8S_WATCH_POLICY` value. The empty string is what the agent sees as unset
 * (normal). `normal` is not a value the agent knows; it is accepted only as a label.
 */
export function parsePolicyEnv(value: string): Policy | undefined {
  switch (value) {
    case 'only-watch':
    case 'watch-only':
      return 'only-watch';
    case 'watch-disabled':
      return 'watch-disabled';
    case '':
      return 'normal';
    default:
      return undefined;
  }
}

/**
 * How the agent itself reads a value: exactly its only-watch spelling (`onlyWatch`, `watch-only`
 * for released agents) and `watch-disabled`, case-sensitively; everything else, the other
 * only-watch spelling included, silently counts as normal.
 */
export function policyAsAgentReadsIt(value: string, onlyWatch: OnlyWatchSpelling): Policy {
  if (value === onlyWatch) return 'only-watch';
  if (value === 'watch-disabled') return 'watch-disabled';
  return 'normal';
}

/** The only-watch spelling that is not `onlyWatch`: the same policy, but one the configured agents do not read. */
export function otherSpelling(onlyWatch: OnlyWatchSpelling): OnlyWatchSpelling {
  return onlyWatch === 'watch-only' ? 'only-watch' : 'watch-only';
}

/** The literal to write into `K8S_WATCH_POLICY` for a policy; undefined for normal (no variable). */
export function policyEnvValue(policy: Policy, onlyWatch: OnlyWatchSpelling): string | undefined {
  if (policy === 'only-watch') return onlyWatch;
  if (policy === 'watch-disabled') return 'watch-disabled';
  return undefined;
}
