#!/usr/bin/env node
/**
 * The `k8s-watch-policy` command (also the kubectl plugin `kubectl-watch_policy`):
 * `webhook`, `controller`, `inject`, `elect`, `certs`. DESIGN §7 is the contract for inject and elect.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { generateCertificates } from '../certs/generate.js';
import { writeCertificates } from '../certs/write.js';
import type { Config } from '../config/config.js';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/parse.js';
import { elect } from '../watcher_election/elect.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../log.js';
import type { Node, Pod } from '../kube/objects.js';
import { flattenLists, parseDocuments, readInput, writeDocuments } from './documents.js';
import { electionJson, electionText } from './elect_output.js';
import { CliError, EXIT_CONFIG, EXIT_DENIED, EXIT_NO_WATCHER, EXIT_NOPERM, EXIT_OK, EXIT_SOFTWARE, EXIT_USAGE } from './exit_codes.js';
import { injectDocuments } from './inject.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: 500ms, 15s, 1m, 12h, 90d (a bare number is seconds). */
function duration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('must be a duration such as 500ms, 15s, 1m, 12h or 90d');
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
}

function csv(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

async function config(file: string | undefined): Promise<Config> {
  try {
    return await loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT_CONFIG);
    throw err;
  }
}

function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
}

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
  const [{ loadRestConfig }, { NodeCache }, { SecretKeyPairs }, { CertificateManager }] = await Promise.all([
    import('../kube/kubeconfig.js'),
    import('../webhook/node_cache.js'),
    import('../certs/secret_key_pairs.js'),
    import('../certs/certificate_manager.js'),
  ]);
  let kc;
  try {
    kc = await loadRestConfig(opts.kubeconfig);
  } catch (err) {
    throw new CliError(`cannot load the cluster configuration: ${(err as Error).message}`, EXIT_CONFIG);
  }
  if (!kc) return undefined;
  const nodeCache = opts.nodeCache ? new NodeCache(kc, logger) : undefined;
  if (nodeCache) void nodeCache.start().then(() => logger.info({ nodes: nodeCache.size }, 'node cache synced'));
  if (!opts.tlsSecret) return { nodeCache };
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
    policy: {
      hosts: opts.tlsDns,
      caValidityMs: opts.caValidity,
      servingValidityMs: opts.servingValidity,
      caRenewBeforeMs: Math.round(opts.caValidity / 3),
      servingRenewBeforeMs: Math.round(opts.servingValidity / 3),
      graceMs: Math.min(30_000, Math.round(opts.servingValidity / 10)),
    },
  });
  return { nodeCache, keyPairs, manager };
}

async function webhook(opts: WebhookFlags): Promise<number> {
  // Loaded here, not at the top: express, prom-client and the TLS code cost the offline commands start-up.
  const { startWebhookServer } = await import('../webhook/server.js');
  const logger = createLogger(opts.logLevel);
  const cfg = await config(opts.config);
  // The cluster-side parts (informers, certificates) are loaded only when a cluster is in play.
  const clusterConfigured = Boolean(opts.kubeconfig || process.env.KUBECONFIG || process.env.KUBERNETES_SERVICE_HOST);
  if (opts.tlsSecret && !clusterConfigured) throw new CliError('--tls-secret needs a cluster: pass --kubeconfig, set KUBECONFIG, or run in a pod', EXIT_CONFIG);
  if (opts.tlsSecret && opts.tlsDns.length === 0) throw new CliError('--tls-secret needs --tls-dns (the names the API server calls the webhook by)', EXIT_USAGE);
  const cluster = (opts.nodeCache || opts.tlsSecret) && clusterConfigured ? await clusterServices(opts, logger) : undefined;
  const nodeCache = cluster?.nodeCache;
  const keyPairs = cluster?.keyPairs;
  const manager = cluster?.manager;
  if (!nodeCache) logger.info('no node cache: the target node of a pod is not looked up (rule serverless-node-label is off)');
  manager?.start();
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
      ...(nodeCache && { nodes: nodeCache.lookup, dependenciesReady: () => nodeCache.hasSynced }),
      ...(keyPairs && { keyPairs }),
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new CliError(`cannot load the serving certificate from ${opts.certDir}: ${e.message}`, EXIT_SOFTWARE);
    if (e.code === 'EADDRINUSE') throw new CliError(`cannot listen: ${e.message}`, EXIT_SOFTWARE);
    throw new CliError(`cannot start the webhook: ${e.message}`, EXIT_SOFTWARE);
  }
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down');
      Promise.all([server.close(), nodeCache?.stop(), manager?.stop()]).then(() => resolve(EXIT_OK));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

