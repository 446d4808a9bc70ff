/**
 * What is wrong with a pod as sent, before anything is written into it: an invalid policy label
 * or K8S_WATCH_POLICY literal (refused or warned, `invalidPolicy`), and ONLY_WATCH_K8S_RESOURCE
 * anywhere in it (refused, warned, or marked for migration, `deprecatedEnv`).
 */
import { describeContainer, type LocatedContainer } from '../agent/agent_containers.ts';
import { POLICY_ENV_SINCE, predatesPolicyEnv } from '../agent/agent_version.ts';
import { findEnv, hasEnv, literalValue } from '../agent/container_env.ts';
import { imageName } from '../agent/image_name.ts';
import type { Config } from '../config/config.ts';
import { DEPRECATED_ENV, POLICY_ENV, POLICY_LABEL } from '../policy/labels.ts';
import { otherSpelling, parsePolicyEnv, parsePolicyLabel } from '../policy/policy.ts';
import type { Decision } from './decision.ts';
import { containerKey as key, type PodView } from './pod_view.ts';

export interface Findings {
  denials: string[];
  warnings: string[];
  /** The agent containers (by key) whose ONLY_WATCH_K8S_RESOURCE becomes K8S_WATCH_POLICY. */
  toMigrate: Set<string>;
}

/** Whether the decision's rule lets the webhook write into the pod (rules 3-6). */
export const isMutating = (decision: Decision): boolean => decision.rule !== 'disabled' && decision.rule !== 'no-agent';

export function findings(view: PodView, decision: Decision, config: Config): Findings {
  const out: Findings = { denials: [], warnings: [], toMigrate: new Set() };
  const invalid = (message: string) => (config.invalidPolicy === 'reject' ? out.denials : out.warnings).push(message);
  const spelling = config.onlyWatchValue;
  const labelValue = view.labels[POLICY_LABEL];
  if (labelValue !== undefined && parsePolicyLabel(labelValue) === undefined) {
    invalid(
      `label ${POLICY_LABEL}: invalid value ${JSON.stringify(labelValue)}; use one of ${spelling}, ${otherSpelling(spelling)}, watch-disabled, normal`,
    );
  }
  const agentKeys = new Set(view.agents.map(key));
  for (const located of view.containers) {
    if (hasEnv(located.container, DEPRECATED_ENV))
      deprecatedFinding(located, agentKeys.has(key(located)), decision, config, out);
  }
  for (const located of view.agents) {
    const env = findEnv(located.container, POLICY_ENV);
    const value = env && literalValue(env);
    if (value !== undefined && parsePolicyEnv(value) === undefined) {
      invalid(
        `${describeContainer(located)}: ${POLICY_ENV}=${JSON.stringify(value)} is not a value the agent knows ` +
          `(it would silently run as normal); use ${spelling} or watch-disabled`,
      );
    }
  }
  return out;
}

/** A container with ONLY_WATCH_K8S_RESOURCE: refused, migrated, or warned about, as `deprecatedEnv` says. */
function deprecatedFinding(
  located: LocatedContainer,
  isAgent: boolean,
  decision: Decision,
  config: Config,
  out: Findings,
): void {
  const where = describeContainer(located);
  const fix = deprecatedFix(located, config);
  if (config.deprecatedEnv === 'reject') {
    out.denials.push(
      `${where}: ${DEPRECATED_ENV} is no longer supported (agents from ${POLICY_ENV_SINCE} on exit when they find it); ${fix}`,
    );
    return;
  }
  const migratable = isMutating(decision) && isAgent && !predatesPolicyEnvImage(located, config);
  if (config.deprecatedEnv === 'migrate' && migratable) {
    out.toMigrate.add(key(located));
    return;
  }
  const why =
    config.deprecatedEnv === 'warn'
      ? ''
      : decision.rule === 'disabled'
        ? ' (injection disabled, not migrated)'
        : isAgent
          ? ` (not migrated: this agent reads only ${DEPRECATED_ENV})`
          : ' (not an agent container, not migrated)';
  out.warnings.push(
    `${where}: ${DEPRECATED_ENV} is deprecated and makes agents from ${POLICY_ENV_SINCE} on exit${why}; ${fix}`,
  );
}

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
