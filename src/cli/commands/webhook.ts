/** `k8s-watch-policy webhook`: the HTTPS admission server, with its node cache and self-managed certificates. */
import { hostname } from 'node:os';
import { Option, type Command } from 'commander';
import { rotationPolicy } from '../../certs/rotation.ts';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../../log.ts';
import { CliError, EXIT_CONFIG, EXIT_SOFTWARE, EXIT_USAGE } from '../exit_codes.ts';
import { csv, duration, port, positiveInt } from '../options.ts';
import { loadCliConfig, loadCluster, untilSignal } from '../process.ts';

interface WebhookFlags {
  config?: string;
  certDir: string;
  tlsSecret?: string;
  tlsNamespace: string;
  tlsDns: string[];
  webhookSelector?: string;
  identity: string;
  caValidity: number;
  servingValidity: number;
  certCheckInterval: number;
  host: string;
  port: number;
  metricsPort: number;
  logLevel: LogLevel;
  maxBodyBytes?: number;
  maxInflightBytes?: number;
  drainDelay: number;
  kubeconfig?: string;
  nodeCache: boolean;
}

/** The webhook's cluster-side parts: the node cache and the self-managed certificates. */
async function clusterServices(opts: WebhookFlags, logger: Logger) {
  const [{ NodeCache }, { SecretKeyPairs }, { CertificateManager }, { CaBundleGate }] = await Promise.all([
    import('../../webhook/node_cache.ts'),
    import('../../certs/secret_key_pairs.ts'),
    import('../../certs/certificate_manager.ts'),
    import('../../certs/ca_bundle_gate.ts'),
  ]);
  const kc = await loadCluster(opts.kubeconfig);
  if (!kc) return undefined;
  const nodeCache = opts.nodeCache ? new NodeCache(kc, logger) : undefined;
  if (nodeCache) void nodeCache.start().then(() => logger.info({ nodes: nodeCache.size }, 'node cache synced'));
  if (!opts.tlsSecret) return { nodeCache, ...(nodeCache && { dependenciesReady: () => nodeCache.hasSynced }) };
  // Self-managed certificates: every replica serves the Secret's pair; the leader maintains it.
  const keyPairs = new SecretKeyPairs(kc, opts.tlsNamespace, opts.tlsSecret, logger);
  const manager = new CertificateManager({
    kc,
    namespace: opts.tlsNamespace,
    secretName: opts.tlsSecret,
    identity: opts.identity,
    logger,
    intervalMs: opts.certCheckInterval,
    ...(opts.webhookSelector && { webhookSelector: opts.webhookSelector }),
    policy: rotationPolicy(opts.tlsDns, opts.caValidity, opts.servingValidity),
  });
  // Ready only once the configurations trust what this replica serves (no refusals after install).
  const gate = opts.webhookSelector ? new CaBundleGate(kc, opts.webhookSelector, keyPairs, logger) : undefined;
  gate?.start();
  const dependenciesReady = () => (nodeCache?.hasSynced ?? true) && (gate?.trusted ?? true);
  return { nodeCache, keyPairs, manager, gate, dependenciesReady };
}

