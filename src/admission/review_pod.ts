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
import { agentContainers, allContainers, describeContainer, type LocatedContainer } from '../agent/agent_containers.ts';
import type { Config } from '../config/config.ts';
import type { Container, EnvVar, Pod } from '../kube/objects.ts';
import { DEPRECATED_ENV, POLICY_ENV, POLICY_LABEL, REASON_ANNOTATION } from '../policy/labels.ts';
import {
  otherSpelling,
  parsePolicyEnv,
  parsePolicyLabel,
  policyAsAgentReadsIt,
  policyEnvValue,
  type Policy,
} from '../policy/policy.ts';
import { admissionPatch } from './admission_patch.ts';
import { POLICY_ENV_SINCE, predatesPolicyEnv } from '../agent/agent_version.ts';
import { imageName } from '../agent/image_name.ts';
import { findEnv, hasEnv, literalValue } from '../agent/container_env.ts';
import { decide, type Decision } from './decision.ts';
import type { NodeLookup } from '../kube/node_lookup.ts';

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

const key = (c: LocatedContainer) => `${c.field}/${c.index}`;

/** The reason of a value this review keeps as the user set it (the policy is how the agent reads it). */
const EXPLICIT = 'explicit-env';

/** Only an agent image's tag is an agent version (busybox:1.36 is not deepflow-agent v1.36). */
function predatesPolicyEnvImage(located: LocatedContainer, config: Config): string | undefined {
  const image = located.container.image;
  return typeof image === 'string' && config.agent.imageNames.includes(imageName(image)) && predatesPolicyEnv(image)
    ? image
    : undefined;
}

function deprecatedFix(located: LocatedContainer, config: Config): string {
  const fix = `remove it and set ${POLICY_ENV}=${config.onlyWatchValue}`;
  const orWarn = config.deprecatedEnv === 'reject' ? ' (or set deprecatedEnv: warn)' : '';
  const image = predatesPolicyEnvImage(located, config);
  if (image) {
    return `${fix}; its image ${JSON.stringify(image)} is an agent older than ${POLICY_ENV_SINCE}, which reads only ${DEPRECATED_ENV}: upgrade the agent to ${POLICY_ENV_SINCE} or later${orWarn}`;
  }
  return `${fix} (agents older than ${POLICY_ENV_SINCE} read only ${DEPRECATED_ENV}: upgrade them first${orWarn ? ', or set deprecatedEnv: warn' : ''})`;
}

