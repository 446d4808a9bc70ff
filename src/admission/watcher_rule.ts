/**
 * Rule 4 of DESIGN §5: is this pod a dedicated watcher?
 *
 * Either it matches `watcherSelector`, or (`inferWatcherFromDeployment`) it belongs to a
 * ReplicaSet (so, in practice, a Deployment) and every entry of `containers` is an agent or an
 * infrastructure container: a Deployment whose only job is to run an agent.
 */
import type { Config } from '../config/config.ts';
import type { PodView } from './pod_view.ts';
import { matchesLabelSelector } from '../selector/selectors.ts';

export interface RuleMatch<R extends string> {
  rule: R;
  detail: string;
}

export type WatcherRule = 'watcher-selector' | 'watcher-deployment';

export function matchWatcher(view: PodView, config: Config): RuleMatch<WatcherRule> | undefined {
  if (matchesLabelSelector(config.watcherSelector, view.labels)) {
    return { rule: 'watcher-selector', detail: 'pod matches watcherSelector' };
  }
  if (config.inferWatcherFromDeployment && view.controller === 'ReplicaSet') {
    if (view.onlyAgentsAndInfrastructure)
      return {
        rule: 'watcher-deployment',
        detail: 'ReplicaSet pod that runs only agent and infrastructure containers',
      };
  }
  return undefined;
}
