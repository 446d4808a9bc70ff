/**
 * The webhook's key pair from the self-managed Secret, watched through the API (faster than a
 * mounted Secret, which the kubelet refreshes only every minute or so). Every replica runs this;
 * only the leader writes the Secret (certificate_manager.ts).
 */
import { SECRETS, resourcePath } from '../kube/paths.ts';
import type { RestConfig } from '../kube/rest/config.ts';
import { Reflector } from '../kube/cache/reflector.ts';
import { Store } from '../kube/cache/store.ts';
import { errorMessage, type Logger } from '../log.ts';
import { keyPairOf, type KeyPair, type KeyPairSource } from './key_pair.ts';
import { materialOf, type Secret } from './tls_secret.ts';

export class SecretKeyPairs implements KeyPairSource {
  private current: KeyPair | undefined;
  private readonly listeners: ((pair: KeyPair) => void)[] = [];
  private readonly store = new Store<Secret>();
  private readonly reflector: Reflector<Secret>;
  private readonly running: Promise<void>;

  constructor(
    kc: RestConfig,
    namespace: string,
    name: string,
    private readonly logger: Logger,
  ) {
    this.reflector = new Reflector<Secret>({
      kc,
      path: resourcePath(SECRETS, namespace),
      fieldSelector: `metadata.name=${name}`,
      store: this.store,
      transform: (o) => o,
      logger: logger.child({ component: 'tls-secret' }),
      onChange: () => this.update(),
    });
    this.running = this.reflector.run();
  }

  get pair(): KeyPair | undefined {
    return this.current;
  }

  onChange(listener: (pair: KeyPair) => void): void {
    this.listeners.push(listener);
  }

  async firstRead(signal: AbortSignal): Promise<void> {
    await this.reflector.waitForSync(signal);
  }

  private update(): void {
    const m = materialOf(this.store.list()[0]);
    if (!m) return;
    let pair: KeyPair;
    try {
      pair = keyPairOf(m.key, m.cert, m.ca.cert);
    } catch (err) {
      this.logger.error(
        { err: errorMessage(err) },
        'the TLS Secret holds an unusable key pair; keeping the current one',
      );
      return;
    }
    if (pair.digest === this.current?.digest) return;
    this.current = pair;
    this.logger.info({ notAfter: pair.notAfter }, 'serving certificate loaded from the Secret');
    for (const listener of this.listeners) listener(pair);
  }

  async stop(): Promise<void> {
    this.reflector.stop();
    await this.running;
  }
}
