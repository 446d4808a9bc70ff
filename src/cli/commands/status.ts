/**
 * `kubectl watch-policy status`: the published watcher, the controller, every agent pod with its
 * policy and standing, the webhook, and the active warnings, read from a live cluster.
 */
import type { Command } from 'commander';
import { defaultConfig } from '../../config/config.ts';
import { cluster, clusterOptions, colorOf, configOf, progress, reading, type ClusterFlags } from '../live_cluster.ts';
import { watcherRef } from '../options.ts';
import { writeChunks } from '../process.ts';

async function runStatus(flags: ClusterFlags & { lease?: { namespace: string; name: string } }): Promise<number> {
  const [state, { electionPod }, { statusReport }, render] = await Promise.all([
    import('../../report/cluster_state.ts'),
    import('../../report/report_pods.ts'),
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
    // The election needs every agent of its namespaces, whatever -n shows; of each, what it reads.
    const [nodes, webhook, version] = await Promise.all([
      state.readNodes(kc, step),
      state.readWebhook(kc),
      state.readServerVersion(kc),
    ]);
    // The pods last and alone: the one large list, a page at a time.
    const pods = await state.readPods(kc, config, undefined, electionPod(config), step);
    return statusReport({
      config,
      configSource: source,
      pods,
      nodes,
      ...controller,
      webhook,
      ...(flags.namespace && { namespace: flags.namespace }),
      ...(version && { serverVersion: version }),
    });
  });
  await writeChunks(
    flags.output === 'text'
      ? render.statusTextChunks(report, colorOf(flags))
      : render.formatChunks(report, flags.output),
  );
  return report.exitCode;
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
