/**
 * The three watch policies and how their spellings are read.
 *
 * Released agents spell the preferred value `watch-only`, this project's documents spell it
 * `only-watch`; both are accepted on input. Agents match exactly and case-sensitively and treat
 * everything else as normal, so anything else is an *invalid* value that we refuse or warn about.
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

/** How the agent itself reads a value: unknown values silently count as normal. */
export function policyAsAgentReadsIt(value: string): Policy {
  return parsePolicyEnv(value) ?? 'normal';
}

/** The literal to write into `K8S_WATCH_POLICY` for a policy; undefined for normal (no variable). */
export function policyEnvValue(policy: Policy, onlyWatch: OnlyWatchSpelling): string | undefined {
  if (policy === 'only-watch') return onlyWatch;
  if (policy === 'watch-disabled') return 'watch-disabled';
  return undefined;
}
