/**
 * `kubectl watch-policy audit`: every agent pod and pod controller of a live cluster, what it runs
 * with now, what the webhook would decide today, the drift and what to do.
 */
import type { Command } from 'commander';
import type { Pod } from '../../kube/objects.ts';
import { cluster, clusterOptions, colorOf, configOf, progress, reading, type ClusterFlags } from '../live_cluster.ts';
import { writeChunks } from '../process.ts';

async function runAudit(flags: ClusterFlags): Promise<number> {
  const [state, audit, render] = await Promise.all([
    import('../../report/cluster_state.ts'),
    import('../../report/audit_report.ts'),
    import('../../report/render.ts'),
  ]);
  const kc = await cluster(flags);
  const step = progress;
  const namespace = flags.allNamespaces ? undefined : flags.namespace;
  const report = await reading(async () => {
    const { config, source } = await configOf(kc, flags, step);
    // Nodes and namespaces first: each pod and controller is then reduced to its row as it arrives.
    const [nodes, optedIn] = await Promise.all([state.readNodes(kc, step), state.readOptedInNamespaces(kc)]);
    const context = audit.auditContext({ config, nodes, ...(optedIn && { optedInNamespaces: optedIn }) });
    // One list at a time: two pages of some MB in flight at once cost some 100 MB of peak RSS at 100,000 pods.
    const pods = await state.readPods(kc, config, namespace, (o) => audit.podRow(o as Pod, context), step);
    const controllers = await state.readControllers(kc, namespace, config, (o) => audit.templateRow(o, context), step);
    return audit.auditReportOf(pods.concat(controllers), { configSource: source, ...(namespace && { namespace }) });
  });
  await writeChunks(
    flags.output === 'text'
      ? render.auditTextChunks(report, colorOf(flags))
      : render.formatChunks(report, flags.output),
  );
  return report.exitCode;
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
