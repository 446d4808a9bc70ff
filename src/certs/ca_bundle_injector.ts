/**
 * Keeps the caBundle of our own Mutating- and ValidatingWebhookConfigurations (selected by
 * label) equal to the trusted CA bundle, so that a `helm upgrade` or a GitOps tool that resets it
 * is corrected within seconds. Only configurations matching the selector are ever touched.
 */
import type { RestConfig } from '../kube/rest/config.ts';
import type { KubeObject } from '../kube/objects.ts';
import { kubeRequest } from '../kube/rest/request.ts';
import type { Logger } from '../log.ts';

export interface WebhookConfiguration extends KubeObject {
  webhooks?: { name: string; clientConfig?: { caBundle?: string } }[];
}

export const WEBHOOK_CONFIGURATION_PATHS = [
  '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
  '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
];

/** Our Mutating- and ValidatingWebhookConfigurations (by label), each with the collection it is in. */
export async function selectedConfigurations(
  kc: RestConfig,
  selector: string,
  signal?: AbortSignal,
): Promise<{ path: string; config: WebhookConfiguration }[]> {
  const out: { path: string; config: WebhookConfiguration }[] = [];
  for (const path of WEBHOOK_CONFIGURATION_PATHS) {
    const list = await kubeRequest<{ items?: WebhookConfiguration[] }>(kc, 'GET', path, {
      query: { labelSelector: selector },
      ...(signal && { signal }),
    });
    for (const config of list.items ?? []) out.push({ path, config });
  }
  return out;
}

/** Patches every selected configuration whose caBundle differs; returns true when all match already or now. */
export async function injectCaBundle(
  kc: RestConfig,
  selector: string,
  bundle: string,
  logger: Logger,
  signal?: AbortSignal,
): Promise<boolean> {
  const caBundle = Buffer.from(bundle).toString('base64');
  let patched = 0;
  for (const { path, config } of await selectedConfigurations(kc, selector, signal)) {
    const ops = (config.webhooks ?? []).flatMap((w, i) =>
      w.clientConfig?.caBundle === caBundle
        ? []
        : [
            { op: 'test', path: `/webhooks/${i}/name`, value: w.name },
            { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle },
          ],
    );
    if (ops.length === 0) continue;
    await kubeRequest(kc, 'PATCH', `${path}/${encodeURIComponent(config.metadata?.name ?? '')}`, {
      body: ops,
      patchType: 'application/json-patch+json',
      ...(signal && { signal }),
    });
    patched++;
    logger.info(
      { configuration: config.metadata?.name, kind: config.kind ?? path.split('/').pop() },
      'caBundle updated',
    );
  }
  return patched === 0;
}
