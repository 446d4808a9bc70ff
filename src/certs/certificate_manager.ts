/**
 * The leader's side of self-managed certificates: one webhook replica (leader-elected with a Lease
 * named after the Secret) fills the Secret on first start (creating it when the chart did not),
 * renews the serving certificate,
 * rotates the CA in stages (rotation.ts) and keeps our webhook configurations' caBundle equal to
 * the trusted bundle. It re-checks every `intervalMs`, so a reset caBundle is repaired within it.
 */
import { SECRETS, resourcePath } from '../kube/paths.ts';
import type { RestConfig } from '../kube/rest/config.ts';
import { LeaderElector } from '../kube/leaderelection/elector.ts';
import { isNotFound, kubeRequest } from '../kube/rest/request.ts';
import { errorMessage, type Logger } from '../log.ts';
import { injectCaBundle } from './ca_bundle_injector.ts';
import { applyStep, nextStep, type RotationPolicy } from './rotation.ts';
import { materialOf, secretWith, type Secret } from './tls_secret.ts';

export interface CertificateManagerOptions {
  kc: RestConfig;
  namespace: string;
  secretName: string;
  policy: RotationPolicy;
  /** Label selector of the webhook configurations whose caBundle we own; none: do not inject. */
  webhookSelector?: string;
  identity: string;
  logger: Logger;
  intervalMs?: number;
}

export class CertificateManager {
  private readonly elector: LeaderElector;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: CertificateManagerOptions) {
    this.elector = new LeaderElector({
      kc: o.kc,
      namespace: o.namespace,
      name: `${o.secretName}-certificates`,
      identity: o.identity,
      logger: o.logger.child({ component: 'certificates' }),
      onStartedLeading: (signal) => this.lead(signal),
      onStoppedLeading: () => this.timer && clearTimeout(this.timer),
    });
  }

  /** Campaigns for the certificate Lease; after losing it, campaigns again (unlike the controller, the webhook keeps serving). */
  start(): void {
    const campaign = (): Promise<void> =>
      this.elector.run().then(async () => {
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, 2000));
        if (!this.stopped) return campaign();
      });
    this.running ??= campaign();
  }

  private get secretPath(): string {
    return resourcePath(SECRETS, this.o.namespace, this.o.secretName);
  }

  private lead(signal: AbortSignal): void {
    const loop = async () => {
      if (signal.aborted) return;
      try {
        await this.reconcile(signal);
      } catch (err) {
        if (!signal.aborted) this.o.logger.warn({ err: errorMessage(err) }, 'certificate reconcile failed; retrying');
      }
      if (!signal.aborted) this.timer = setTimeout(() => void loop(), this.o.intervalMs ?? 10_000);
    };
    void loop();
  }

  /** One pass: read, decide, write the Secret, inject the bundle. */
  async reconcile(signal: AbortSignal): Promise<void> {
    const { kc, policy, logger, webhookSelector } = this.o;
    let secret: Secret | undefined;
    try {
      secret = await kubeRequest<Secret>(kc, 'GET', this.secretPath, { signal });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    let material = materialOf(secret);
    // A failed injection (RBAC, a conflicting edit) must not stop renewals: it only holds a CA switch back.
    const injected =
      material && webhookSelector
        ? await injectCaBundle(kc, webhookSelector, material.bundle, logger, signal).catch((err: unknown) => {
            logger.warn({ err: errorMessage(err) }, 'cannot update the caBundle of the webhook configurations');
            return false;
          })
        : material !== undefined;
    const step = nextStep(material, policy, Date.now(), injected);
    if (step !== 'none') {
      material = await applyStep(step, material, policy, Date.now());
      const body = secretWith(secret, this.o.namespace, this.o.secretName, material!, {
        'app.kubernetes.io/managed-by': 'k8s-watch-policy',
      });
      if (secret) await kubeRequest<Secret>(kc, 'PUT', this.secretPath, { body, signal });
      else await kubeRequest<Secret>(kc, 'POST', resourcePath(SECRETS, this.o.namespace), { body, signal });
      logger.info({ step, secret: this.o.secretName }, 'certificates updated');
      if (webhookSelector)
        await injectCaBundle(kc, webhookSelector, material!.bundle, logger, signal).catch(() => false);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.elector.stop();
    await this.running;
  }
}
