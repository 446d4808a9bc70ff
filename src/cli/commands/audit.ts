/**
 * `kubectl watch-policy audit`: every agent pod and pod controller of a live cluster, what it runs
 * with now, what the webhook would decide today, the drift and what to do.
 */
import type { Command } from 'commander';
import { cluster, clusterOptions, colorOf, configOf, progress, reading, type ClusterFlags } from '../live_cluster.ts';
import { writeStdout } from '../process.ts';

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
