/**
 * Readiness of a webhook replica with self-managed certificates: not ready until the webhook
 * configurations' caBundle trusts the certificate it serves. Right after `helm install` the
 * caBundle is empty until the leader fills it; a replica that called itself ready before then
 * let `helm install --wait` return while the API server still refused every agent pod (it cannot
 * verify the webhook). Once trusted, the gate stays open: the leader keeps the bundle current
 * and a CA rotation adds the new CA before switching to it (rotation.ts), so flipping every
 * replica unready when a tool resets the bundle would only add "no endpoints" to the outage.
 */
import type { RestConfig } from '../kube/rest/config.ts';
import { errorMessage, type Logger } from '../log.ts';
import { untrustingWebhooks, type WebhookConfigurationBundles } from './bundle_trust.ts';
import { selectedConfigurations } from './ca_bundle_injector.ts';
import type { KeyPairSource } from './key_pair.ts';

export class CaBundleGate {
  private open = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastMissing = '';

  constructor(
    private readonly kc: RestConfig,
    private readonly selector: string,
    private readonly keyPairs: KeyPairSource,
    private readonly logger: Logger,
    private readonly intervalMs = 1_000,
  ) {}

  /** True once every selected webhook's caBundle has trusted the served certificate. */
  get trusted(): boolean {
    return this.open;
  }

  start(): void {
    void this.poll();
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    try {
      this.open = await this.check();
    } catch (err) {
      this.logger.debug({ err: errorMessage(err) }, 'cannot read the webhook configurations; not ready yet');
    }
    if (this.open) this.logger.info('the webhook configurations trust the served certificate: ready');
    else if (!this.stopped) this.timer = setTimeout(() => void this.poll(), this.intervalMs);
  }

  private async check(): Promise<boolean> {
    const cert = this.keyPairs.pair?.cert;
    if (!cert) return false;
    const missing = untrustingWebhooks(await this.configurations(), cert).join(', ');
    if (missing && missing !== this.lastMissing)
      this.logger.info(
        { webhooks: missing },
        'not ready: the caBundle of these webhooks does not trust the served certificate yet',
      );
    this.lastMissing = missing;
    return missing === '';
  }

  private async configurations(): Promise<WebhookConfigurationBundles[]> {
    return (await selectedConfigurations(this.kc, this.selector)).map(({ config }) => ({
      name: config.metadata?.name ?? '',
      webhooks: (config.webhooks ?? []).map((w) => ({ name: w.name, caBundle: w.clientConfig?.caBundle })),
    }));
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    return Promise.resolve();
  }
}
