/**
 * The product's code the soak runs, from dist/ (built by `npm run soak`): its Kubernetes client
 * (kubeconfig, requests, watch streams), the election, the config defaults and the webhook
 * configurations the chart ships. Typed as the sources they are built from.
 */
import { fileURLToPath } from 'node:url';
import type * as RestModule from '../../src/kube/rest/request.ts';
import type * as WatchModule from '../../src/kube/rest/watch.ts';
import type * as KubeconfigModule from '../../src/kube/rest/kubeconfig.ts';
import type * as ElectModule from '../../src/watcher_election/elect.ts';
import type * as ConfigParseModule from '../../src/config/parse.ts';
import type * as WebhookConfigurationModule from '../../src/webhook/webhook_configuration.ts';

type Rest = typeof RestModule;
type Watch = typeof WatchModule;
type Kubeconfig = typeof KubeconfigModule;
type Elect = typeof ElectModule;
type ConfigParse = typeof ConfigParseModule;
type WebhookConfiguration = typeof WebhookConfigurationModule;

export type { RestConfig } from '../../src/kube/rest/config.ts';
export type { Config } from '../../src/config/config.ts';

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
    dist('kube/rest/request.js'),
    dist('kube/rest/watch.js'),
    dist('kube/rest/kubeconfig.js'),
    dist('watcher_election/elect.js'),
    dist('config/parse.js'),
    dist('webhook/webhook_configuration.js'),
  ]);
  return { rest, watch, kubeconfig, elect, config, webhookConfiguration };
}
