/**
 * `kubectl watch-policy check`: the doctor to run after install, after an upgrade, or when agent
 * pods are refused. Each finding names what was seen and the fix; exit 0 all good, 1 a warning,
 * 2 a failure. The admission path is tried for real with server-side dry-run creates.
 */
import { Option, type Command } from 'commander';
import { cluster, colorOf, progress, reading, type ClusterFlags } from '../live_cluster.ts';
import { watcherRef } from '../options.ts';
import { writeStdout } from '../process.ts';

type CheckFlags = ClusterFlags & { lease?: { namespace: string; name: string } };

async function runCheck(flags: CheckFlags): Promise<number> {
  const [{ readCheck }, { checkReport }, render] = await Promise.all([
    import('../../report/check_read.ts'),
    import('../../report/check_report.ts'),
    import('../../report/render.ts'),
  ]);
  const kc = await cluster(flags);
  const report = checkReport(
    await reading(() =>
      readCheck(kc, {
        ...(flags.config && { config: flags.config }),
        ...(flags.namespace && { namespace: flags.namespace }),
        ...(flags.lease && { lease: flags.lease }),
        progress,
      }),
    ),
  );
  await writeStdout(
    flags.output === 'text' ? render.checkText(report, colorOf(flags)) : render.formatReport(report, flags.output),
  );
  return report.exitCode;
}

export function addCheckCommand(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('check')
    .description(
      'check the installation: webhook registration, endpoints, certificates, admission (dry runs), controller, agents (exit 0 all good, 1 warning, 2 failure)',
    )
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, else in-cluster)')
    .option('--context <name>', 'kubeconfig context (default: its current context)')
    .option('-n, --namespace <namespace>', 'the opted-in namespace of the dry-run agent pods (default: the first one)')
    .option('--config <file>', "config file (default: the installed chart's ConfigMap, else the defaults)")
    .option(
      '--lease <namespace/name>',
      'the Lease that publishes the watcher (default: found by its annotations)',
      watcherRef,
    )
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'yaml']).default('text'))
    .option('--no-color', 'no colours, also on a terminal (NO_COLOR does the same)')
    .action((opts: CheckFlags) => run(() => runCheck(opts)));
}
