/**
 * Reviews one pod as the mutating webhook does: validation (deprecated and invalid values), the
 * decision, and the mutation as a minimal JSON Patch.
 *
 * Pure: the input pod is never modified; the admitted pod is built by copying only the objects on
 * the path of a change, and the patch is the difference computed by fast-json-patch (which escapes
 * paths per RFC 6901). Reviewing the admitted pod again yields no patch and the same decision,
 * which is what `reinvocationPolicy: IfNeeded` relies on.
 */
import type { Operation } from 'fast-json-patch';
import { agentContainers, allContainers, describeContainer, type LocatedContainer } from '../agent/agent_containers.js';
import type { Config } from '../config/config.js';
import type { Container, EnvVar, Pod } from '../kube/objects.js';
import { DEPRECATED_ENV, POLICY_ENV, POLICY_LABEL, REASON_ANNOTATION } from '../policy/labels.js';
import { parsePolicyEnv, parsePolicyLabel, policyEnvValue, type Policy } from '../policy/policy.js';
import { admissionPatch } from './admission_patch.js';
import { findEnv, hasEnv, literalValue, policyOfEnv } from './container_env.js';
import { decide, type Decision } from './decision.js';
import type { NodeLookup } from './serverless_rule.js';

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

const POLICY_LABEL_VALUES = 'only-watch, watch-only, watch-disabled, normal';

const key = (c: LocatedContainer) => `${c.field}/${c.index}`;

export function reviewPod(pod: Pod, { config, nodes }: ReviewOptions): PodReview {
  const decision = decide(pod, config, nodes);
  const mutating = decision.rule !== 'disabled' && decision.rule !== 'no-agent';
  const spelling = config.onlyWatchValue;
  const agents = agentContainers(pod.spec, config.agent);
  const agentKeys = new Set(agents.map(key));
  const denials: string[] = [];
  const warnings: string[] = [];
  const invalid = (message: string) => (config.invalidPolicy === 'reject' ? denials : warnings).push(message);

  const labelValue = pod.metadata?.labels?.[POLICY_LABEL];
  if (labelValue !== undefined && parsePolicyLabel(labelValue) === undefined) {
    invalid(`label ${POLICY_LABEL}: invalid value ${JSON.stringify(labelValue)}; use one of ${POLICY_LABEL_VALUES}`);
  }

  const toMigrate = new Set<string>();
  for (const located of allContainers(pod.spec)) {
    if (!hasEnv(located.container, DEPRECATED_ENV)) continue;
    const where = describeContainer(located);
    const fix = `remove it and set ${POLICY_ENV}=${spelling}`;
    if (config.deprecatedEnv === 'reject') {
      denials.push(`${where}: ${DEPRECATED_ENV} is no longer supported; ${fix}`);
    } else if (config.deprecatedEnv === 'migrate' && mutating && agentKeys.has(key(located))) {
      toMigrate.add(key(located));
    } else {
      const why = config.deprecatedEnv === 'warn' ? '' : decision.rule === 'disabled' ? ' (injection disabled, not migrated)' : ' (not an agent container, not migrated)';
      warnings.push(`${where}: ${DEPRECATED_ENV} is deprecated and makes the agent exit${why}; ${fix}`);
    }
  }

  for (const located of agents) {
    const env = findEnv(located.container, POLICY_ENV);
    const value = env && literalValue(env);
    if (value !== undefined && parsePolicyEnv(value) === undefined) {
      invalid(
        `${describeContainer(located)}: ${POLICY_ENV}=${JSON.stringify(value)} is not a value the agent knows ` +
          `(it would silently run as normal); use ${spelling} or watch-disabled`,
      );
    }
  }

  if (denials.length > 0) {
    return { allowed: false, denial: denials.join('; '), warnings, decision, patch: [], pod };
  }
  if (!mutating) return { allowed: true, warnings, decision, patch: [], pod };

  const target = policyEnvValue(decision.policy, spelling);
  let reason: string | undefined;
  let injected: Policy | undefined;
  const replaced = new Map<string, Container>();

  for (const located of agents) {
    const where = describeContainer(located);
    const env: EnvVar[] = Array.isArray(located.container.env) ? [...located.container.env] : [];
    let changed = false;

    if (toMigrate.has(key(located))) {
      const existing = findEnv(located.container, POLICY_ENV);
      const keepExisting = existing !== undefined;
      const first = env.findIndex((e) => e.name === DEPRECATED_ENV);
      if (!keepExisting) env[first] = { name: POLICY_ENV, value: spelling };
      for (let i = env.length - 1; i >= 0; i--) if (env[i]!.name === DEPRECATED_ENV) env.splice(i, 1);
      warnings.push(
        keepExisting
          ? `${where}: ${DEPRECATED_ENV} removed; its ${POLICY_ENV} is kept`
          : `${where}: ${DEPRECATED_ENV} replaced by ${POLICY_ENV}=${spelling}`,
      );
      reason ??= `${keepExisting ? policyOfEnv(existing) : 'only-watch'}/migrated`;
      changed = true;
    }

    const at = env.findLastIndex((e) => e.name === POLICY_ENV);
    const existing = env[at];
    let set: 'inject' | 'rewrite' | undefined;
    if (!existing) {
      if (target !== undefined) {
        env.push({ name: POLICY_ENV, value: target });
        set = 'inject';
      }
    } else {
      const value = literalValue(existing);
      const current = value === undefined ? undefined : parsePolicyEnv(value);
      const decided = `${decision.policy} (${decision.rule})`;
      if (value === undefined) {
        if (decision.affirmative) warnings.push(`${where}: ${POLICY_ENV} comes from valueFrom and is kept; the webhook would set ${decided}`);
      } else if (current === decision.policy) {
        // Equal: both spellings mean only-watch, and the user may know which one their agents
        // parse. Only `explicitEnv: override` brings it to the configured spelling.
        if (target !== undefined && value !== target && decision.affirmative && config.explicitEnv === 'override') {
          env[at] = { name: POLICY_ENV, value: target };
          warnings.push(`${where}: ${POLICY_ENV}=${value} respelled ${target} (onlyWatchValue, explicitEnv override)`);
          set = 'rewrite';
        }
      } else if (decision.affirmative) {
        if (config.explicitEnv === 'override') {
          if (target === undefined) env.splice(at, 1);
          else env[at] = { name: POLICY_ENV, value: target };
          warnings.push(`${where}: ${POLICY_ENV}=${value} replaced by ${target ?? '(unset)'}: ${decided}, explicitEnv override`);
          set = 'rewrite';
        } else {
          warnings.push(`${where}: ${POLICY_ENV}=${value} kept (explicitEnv respect); the webhook would set ${decided}`);
        }
      }
    }
    if (set) {
      reason = `${decision.policy}/${decision.rule}`;
      injected = decision.policy;
      changed = true;
    }
    if (changed) replaced.set(key(located), { ...located.container, env });
  }

  if (replaced.size === 0) return { allowed: true, warnings, decision, patch: [], pod };

  const spec = { ...pod.spec };
  for (const field of ['containers', 'initContainers'] as const) {
    const list = spec[field];
    if (Array.isArray(list)) spec[field] = list.map((c, i) => replaced.get(`${field}/${i}`) ?? c);
  }
  const metadata = { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [REASON_ANNOTATION]: reason! } };
  const admitted: Pod = { ...pod, metadata, spec };
  const patch = admissionPatch(pod, admitted);
  return { allowed: true, warnings, decision, patch, pod: patch.length > 0 ? admitted : pod, ...(injected && { injected }) };
}
