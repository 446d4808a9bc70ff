/**
 * One agent container's env settled against the decision: ONLY_WATCH_K8S_RESOURCE migrated (when
 * `deprecatedEnv: migrate` asked for it), duplicate K8S_WATCH_POLICY entries dropped, then
 * K8S_WATCH_POLICY written, kept, replaced (`explicitEnv`) or respelled (`onlyWatchValue`), with
 * the reason the container ends with its value.
 */
import { describeContainer, type LocatedContainer } from '../agent/agent_containers.ts';
import { findEnv, literalValue } from '../agent/container_env.ts';
import type { Config } from '../config/config.ts';
import type { Container, EnvVar } from '../kube/objects.ts';
import { DEPRECATED_ENV, POLICY_ENV } from '../policy/labels.ts';
import { otherSpelling, parsePolicyEnv, policyAsAgentReadsIt, policyEnvValue, type Policy } from '../policy/policy.ts';
import type { Decision } from './decision.ts';
import { containerKey } from './pod_view.ts';

/** The reason of a value this review keeps as the user set it (the policy is how the agent reads it). */
export const EXPLICIT = 'explicit-env';

export interface SettleContext {
  decision: Decision;
  config: Config;
  /** Replace this container's ONLY_WATCH_K8S_RESOURCE by K8S_WATCH_POLICY. */
  migrate: boolean;
  /** The review's warnings, appended to. */
  warnings: string[];
}

/** One agent container once its env is settled. */
export interface SettledAgent {
  key: string;
  /** The container to admit, when it changed. */
  container?: Container;
  /** Why it runs with its value: `<policy>/<rule>`. */
  reason: string;
  /** Whether the decision's policy was written into it. */
  wrote: boolean;
}

export function settleAgent(located: LocatedContainer, ctx: SettleContext): SettledAgent {
  const where = describeContainer(located);
  let env: EnvVar[] = Array.isArray(located.container.env) ? [...located.container.env] : [];
  let changed = false;
  if (ctx.migrate) {
    env = migrateDeprecated(located, env, where, ctx);
    changed = true;
  }
  // The agent, like the kubelet, uses the last entry of a name; earlier ones only mislead.
  const entries = env.filter((e) => e?.name === POLICY_ENV);
  if (entries.length > 1) {
    const last = entries.at(-1)!;
    env = env.filter((e) => e?.name !== POLICY_ENV || e === last);
    ctx.warnings.push(
      `${where}: ${POLICY_ENV} was set ${entries.length} times; the earlier entries are removed, the last one (the one the agent reads) is kept`,
    );
    changed = true;
  }
  const policy = settlePolicyEnv(env, where, ctx);
  const container = changed || policy.changed || policy.wrote ? { ...located.container, env } : undefined;
  return { key: containerKey(located), ...(container && { container }), reason: policy.reason, wrote: policy.wrote };
}

/** ONLY_WATCH_K8S_RESOURCE replaced by K8S_WATCH_POLICY in place (an existing K8S_WATCH_POLICY wins). */
function migrateDeprecated(located: LocatedContainer, env: EnvVar[], where: string, ctx: SettleContext): EnvVar[] {
  const spelling = ctx.config.onlyWatchValue;
  const keepExisting = findEnv(located.container, POLICY_ENV) !== undefined;
  const first = env.findIndex((e) => e?.name === DEPRECATED_ENV);
  if (!keepExisting) env[first] = { name: POLICY_ENV, value: spelling };
  ctx.warnings.push(
    keepExisting
      ? `${where}: ${DEPRECATED_ENV} removed; its ${POLICY_ENV} is kept`
      : `${where}: ${DEPRECATED_ENV} replaced by ${POLICY_ENV}=${spelling}`,
  );
  return env.filter((e) => e?.name !== DEPRECATED_ENV);
}

interface SettledPolicy {
  reason: string;
  wrote: boolean;
  changed: boolean;
}

/**
 * K8S_WATCH_POLICY in `env` (changed in place) against the decision: written where there is none,
 * kept or replaced where there is one (`explicitEnv`), respelled where it is the only-watch policy
 * in the spelling the agents do not read.
 */
function settlePolicyEnv(env: EnvVar[], where: string, ctx: SettleContext): SettledPolicy {
  const { decision, config } = ctx;
  const at = env.findIndex((e) => e?.name === POLICY_ENV);
  if (at < 0) return writePolicyEnv(env, ctx);
  const value = literalValue(env[at]!);
  const describe = `${decision.policy} (${decision.rule})`;
  if (value === undefined) {
    if (decision.affirmative)
      ctx.warnings.push(`${where}: ${POLICY_ENV} comes from valueFrom and is kept; the webhook would set ${describe}`);
    return { reason: 'unknown/value-from', wrote: false, changed: false };
  }
  const current = parsePolicyEnv(value);
  const conflict = current !== decision.policy && decision.affirmative;
  if (conflict && config.explicitEnv === 'override') {
    const target = policyEnvValue(decision.policy, config.onlyWatchValue);
    if (target === undefined) env.splice(at, 1);
    else env[at] = { name: POLICY_ENV, value: target };
    ctx.warnings.push(
      `${where}: ${POLICY_ENV}=${value} replaced by ${target ?? '(unset)'}: ${describe}, explicitEnv override`,
    );
    return { reason: `${decision.policy}/${decision.rule}`, wrote: true, changed: false };
  }
  if (conflict) {
    ctx.warnings.push(`${where}: ${POLICY_ENV}=${value} kept (explicitEnv respect); the webhook would set ${describe}`);
  }
  return keepPolicyEnv(env, at, value, current, where, ctx);
}

/** No K8S_WATCH_POLICY yet: the decision's value, if it has one (normal has none). */
function writePolicyEnv(env: EnvVar[], { decision, config }: SettleContext): SettledPolicy {
  const target = policyEnvValue(decision.policy, config.onlyWatchValue);
  if (target !== undefined) env.push({ name: POLICY_ENV, value: target });
  return { reason: `${decision.policy}/${decision.rule}`, wrote: target !== undefined, changed: false };
}

/** A literal K8S_WATCH_POLICY that stays: respelled if it is the other spelling of only-watch; its reason. */
function keepPolicyEnv(
  env: EnvVar[],
  at: number,
  value: string,
  current: Policy | undefined,
  where: string,
  ctx: SettleContext,
): SettledPolicy {
  const { decision, config } = ctx;
  const spelling = config.onlyWatchValue;
  const other = otherSpelling(spelling);
  const decided = current === decision.policy;
  let effective = value;
  let changed = false;
  if (value === other) {
    // The same policy in the spelling the configured agents do not read: they would run as normal.
    env[at] = { name: POLICY_ENV, value: spelling };
    effective = spelling;
    ctx.warnings.push(
      `${where}: ${POLICY_ENV}=${other} respelled ${spelling}: the agent reads only ${spelling} and would run as normal with ${other} (onlyWatchValue)`,
    );
    changed = true;
  }
  const reason = decided
    ? `${decision.policy}/${decision.rule}`
    : `${policyAsAgentReadsIt(effective, spelling)}/${ctx.migrate ? 'migrated' : EXPLICIT}`;
  return { reason, wrote: decided && changed, changed };
}