interface ControllerFlags {
  config?: string;
  kubeconfig?: string;
  namespace: string;
  identity: string;
  leaderLease: string;
  host: string;
  metricsPort: number;
  logLevel: LogLevel;
  leaseDuration: number;
  renewDeadline: number;
  retryPeriod: number;
  multipleWatchOnlyGrace: number;
  drainDelay: number;
}

async function controller(opts: ControllerFlags): Promise<number> {
  const [{ loadRestConfig }, { WatcherController }, { createControllerMetrics }, { startStatusServer }, perms] = await Promise.all([
    import('../kube/kubeconfig.js'),
    import('../controller/controller.js'),
    import('../controller/metrics.js'),
    import('../controller/status_server.js'),
    import('../controller/permissions.js'),
  ]);
  const logger = createLogger(opts.logLevel);
  const cfg = await config(opts.config);
  let kc;
  try {
    kc = await loadRestConfig(opts.kubeconfig);
  } catch (err) {
    throw new CliError(`cannot load the cluster configuration: ${(err as Error).message}`, EXIT_CONFIG);
  }
  if (!kc) throw new CliError('no cluster: pass --kubeconfig, set KUBECONFIG, or run in a pod', EXIT_CONFIG);
  let missing;
  try {
    missing = await perms.missingPermissions(kc, perms.requiredPermissions(opts.namespace, cfg.election.namespaces));
  } catch (err) {
    throw new CliError(`cannot reach the API server: ${(err as Error).message}`, EXIT_SOFTWARE);
  }
  if (missing.length > 0) throw new CliError(`missing RBAC permissions: cannot ${missing.map(perms.describePermission).join('; cannot ')}`, EXIT_NOPERM);
  const metrics = createControllerMetrics();
  const ctl = new WatcherController({
    kc,
    config: cfg,
    namespace: opts.namespace,
    identity: opts.identity,
    leaderLeaseName: opts.leaderLease,
    logger,
    metrics,
    leaderElection: { leaseDurationMs: opts.leaseDuration, renewDeadlineMs: opts.renewDeadline, retryPeriodMs: opts.retryPeriod },
    multipleWatchOnlyGraceMs: opts.multipleWatchOnlyGrace,
    onLostLeadership: () => {
      logger.error('leadership lost: exiting so that the replica restarts as a follower');
      process.exit(EXIT_SOFTWARE);
    },
  });
  const http = await startStatusServer({ host: opts.host, port: opts.metricsPort, status: () => ctl.status(), registry: metrics.registry }).catch((err: Error) => {
    throw new CliError(`cannot listen: ${err.message}`, EXIT_SOFTWARE);
  });
  logger.info({ url: http.url, identity: opts.identity, namespace: opts.namespace }, 'controller starting');
  await ctl.start();
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down');
      // The leader Lease is released at once (a follower takes over); /readyz drains meanwhile.
      Promise.all([ctl.stop(), http.close(opts.drainDelay)]).then(() => resolve(EXIT_OK));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

async function certs(opts: { out: string; dns: string[]; days: number; caDays: number }): Promise<number> {
  if (opts.dns.length === 0) throw new CliError('--dns needs at least one name or address', EXIT_USAGE);
  const bundle = await generateCertificates({ hosts: opts.dns, days: opts.days, caDays: opts.caDays });
  const files = await writeCertificates(opts.out, bundle);
  await write(files.map((f) => `wrote ${f}\n`).join(''));
  return EXIT_OK;
}

async function inject(opts: { file: string; config?: string }): Promise<number> {
  const cfg = await config(opts.config);
  const docs = parseDocuments(await readInput(opts.file), opts.file === '-' ? '<stdin>' : opts.file);
  const result = injectDocuments(docs, cfg);
  for (const line of result.messages) process.stderr.write(line + '\n');
  await write(writeDocuments(result.objects));
  return result.denied > 0 ? EXIT_DENIED : EXIT_OK;
}

function watcherRef(value: string): { namespace: string; name: string } {
  const parts = value.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new InvalidArgumentError('must be NAMESPACE/NAME');
  return { namespace: parts[0], name: parts[1] };
}

async function electCommand(opts: { file: string; config?: string; current?: { namespace: string; name: string }; output: 'json' | 'text' }): Promise<number> {
  const cfg = await config(opts.config);
  const objects = flattenLists(parseDocuments(await readInput(opts.file), opts.file === '-' ? '<stdin>' : opts.file));
  const pods = objects.filter((o) => o.kind === 'Pod') as Pod[];
  const nodes = objects.filter((o) => o.kind === 'Node') as Node[];
  const election = elect(pods, nodes, opts.current, cfg);
  await write(opts.output === 'json' ? electionJson(election) : electionText(election));
  return election.watcher ? EXIT_OK : EXIT_NO_WATCHER;
}

function buildProgram(name: string, setExit: (code: number) => void): Command {
  const program = new Command(name)
    .description('Gives every DeepFlow agent its K8S_WATCH_POLICY and elects the one Kubernetes watcher.')
    .version(version)
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  const run = (action: () => Promise<number>) => action().then(setExit);

  program
    .command('webhook')
    .description('run the HTTPS admission webhook (POST /mutate, POST /validate) and the metrics server')
    .option('--config <file>', 'config file (DESIGN §4); defaults apply without it')
    .option('--cert-dir <dir>', 'directory with tls.crt and tls.key (reloaded when they change)', 'certs')
    .option('--host <address>', 'address to listen on', '0.0.0.0')
    .option('--port <port>', 'HTTPS port', port, 9443)
    .option('--metrics-port <port>', 'plain-HTTP port of GET /metrics', port, 8080)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .option('--max-body-bytes <bytes>', 'largest accepted AdmissionReview (default 6 MiB; 413 beyond)', positiveInt)
    .option('--max-inflight-bytes <bytes>', 'most bytes of request bodies read at once (default 2 x --max-body-bytes; bodies count past their first 64 KiB; 429 with Retry-After beyond)', positiveInt)
    .option('--drain-delay <duration>', 'on SIGTERM, keep answering this long after /readyz turns 503 (the API server may still route here)', duration, 5_000)
    .option('--kubeconfig <file>', 'cluster for the node cache (default: $KUBECONFIG, else in-cluster, else none)')
    .option('--no-node-cache', 'do not watch nodes (the target node of a pod stays unknown)')
    .option('--tls-secret <name>', 'self-managed certificates: keep the CA and serving certificate in this Secret (instead of --cert-dir)')
    .option('--tls-namespace <namespace>', 'namespace of the TLS Secret and its Lease (default: $POD_NAMESPACE, else default)', process.env.POD_NAMESPACE ?? 'default')
    .option('--tls-dns <names>', 'comma-separated DNS names and IPs of the serving certificate, e.g. svc.ns.svc', csv, [])
    .option('--webhook-selector <selector>', 'label selector of the webhook configurations whose caBundle this webhook keeps current')
    .option('--identity <name>', 'this replica in the certificate leader election (default: $POD_NAME, else the host name)', process.env.POD_NAME ?? hostname())
    .option('--ca-validity <duration>', 'validity of a self-managed CA', duration, 10 * 365 * 86_400_000)
    .option('--serving-validity <duration>', 'validity of a self-managed serving certificate (renewed when a third is left)', duration, 90 * 86_400_000)
    .option('--cert-check-interval <duration>', 'how often the leader checks the certificates and caBundle', duration, 10_000)
    .action((opts) => run(() => webhook(opts)));

  program
    .command('controller')
    .description('run the watcher-election controller (leader-elected; GET /status, /metrics on the metrics port)')
    .option('--config <file>', 'config file (DESIGN §4); defaults apply without it')
    .option('--kubeconfig <file>', 'cluster (default: $KUBECONFIG, else in-cluster)')
    .option('--namespace <namespace>', 'namespace of the Leases (default: $POD_NAMESPACE, else default)', process.env.POD_NAMESPACE ?? 'default')
    .option('--identity <name>', 'this replica in the leader election (default: $POD_NAME, else the host name)', process.env.POD_NAME ?? hostname())
    .option('--leader-lease <name>', 'the Lease the controller replicas elect their leader with', 'k8s-watch-policy-controller')
    .option('--host <address>', 'address of the status/metrics server', '0.0.0.0')
    .option('--metrics-port <port>', 'plain-HTTP port of GET /status, /metrics, /healthz, /readyz', port, 8081)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .option('--lease-duration <duration>', 'leader lease duration', duration, 15_000)
    .option('--renew-deadline <duration>', 'how long the leader retries renewing before it gives up', duration, 10_000)
    .option('--retry-period <duration>', 'wait between attempts to acquire or renew', duration, 2_000)
    .option('--multiple-watch-only-grace <duration>', 'how long several eligible watch-only agents may run before MultipleWatchOnlyAgents', duration, 60_000)
    .option('--drain-delay <duration>', 'on SIGTERM, keep answering this long after /readyz turns 503', duration, 2_000)
    .action((opts) => run(() => controller(opts)));

  program
    .command('inject')
    .description('print a manifest as the webhook would admit it (Pods mutated, pod templates as their pods)')
    .requiredOption('-f, --file <file>', 'manifest: multi-document YAML or JSON, - for standard input')
    .option('--config <file>', 'config file')
    .action((opts) => run(() => inject(opts)));

  program
    .command('elect')
    .description('print which agent pod would be elected Kubernetes watcher (Pods with status, optionally Nodes)')
    .requiredOption('-f, --file <file>', 'Pods and Nodes: multi-document YAML or JSON, - for standard input')
    .option('--config <file>', 'config file')
    .option('--current <namespace/name>', 'the current watcher, for stickiness', watcherRef)
    .addOption(new Option('-o, --output <format>', 'output format').choices(['json', 'text']).default('text'))
    .action((opts) => run(() => electCommand(opts)));

  program
    .command('certs')
    .description('write a self-signed CA and a serving certificate (ca.crt, ca.key, tls.crt, tls.key)')
    .option('--out <dir>', 'output directory', 'certs')
    .option('--dns <names>', 'comma-separated DNS names and IP addresses of the server', csv, ['localhost', '127.0.0.1'])
    .option('--days <days>', 'validity of the serving certificate', positiveInt, 365)
    .option('--ca-days <days>', 'validity of the CA', positiveInt, 3650)
    .action((opts) => run(() => certs(opts)));

  return program;
}

async function main(argv: string[]): Promise<number> {
  const name = basename(argv[1] ?? '') === 'kubectl-watch_policy' ? 'kubectl watch-policy' : 'k8s-watch-policy';
  let code = EXIT_OK;
  const program = buildProgram(name, (c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
      if (err.code === 'commander.help') return EXIT_USAGE; // no command given: help went to stderr
      if (err.code === 'commander.executeSubCommandAsync') return EXIT_USAGE;
      const line = err.message.replace(/^error: /, '').split('\n')[0];
      process.stderr.write(`${name}: ${line} (see ${name} --help)\n`);
      return EXIT_USAGE;
    }
    if (err instanceof CliError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`${name}: ${(err as Error).message ?? String(err)}\n`);
    return EXIT_SOFTWARE;
  }
}

// A reader that goes away (`inject -f big.yaml | head`) is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv).then((code) => {
  process.exitCode = code;
});