async function runWebhook(opts: WebhookFlags): Promise<number> {
  // Loaded here, not at the top: prom-client and the server cost the offline commands start-up.
  const { startWebhookServer } = await import('../../webhook/server.ts');
  const logger = createLogger(opts.logLevel);
  const cfg = await loadCliConfig(opts.config);
  // The cluster-side parts (informers, certificates) are loaded only when a cluster is in play.
  const clusterConfigured = Boolean(opts.kubeconfig || process.env.KUBECONFIG || process.env.KUBERNETES_SERVICE_HOST);
  if (opts.tlsSecret && !clusterConfigured)
    throw new CliError('--tls-secret needs a cluster: pass --kubeconfig, set KUBECONFIG, or run in a pod', EXIT_CONFIG);
  if (opts.tlsSecret && opts.tlsDns.length === 0)
    throw new CliError('--tls-secret needs --tls-dns (the names the API server calls the webhook by)', EXIT_USAGE);
  const cluster =
    (opts.nodeCache || opts.tlsSecret) && clusterConfigured ? await clusterServices(opts, logger) : undefined;
  const { nodeCache, keyPairs, manager, gate } = cluster ?? {};
  if (!nodeCache)
    logger.info('no node cache: the target node of a pod is not looked up (rule serverless-node-label is off)');
  manager?.start();
  const dependenciesReady = cluster?.dependenciesReady;
  let server;
  try {
    server = await startWebhookServer({
      config: cfg,
      certDir: opts.certDir,
      logger,
      host: opts.host,
      port: opts.port,
      metricsPort: opts.metricsPort,
      ...(opts.maxBodyBytes !== undefined && { maxBodyBytes: opts.maxBodyBytes }),
      ...(opts.maxInflightBytes !== undefined && { maxInflightBytes: opts.maxInflightBytes }),
      drainDelayMs: opts.drainDelay,
      ...(nodeCache && { nodes: nodeCache.lookup }),
      ...(dependenciesReady && { dependenciesReady }),
      ...(keyPairs && { keyPairs }),
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT')
      throw new CliError(`cannot load the serving certificate from ${opts.certDir}: ${e.message}`, EXIT_SOFTWARE);
    if (e.code === 'EADDRINUSE') throw new CliError(`cannot listen: ${e.message}`, EXIT_SOFTWARE);
    throw new CliError(`cannot start the webhook: ${e.message}`, EXIT_SOFTWARE);
  }
  return untilSignal(logger, () => Promise.all([server.close(), nodeCache?.stop(), manager?.stop(), gate?.stop()]));
}

export function addWebhookCommand(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  const command = program
    .command('webhook')
    .description('run the HTTPS admission webhook (POST /mutate, POST /validate) and the metrics server')
    .option('--config <file>', 'config file (DESIGN §4); defaults apply without it')
    .option('--cert-dir <dir>', 'directory with tls.crt and tls.key (reloaded when they change)', 'certs')
    .option('--host <address>', 'address to listen on', '0.0.0.0')
    .option('--port <port>', 'HTTPS port', port, 9443)
    .option('--metrics-port <port>', 'plain-HTTP port of GET /metrics', port, 8080)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .option('--max-body-bytes <bytes>', 'largest accepted AdmissionReview (default 6 MiB; 413 beyond)', positiveInt)
    .option(
      '--max-inflight-bytes <bytes>',
      'most bytes of request bodies read at once (default 2 x --max-body-bytes; bodies count past their first 64 KiB; 429 with Retry-After beyond)',
      positiveInt,
    )
    .option(
      '--drain-delay <duration>',
      'on SIGTERM, keep answering this long after /readyz turns 503 (the API server may still route here)',
      duration,
      5_000,
    )
    .option('--kubeconfig <file>', 'cluster for the node cache (default: $KUBECONFIG, else in-cluster, else none)')
    .option('--no-node-cache', 'do not watch nodes (the target node of a pod stays unknown)');
  selfManagedCertificateOptions(command).action((opts: WebhookFlags) => run(() => runWebhook(opts)));
}

/** The flags of self-managed certificates (`--tls-secret` and what goes with it). */
function selfManagedCertificateOptions(command: Command): Command {
  return command
    .option(
      '--tls-secret <name>',
      'self-managed certificates: keep the CA and serving certificate in this Secret (instead of --cert-dir)',
    )
    .option(
      '--tls-namespace <namespace>',
      'namespace of the TLS Secret and its Lease (default: $POD_NAMESPACE, else default)',
      process.env.POD_NAMESPACE ?? 'default',
    )
    .option(
      '--tls-dns <names>',
      'comma-separated DNS names and IPs of the serving certificate, e.g. svc.ns.svc',
      csv,
      [],
    )
    .option(
      '--webhook-selector <selector>',
      'label selector of the webhook configurations whose caBundle this webhook keeps current',
    )
    .option(
      '--identity <name>',
      'this replica in the certificate leader election (default: $POD_NAME, else the host name)',
      process.env.POD_NAME ?? hostname(),
    )
    .option('--ca-validity <duration>', 'validity of a self-managed CA', duration, 10 * 365 * 86_400_000)
    .option(
      '--serving-validity <duration>',
      'validity of a self-managed serving certificate (renewed when a third is left)',
      duration,
      90 * 86_400_000,
    )
    .option(
      '--cert-check-interval <duration>',
      'how often the leader checks the certificates and caBundle',
      duration,
      10_000,
    );
}
