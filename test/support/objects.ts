/**
 * Kubernetes objects as the end-to-end, release and node suites send them to the API server
 * (wire shape, plain objects): the agent container they all run. The unit suites' builders, typed
 * as the product's own types, are in fixtures.ts.
 */
import { POLICY_ENV } from '../../src/policy/labels.ts';

/** The agent container's name, as the DeepFlow charts name it. */
export const AGENT_CONTAINER = 'deepflow-agent';
/** An agent image for pods that kwok runs (never pulled). */
export const FAKE_AGENT_IMAGE = 'registry.example.com/deepflow-ce/deepflow-agent:v6.6';

export interface EnvEntry {
  name: string;
  value: string;
}

/** A deepflow-agent container with `image` and, when given, these env entries. */
export function agentContainer(image: string, env: readonly unknown[] = []) {
  return { name: AGENT_CONTAINER, image, ...(env.length > 0 && { env: [...env] }) };
}

/** K8S_WATCH_POLICY=<policy> as an env list, or none. */
export const policyEnv = (policy?: string): EnvEntry[] => (policy ? [{ name: POLICY_ENV, value: policy }] : []);
