/** Reading and rewriting one container's `env` list without touching the input. */
import type { Container, EnvVar } from '../kube/objects.ts';
import { policyAsAgentReadsIt, type OnlyWatchSpelling, type Policy } from '../policy/policy.ts';

/** The variable as the container sees it: with duplicate names, the last entry wins. */
export function findEnv(container: Container, name: string): EnvVar | undefined {
  return Array.isArray(container.env) ? container.env.findLast((e) => e?.name === name) : undefined;
}

export function hasEnv(container: Container, name: string): boolean {
  return findEnv(container, name) !== undefined;
}

/** The literal value of a variable the way the kubelet passes it: a missing `value` is "". */
export function literalValue(env: EnvVar): string | undefined {
  if (env.valueFrom !== undefined) return undefined;
  return typeof env.value === 'string' ? env.value : '';
}

/** The policy an agent runs with given its `K8S_WATCH_POLICY` (absent, unknown, the other spelling or `valueFrom`: normal). */
export function policyOfEnv(env: EnvVar | undefined, onlyWatch: OnlyWatchSpelling): Policy {
  const value = env && literalValue(env);
  return value === undefined ? 'normal' : policyAsAgentReadsIt(value, onlyWatch);
}