export function reviewPod(pod: Pod, { config, nodes }: ReviewOptions): PodReview {
  const decision = decide(pod, config, nodes);
  const mutating = decision.rule !== 'disabled' && decision.rule !== 'no-agent';
  const spelling = config.onlyWatchValue;
  const other = otherSpelling(spelling);
  const agents = agentContainers(pod.spec, config.agent);
  const agentKeys = new Set(agents.map(key));
  const denials: string[] = [];
  const warnings: string[] = [];
  const invalid = (message: string) => (config.invalidPolicy === 'reject' ? denials : warnings).push(message);

  const labelValue = pod.metadata?.labels?.[POLICY_LABEL];
  if (labelValue !== undefined && parsePolicyLabel(labelValue) === undefined) {
    invalid(
      `label ${POLICY_LABEL}: invalid value ${JSON.stringify(labelValue)}; use one of ${spelling}, ${other}, watch-disabled, normal`,
    );
  }

  const toMigrate = new Set<string>();
  for (const located of allContainers(pod.spec)) {
    if (!hasEnv(located.container, DEPRECATED_ENV)) continue;
    const where = describeContainer(located);
    const fix = deprecatedFix(located, config);
    if (config.deprecatedEnv === 'reject') {
      denials.push(
        `${where}: ${DEPRECATED_ENV} is no longer supported (agents from ${POLICY_ENV_SINCE} on exit when they find it); ${fix}`,
      );
    } else if (
      config.deprecatedEnv === 'migrate' &&
      mutating &&
      agentKeys.has(key(located)) &&
      !predatesPolicyEnvImage(located, config)
    ) {
      toMigrate.add(key(located));
    } else {
      const why =
        config.deprecatedEnv === 'warn'
          ? ''
          : decision.rule === 'disabled'
            ? ' (injection disabled, not migrated)'
            : agentKeys.has(key(located))
              ? ` (not migrated: this agent reads only ${DEPRECATED_ENV})`
              : ' (not an agent container, not migrated)';
      warnings.push(
        `${where}: ${DEPRECATED_ENV} is deprecated and makes agents from ${POLICY_ENV_SINCE} on exit${why}; ${fix}`,
      );
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
  const decided = `${decision.policy}/${decision.rule}`;
  /** Why each agent container ends with its value; the pod's reason is its first agent's. */
  const reasons: string[] = [];
  let injected: Policy | undefined;
  const replaced = new Map<string, Container>();

  for (const located of agents) {
    const where = describeContainer(located);
    let env: EnvVar[] = Array.isArray(located.container.env) ? [...located.container.env] : [];
    let changed = false;
    let migrated = false;

    if (toMigrate.has(key(located))) {
      const existing = findEnv(located.container, POLICY_ENV);
      const keepExisting = existing !== undefined;
      const first = env.findIndex((e) => e?.name === DEPRECATED_ENV);
      if (!keepExisting) env[first] = { name: POLICY_ENV, value: spelling };
      env = env.filter((e) => e?.name !== DEPRECATED_ENV);
      warnings.push(
        keepExisting
          ? `${where}: ${DEPRECATED_ENV} removed; its ${POLICY_ENV} is kept`
          : `${where}: ${DEPRECATED_ENV} replaced by ${POLICY_ENV}=${spelling}`,
      );
      migrated = true;
      changed = true;
    }

    // The agent, like the kubelet, uses the last entry of a name; earlier ones only mislead.
    const entries = env.filter((e) => e?.name === POLICY_ENV);
    if (entries.length > 1) {
      const last = entries.at(-1)!;
      env = env.filter((e) => e?.name !== POLICY_ENV || e === last);
      warnings.push(
        `${where}: ${POLICY_ENV} was set ${entries.length} times; the earlier entries are removed, the last one (the one the agent reads) is kept`,
      );
      changed = true;
    }

    const at = env.findIndex((e) => e?.name === POLICY_ENV);
    const existing = env[at];
    let reason: string;
    let wrote = false;
    if (!existing) {
      if (target !== undefined) {
        env.push({ name: POLICY_ENV, value: target });
        wrote = true;
      }
      reason = decided;
    } else {
      const value = literalValue(existing);
      const current = value === undefined ? undefined : parsePolicyEnv(value);
      const describe = `${decision.policy} (${decision.rule})`;
      if (value === undefined) {
        if (decision.affirmative)
          warnings.push(`${where}: ${POLICY_ENV} comes from valueFrom and is kept; the webhook would set ${describe}`);
        reason = 'unknown/value-from';
      } else if (current !== decision.policy && decision.affirmative && config.explicitEnv === 'override') {
        if (target === undefined) env.splice(at, 1);
        else env[at] = { name: POLICY_ENV, value: target };
        warnings.push(
          `${where}: ${POLICY_ENV}=${value} replaced by ${target ?? '(unset)'}: ${describe}, explicitEnv override`,
        );
        wrote = true;
        reason = decided;
      } else {
        if (current !== decision.policy && decision.affirmative) {
          warnings.push(
            `${where}: ${POLICY_ENV}=${value} kept (explicitEnv respect); the webhook would set ${describe}`,
          );
        }
        let effective = value;
        if (value === other) {
          // The same policy in the spelling the configured agents do not read: they would run as normal.
          env[at] = { name: POLICY_ENV, value: spelling };
          effective = spelling;
          warnings.push(
            `${where}: ${POLICY_ENV}=${other} respelled ${spelling}: the agent reads only ${spelling} and would run as normal with ${other} (onlyWatchValue)`,
          );
          changed = true;
          if (current === decision.policy) wrote = true;
        }
        reason =
          current === decision.policy
            ? decided
            : `${policyAsAgentReadsIt(effective, spelling)}/${migrated ? 'migrated' : EXPLICIT}`;
      }
    }
    if (wrote) {
      injected = decision.policy;
      changed = true;
    }
    reasons.push(reason);
    if (changed) replaced.set(key(located), { ...located.container, env });
  }

  const annotations = pod.metadata?.annotations;
  let reason = reasons[0]!;
  // A migrated value is explicit on the next review: keep saying it was migrated (idempotence).
  const previous = annotations?.[REASON_ANNOTATION];
  if (reason.endsWith(`/${EXPLICIT}`) && previous === reason.replace(EXPLICIT, 'migrated')) reason = previous;

  if (replaced.size === 0 && previous === reason) return { allowed: true, warnings, decision, patch: [], pod };

  const spec = { ...pod.spec };
  for (const field of ['containers', 'initContainers'] as const) {
    const list = spec[field];
    if (Array.isArray(list)) spec[field] = list.map((c, i) => replaced.get(`${field}/${i}`) ?? c);
  }
  const metadata = { ...pod.metadata, annotations: { ...annotations, [REASON_ANNOTATION]: reason } };
  const admitted: Pod = { ...pod, metadata, spec };
  const patch = admissionPatch(pod, admitted);
  return {
    allowed: true,
    warnings,
    decision,
    patch,
    pod: patch.length > 0 ? admitted : pod,
    ...(injected && { injected }),
  };
}
