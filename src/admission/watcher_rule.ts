/**
 * Rule 4 of DESIGN §5: is this pod a dedicated watcher?
 *
 * Either it matches `watcherSelector`, or (`inferWatcherFromDeployment`) it belongs to a
 * ReplicaSet (so, in practice, a Deployment) and every entry of `containers` is an agent or an
 * infrastructure container: a Deployment whose only job is to run an agent.
 */
import { isAgentContainer, isInfrastructureContainer } from '../agent/agent_containers.ts';
import type { Config } from '../config/config.ts';
import type { Pod } from '../kube/objects.ts';
import { matchesLabelSelector } from '../selector/selectors.ts';
import { controllerKind } from './owner.ts';

export interface RuleMatch<R extends string> {
  rule: R;
  detail: string;
}

export type WatcherRule = 'watcher-selector' | 'watcher-deployment';

export function matchWatcher(pod: Pod, config: Config): RuleMatch<WatcherRule> | undefined {
  if (matchesLabelSelector(config.watcherSelector, pod.metadata?.labels)) {
    return { rule: 'watcher-selector', detail: 'pod matches watcherSelector' };
  }
  if (config.inferWatcherFromDeployment && controllerKind(pod) === 'ReplicaSet') {
    const containers = pod.spec?.containers ?? [];
    const onlyAgents =
      containers.length > 0 &&
      containers.every((c) => isAgentContainer(c, config.agent) || isInfrastructureContainer(c, config.agent));
    if (onlyAgents)
      return {
        rule: 'watcher-deployment',
        detail: 'ReplicaSet pod that runs only agent and infrastructure containers',
      };
  }
  return undefined;
}
