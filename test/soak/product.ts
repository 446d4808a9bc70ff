/**
 * The product's code the soak runs, from dist/ (built by `npm run soak`): its Kubernetes client
 * (kubeconfig, requests, watch streams), the election, the config defaults and the webhook
 * configurations the chart ships. Typed as the sources they are built from.
 */
import { fileURLToPath } from 'node:url';

type Rest = typeof import('../../src/kube/rest.js');
type Watch = typeof import('../../src/kube/watch.js');
type Kubeconfig = typeof import('../../src/kube/kubeconfig.js');
type Elect = typeof import('../../src/watcher_election/elect.js');
type ConfigParse = typeof import('../../src/config/parse.js');
type WebhookConfiguration = typeof import('../../src/webhook/webhook_configuration.js');

export type { RestConfig } from '../../src/kube/rest_config.js';
export type { Config } from '../../src/config/config.js';

export interface Product {
  rest: Rest;
  watch: Watch;
  kubeconfig: Kubeconfig;
  elect: Elect;
  config: ConfigParse;
  webhookConfiguration: WebhookConfiguration;
}

const dist = (path: string) => import(fileURLToPath(new URL(`../../dist/${path}`, import.meta.url)));

export async function loadProduct(): Promise<Product> {
  const [rest, watch, kubeconfig, elect, config, webhookConfiguration] = await Promise.all([
    dist('kube/rest.js'),
    dist('kube/watch.js'),
    dist('kube/kubeconfig.js'),
    dist('watcher_election/elect.js'),
    dist('config/parse.js'),
    dist('webhook/webhook_configuration.js'),
  ]);
  return { rest, watch, kubeconfig, elect, config, webhookConfiguration } as Product;
}
