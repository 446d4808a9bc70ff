/** Reading and rewriting one container's `env` list without touching the input. */
import type { Container, EnvVar } from '../kube/objects.js';

export function findEnv(container: Container, name: string): EnvVar | undefined {
  return Array.isArray(container.env) ? container.env.find((e) => e?.name === name) : undefined;
}

export function hasEnv(container: Container, name: string): boolean {
  return findEnv(container, name) !== undefined;
}

/** The literal value of a variable the way the kubelet passes it: a missing `value` is "". */
export function literalValue(env: EnvVar): string | undefined {
  if (env.valueFrom !== undefined) return undefined;
  return typeof env.value === 'string' ? env.value : '';
}
