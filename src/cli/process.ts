/** What every command shares: its config, the cluster it talks to, standard output, and how it stops. */
import type { Config } from '../config/config.ts';
import { loadConfig } from '../config/load.ts';
import { ConfigError } from '../config/parse.ts';
import type { RestConfig } from '../kube/rest/config.ts';
import { errorMessage, type Logger } from '../log.ts';
import { CliError, EXIT_CONFIG, EXIT_OK } from './exit_codes.ts';

/** The config file (DESIGN §4), or the defaults; a bad one is exit 78 naming the field. */
export async function loadCliConfig(file: string | undefined): Promise<Config> {
  try {
    return await loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT_CONFIG);
    throw err;
  }
}

/** The cluster: --kubeconfig, else $KUBECONFIG, else the pod's service account; undefined when none. */
export async function loadCluster(kubeconfig: string | undefined, context?: string): Promise<RestConfig | undefined> {
  const { loadRestConfig } = await import('../kube/rest/kubeconfig.ts');
  try {
    return await loadRestConfig(kubeconfig, process.env, context);
  } catch (err) {
    throw new CliError(`cannot load the cluster configuration: ${errorMessage(err)}`, EXIT_CONFIG);
  }
}

/** Writes to standard output and waits until it is flushed. */
export function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
}

/**
 * Writes pieces of text to standard output, some 64 KB at a time, each flushed before the next is
 * made: a report of 100,000 rows never exists as one string.
 */
export async function writeChunks(chunks: Iterable<string>, bufferSize = 65_536): Promise<void> {
  let buffer = '';
  for (const chunk of chunks) {
    buffer += chunk;
    if (buffer.length < bufferSize) continue;
    await writeStdout(buffer);
    buffer = '';
  }
  if (buffer !== '') await writeStdout(buffer);
}

/** Resolves with exit code 0 once SIGTERM or SIGINT has arrived, been logged, and `stop` has finished. */
export function untilSignal(logger: Logger, stop: () => Promise<unknown>): Promise<number> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down');
      void stop().then(() => resolve(EXIT_OK));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}
