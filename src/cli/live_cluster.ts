/**
 * What `status` and `audit` share: the flags that name a live cluster and the installation's
 * config, reading the cluster through the API server with the kubeconfig as kubectl reads it (no
 * port-forward), one clear line when it cannot be read, and colour only on a terminal.
 */
import { Option, type Command } from 'commander';
import type { Config } from '../config/config.ts';
import { ConfigError } from '../config/parse.ts';
import type { RestConfig } from '../kube/rest/config.ts';
import { errorMessage } from '../log.ts';
import { CliError, EXIT_CONFIG, EXIT_SOFTWARE } from './exit_codes.ts';
import { loadCluster } from './process.ts';

export interface ClusterFlags {
  kubeconfig?: string;
  context?: string;
  config?: string;
  output: 'text' | 'json' | 'yaml';
  namespace?: string;
  allNamespaces?: boolean;
  color: boolean;
}

/** Progress on stderr for lists of more than a page (never on stdout, which scripts read). */
export const progress = (what: string, count: number): void => void process.stderr.write(`  ${what}: ${count} read\n`);

export async function cluster(flags: ClusterFlags): Promise<RestConfig> {
  const kc = await loadCluster(flags.kubeconfig, flags.context);
  if (!kc) throw new CliError('no cluster: pass --kubeconfig, set KUBECONFIG, or run in a pod', EXIT_CONFIG);
  return kc;
}

export async function configOf(
  kc: RestConfig,
  flags: ClusterFlags,
  step: (what: string, count: number) => void,
  namespace?: string,
): Promise<{ config: Config; source: string }> {
  const { chooseConfig } = await import('../report/cluster_state.ts');
  try {
    return await chooseConfig(kc, flags.config, namespace, step);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT_CONFIG);
    throw err;
  }
}

/** Turns an unreachable API server into one clear line. */
export async function reading<T>(what: () => Promise<T>): Promise<T> {
  try {
    return await what();
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read the cluster: ${errorMessage(err)}`, EXIT_SOFTWARE);
  }
}

export const colorOf = (flags: ClusterFlags) => flags.color && process.stdout.isTTY === true && !process.env.NO_COLOR;

export function clusterOptions(command: Command): Command {
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
