/** The release `npm run e2e:node` installs on the real node, shared by its runner and its tests. */
import { REAL_NODE_NAME, REAL_NODE_TAINT } from '../cluster/node/config.ts';

export const RELEASE = 'k8s-watch-policy';
export const NAMESPACE = 'deepflow-system';
export const IMAGE_REPOSITORY = 'k8s-watch-policy';
export const IMAGE_TAG = 'node-e2e';

/**
 * The `--set` arguments of the release: the chart's pods on the real node from the locally built
 * image, and a 2 s grace for MultipleWatchOnlyAgents (60 s by default) so that the release suite
 * sees the Event.
 */
export function releaseValues(): string[] {
  const values = [
    `image.repository=${IMAGE_REPOSITORY}`,
    `image.tag=${IMAGE_TAG}`,
    'image.pullPolicy=Never',
    'controller.multipleWatchOnlyGrace=2s',
  ];
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
