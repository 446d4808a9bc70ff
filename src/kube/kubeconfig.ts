/** Which cluster to talk to: `--kubeconfig`, else $KUBECONFIG, else the in-cluster service account. */
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(file: string | undefined): KubeConfig | undefined {
  const kc = new KubeConfig();
  const path = file ?? process.env.KUBECONFIG;
  if (path) {
    kc.loadFromFile(path);
    return kc;
  }
  if (process.env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
    return kc;
  }
  return undefined;
}
