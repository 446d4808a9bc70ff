/** The release `npm run e2e:node` publishes and installs on the real node, shared by its runner and its tests. */
import { REAL_NODE_NAME, REAL_NODE_TAINT } from '../cluster/node/config.ts';

export const RELEASE = 'k8s-watch-policy';
export const NAMESPACE = 'deepflow-system';
/** The version `npm run release` publishes into the local registry. */
export const RELEASE_VERSION = '0.0.0-e2e';

/**
 * The chart as helm takes it: the OCI reference in the local registry with its version and the
 * registry's CA (`chart`, `caFile`: the runner's; else $KWP_CHART and $KWP_REGISTRY_CA, what the
 * runner gives the tests).
 */
export function chartArgs(
  from: { chart?: string; caFile?: string } = { chart: process.env.KWP_CHART, caFile: process.env.KWP_REGISTRY_CA },
): string[] {
  if (!from.chart || !from.caFile)
    throw new Error('no published chart: KWP_CHART and KWP_REGISTRY_CA are set by npm run e2e:node');
  return [from.chart, '--version', RELEASE_VERSION, '--ca-file', from.caFile];
}

/**
 * The `--set` arguments of the release: the chart's pods on the real node (the image is the
 * published chart's, pinned by digest), and a 2 s grace for MultipleWatchOnlyAgents (60 s by
 * default) so that the release suite sees the Event.
 */
export function releaseValues(): string[] {
  const values = ['controller.multipleWatchOnlyGrace=2s'];
  for (const component of ['webhook', 'controller']) {
    values.push(
      `${component}.nodeSelector.kubernetes\\.io/hostname=${REAL_NODE_NAME}`,
      `${component}.tolerations[0].key=${REAL_NODE_TAINT.key}`,
      `${component}.tolerations[0].operator=Exists`,
      `${component}.tolerations[0].effect=${REAL_NODE_TAINT.effect}`,
    );
  }
  return values.flatMap((v) => ['--set', v]);
}
