/**
 * `kubectl watch-policy status` and `kubectl watch-policy audit`: the operator's view of a live
 * cluster, read through the API server with the kubeconfig as kubectl reads it (no port-forward).
 */
import { Option, type Command } from 'commander';
import { defaultConfig, type Config } from '../../config/config.ts';
import { ConfigError } from '../../config/parse.ts';
import type { RestConfig } from '../../kube/rest_config.ts';
import { errorMessage } from '../../log.ts';
import { CliError, EXIT_CONFIG, EXIT_SOFTWARE } from '../exit_codes.ts';
import { watcherRef } from '../options.ts';
import { loadCluster, writeStdout } from '../process.ts';

interface ClusterFlags {
  kubeconfig?: string;
  context?: string;
  config?: string;
  output: 'text' | 'json' | 'yaml';
  namespace?: string;
  allNamespaces?: boolean;
  color: boolean;
}

/** Progress on stderr for lists of more than a page (never on stdout, which scripts read). */
const progress = (what: string, count: number): void => void process.stderr.write(`  ${what}: ${count} read\n`);

async function cluster(flags: ClusterFlags): Promise<RestConfig> {
  const kc = await loadCluster(flags.kubeconfig, flags.context);
  if (!kc) throw new CliError('no cluster: pass --kubeconfig, set KUBECONFIG, or run in a pod', EXIT_CONFIG);
  return kc;
}

async function configOf(
  kc: RestConfig,
  flags: ClusterFlags,
  step: (what: string, count: number) => void,
  namespace?: string,
): Promise<{ config: Config; source: string }> {
  const { chooseConfig } = await import('../../report/cluster_state.ts');
  try {
    return await chooseConfig(kc, flags.config, namespace, step);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT_CONFIG);
    throw err;
  }
}

/** Turns an unreachable API server into one clear line. */
async function reading<T>(what: () => Promise<T>): Promise<T> {
  try {
    return await what();
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read the cluster: ${errorMessage(err)}`, EXIT_SOFTWARE);
  }
}

const colorOf = (flags: ClusterFlags) => flags.color && process.stdout.isTTY === true && !process.env.NO_COLOR;

async function runStatus(flags: ClusterFlags & { lease?: { namespace: string; name: string } }): Promise<number> {
  const [state, { statusReport }, render] = await Promise.all([
    import('../../report/cluster_state.ts'),
    import('../../report/status_report.ts'),
    import('../../report/render.ts'),
  ]);
  const kc = await cluster(flags);
  const step = progress;
  const report = await reading(async () => {
    // The controller first: its namespace holds the installation's ConfigMap.
    let controller = await state.readController(kc, defaultConfig(), flags.lease);
    const { config, source } = await configOf(kc, flags, step, controller.watcherLease?.metadata.namespace);
    if (!flags.lease && controller.watcherLease && controller.watcherLease.metadata.name !== config.election.leaseName)
      controller = await state.readController(kc, config);
    // The election needs every agent of its namespaces, whatever -n shows.
    const [pods, nodes, webhook] = await Promise.all([
      state.readAgentPods(kc, config, undefined, step),
      state.readNodes(kc, step),
      state.readWebhook(kc),
    ]);
    return statusReport({
      config,
      configSource: source,
      pods,
      nodes,
      ...controller,
      webhook,
      ...(flags.namespace && { namespace: flags.namespace }),
    });
  });
  await writeStdout(
    flags.output === 'text' ? render.statusText(report, colorOf(flags)) : render.formatReport(report, flags.output),
  );
  return report.exitCode;
}

async function runAudit(flags: ClusterFlags): Promise<number> {
  const [state, { auditReport }, render] = await Promise.all([
    import('../../report/cluster_state.ts'),
    import('../../report/audit_report.ts'),
    import('../../report/render.ts'),
  ]);
  const kc = await cluster(flags);
  const step = progress;
  const namespace = flags.allNamespaces ? undefined : flags.namespace;
  const report = await reading(async () => {
    const { config, source } = await configOf(kc, flags, step);
    const [pods, nodes, controllers, optedIn] = await Promise.all([
      state.readAgentPods(kc, config, namespace, step),
      state.readNodes(kc, step),
      state.readControllers(kc, namespace, config, step),
      state.readOptedInNamespaces(kc),
    ]);
    return auditReport({
      config,
      configSource: source,
      pods,
      nodes,
      controllers,
      ...(optedIn && { optedInNamespaces: optedIn }),
      ...(namespace && { namespace }),
    });
  });
  await writeStdout(
    flags.output === 'text' ? render.auditText(report, colorOf(flags)) : render.formatReport(report, flags.output),
  );
  return report.exitCode;
}

function clusterOptions(command: Command): Command {
  return command
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, else in-cluster)')
    .option('--context <name>', 'kubeconfig context (default: its current context)')
    .option(
      '-n, --namespace <namespace>',
      "only the agent pods of this namespace (status: in the table; the election is the whole scope's)",
    )
    .option('--config <file>', "config file (default: the installed chart's ConfigMap, else the defaults)")
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'yaml']).default('text'))
    .option('--no-color', 'no colours, also on a terminal (NO_COLOR does the same)');
}

export function addStatusCommand(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  clusterOptions(
    program
      .command('status')
      .description(
        'the published watcher, the controller, every agent pod with its policy and standing, the webhook, the active warnings (exit 0 healthy, 1 warning, 2 no watcher)',
      ),
  )
    .option(
      '--lease <namespace/name>',
      'the Lease that publishes the watcher (default: found by its annotations)',
      watcherRef,
    )
    .action((opts: Parameters<typeof runStatus>[0]) => run(() => runStatus(opts)));
}

export function addAuditCommand(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  clusterOptions(
    program
      .command('audit')
      .description(
        'every agent pod and pod controller: what it runs with now, what the webhook would decide today, the drift and what to do (exit 1 on drift)',
      ),
  )
    .option('-A, --all-namespaces', 'all namespaces (the default without -n)')
    .action((opts: ClusterFlags) => run(() => runAudit(opts)));
}
