/** `k8s-watch-policy controller`: the watcher-election controller with its status server. */
import { hostname } from 'node:os';
import { Option, type Command } from 'commander';
import { createLogger, errorMessage, LOG_LEVELS, type LogLevel } from '../../log.ts';
import { CliError, EXIT_CONFIG, EXIT_NOPERM, EXIT_SOFTWARE } from '../exit_codes.ts';
import { duration, port } from '../options.ts';
import { loadCliConfig, loadCluster, untilSignal } from '../process.ts';

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

async function runController(opts: ControllerFlags): Promise<number> {
  const [{ WatcherController }, { createControllerMetrics }, { startStatusServer }, perms] = await Promise.all([
    import('../../controller/controller.ts'),
    import('../../controller/metrics.ts'),
    import('../../controller/status_server.ts'),
    import('../../controller/permissions.ts'),
  ]);
  const logger = createLogger(opts.logLevel);
  const cfg = await loadCliConfig(opts.config);
  const kc = await loadCluster(opts.kubeconfig);
  if (!kc) throw new CliError('no cluster: pass --kubeconfig, set KUBECONFIG, or run in a pod', EXIT_CONFIG);
  let missing;
  try {
    missing = await perms.missingPermissions(kc, perms.requiredPermissions(opts.namespace, cfg.election.namespaces));
  } catch (err) {
    throw new CliError(`cannot reach the API server: ${errorMessage(err)}`, EXIT_SOFTWARE);
  }
  if (missing.length > 0)
    throw new CliError(
      `missing RBAC permissions: cannot ${missing.map(perms.describePermission).join('; cannot ')}`,
      EXIT_NOPERM,
    );
  const metrics = createControllerMetrics();
  const ctl = new WatcherController({
    kc,
    config: cfg,
    namespace: opts.namespace,
    identity: opts.identity,
    leaderLeaseName: opts.leaderLease,
    logger,
    metrics,
    leaderElection: {
      leaseDurationMs: opts.leaseDuration,
      renewDeadlineMs: opts.renewDeadline,
      retryPeriodMs: opts.retryPeriod,
    },
    multipleWatchOnlyGraceMs: opts.multipleWatchOnlyGrace,
    onLostLeadership: () => {
      logger.error('leadership lost: exiting so that the replica restarts as a follower');
      process.exit(EXIT_SOFTWARE);
    },
  });
  const http = await startStatusServer({
    host: opts.host,
    port: opts.metricsPort,
    status: () => ctl.status(),
    registry: metrics.registry,
  }).catch((err: Error) => {
    throw new CliError(`cannot listen: ${err.message}`, EXIT_SOFTWARE);
  });
  logger.info({ url: http.url, identity: opts.identity, namespace: opts.namespace }, 'controller starting');
  await ctl.start();
  // The leader Lease is released at once (a follower takes over); /readyz drains meanwhile.
  return untilSignal(logger, () => Promise.all([ctl.stop(), http.close(opts.drainDelay)]));
}

export function addControllerCommand(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('controller')
    .description('run the watcher-election controller (leader-elected; GET /status, /metrics on the metrics port)')
    .option('--config <file>', 'config file (DESIGN §4); defaults apply without it')
    .option('--kubeconfig <file>', 'cluster (default: $KUBECONFIG, else in-cluster)')
    .option(
      '--namespace <namespace>',
      'namespace of the Leases (default: $POD_NAMESPACE, else default)',
      process.env.POD_NAMESPACE ?? 'default',
    )
    .option(
      '--identity <name>',
      'this replica in the leader election (default: $POD_NAME, else the host name)',
      process.env.POD_NAME ?? hostname(),
    )
    .option(
      '--leader-lease <name>',
      'the Lease the controller replicas elect their leader with',
      'k8s-watch-policy-controller',
    )
    .option('--host <address>', 'address of the status/metrics server', '0.0.0.0')
    .option('--metrics-port <port>', 'plain-HTTP port of GET /status, /metrics, /healthz, /readyz', port, 8081)
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .option('--lease-duration <duration>', 'leader lease duration', duration, 15_000)
    .option('--renew-deadline <duration>', 'how long the leader retries renewing before it gives up', duration, 10_000)
    .option('--retry-period <duration>', 'wait between attempts to acquire or renew', duration, 2_000)
    .option(
      '--multiple-watch-only-grace <duration>',
      'how long several eligible watch-only agents may run before MultipleWatchOnlyAgents',
      duration,
      60_000,
    )
    .option('--drain-delay <duration>', 'on SIGTERM, keep answering this long after /readyz turns 503', duration, 2_000)
    .action((opts: ControllerFlags) => run(() => runController(opts)));
}
