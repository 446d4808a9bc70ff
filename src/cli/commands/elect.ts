/** `k8s-watch-policy elect`: who would be the Kubernetes watcher (DESIGN §7). */
import { Option, type Command } from 'commander';
import type { Node, Pod } from '../../kube/objects.ts';
import { EXIT_NO_WATCHER, EXIT_OK } from '../exit_codes.ts';
import { watcherRef } from '../options.ts';
import { loadCliConfig, writeStdout } from '../process.ts';

async function runElect(opts: {
  file: string;
  config?: string;
  current?: { namespace: string; name: string };
  output: 'json' | 'text';
}): Promise<number> {
  // Loaded when the command runs: every command shares main.ts, and the webhook's process should
  // not carry the offline commands' modules (yaml, the election) in its RSS.
  const [{ elect }, { flattenLists, parseDocuments, readInput }, { electionJson, electionText }] = await Promise.all([
    import('../../watcher_election/elect.ts'),
    import('../documents.ts'),
    import('../elect_output.ts'),
  ]);
  const cfg = await loadCliConfig(opts.config);
  const objects = flattenLists(parseDocuments(await readInput(opts.file), opts.file === '-' ? '<stdin>' : opts.file));
  const pods = objects.filter((o) => o.kind === 'Pod') as Pod[];
  const nodes = objects.filter((o) => o.kind === 'Node') as Node[];
  const election = elect(pods, nodes, opts.current, cfg);
  await writeStdout(opts.output === 'json' ? electionJson(election) : electionText(election));
  return election.watcher ? EXIT_OK : EXIT_NO_WATCHER;
}

export function addElectCommand(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('elect')
    .description('print which agent pod would be elected Kubernetes watcher (Pods with status, optionally Nodes)')
    .requiredOption('-f, --file <file>', 'Pods and Nodes: multi-document YAML or JSON, - for standard input')
    .option('--config <file>', 'config file')
    .option('--current <namespace/name>', 'the current watcher, for stickiness', watcherRef)
    .addOption(new Option('-o, --output <format>', 'output format').choices(['json', 'text']).default('text'))
    .action((opts: Parameters<typeof runElect>[0]) => run(() => runElect(opts)));
}
