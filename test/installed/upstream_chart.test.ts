/**
 * The upstream deepflow-agent chart (deepflow-charts 7.1.002, as it renders with its defaults:
 * test/golden/upstream-agent-7.1.in.yaml) installed into an opted-in namespace, with the webhook
 * and the controller running: what a DeepFlow operator who already runs that chart sees.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { eventually, getJson, kubectl } from '../support/cluster_harness.ts';
import { installation, type Installation } from './installation.ts';

let inst: Installation;

beforeAll(async () => {
  inst = await installation();
}, 120_000);

afterAll(async () => {
  await inst?.stop();
});

const REASON = 'deepflow.io/k8s-watch-policy-reason';

/** The chart's DaemonSet and watcher Deployment, in the suite's namespace, with its image. */
function upstreamWorkloads(): any[] {
  const file = fileURLToPath(new URL('../golden/upstream-agent-7.1.in.yaml', import.meta.url));
  const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS());
  return docs
    .filter((d) => d.kind === 'DaemonSet' || d.kind === 'Deployment')
    .map((d) => {
      d.metadata.namespace = inst.agentsNamespace;
      const spec = d.spec.template.spec;
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) c.image = inst.image;
      spec.terminationGracePeriodSeconds = 1;
      delete spec.serviceAccountName;
      return d;
    });
}

const pods = (): any[] =>
  getJson(['get', 'pods', '-n', inst.agentsNamespace, '-l', 'component=deepflow-agent']).items.filter(
    (p: any) => !p.metadata.deletionTimestamp,
  );
const watcherPods = () => pods().filter((p) => p.metadata.name.startsWith('deepflow-agent-watcher-'));
const daemonPods = () => pods().filter((p) => p.metadata.ownerReferences?.[0]?.kind === 'DaemonSet');
const policyOf = (pod: any): string | undefined =>
  pod.spec.containers.find((c: any) => c.name === 'deepflow-agent').env?.find((e: any) => e.name === 'K8S_WATCH_POLICY')
    ?.value;
const holder = (): string | undefined => {
  const r = kubectl(['get', 'lease', inst.leaseName, '-n', inst.releaseNamespace, '-o', 'json']);
  return r.status === 0 ? (JSON.parse(r.stdout).spec.holderIdentity ?? undefined) : undefined;
};

describe('the upstream deepflow-agent chart', () => {
  test('applied as rendered: the Deployment is warned about its surge, every pod gets the value the agent reads and a reason', async () => {
    const r = kubectl(
      ['apply', '-f', '-'],
      upstreamWorkloads()
        .map((d) => JSON.stringify(d))
        .join('\n'),
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(
      'Warning: this Deployment runs watch-only agents (K8S_WATCH_POLICY=watch-only) and its rolling update can surge to 2 pods',
    );
    await eventually(
      'the watcher pod and the DaemonSet pods',
      () => watcherPods().length === 1 && daemonPods().length >= 3,
      120_000,
    );

    const [watcher] = watcherPods();
    expect(policyOf(watcher)).toBe('watch-only');
    expect(watcher.metadata.annotations[REASON]).toBe('only-watch/watcher-deployment');
    for (const pod of daemonPods()) {
      const virtual =
        pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0].startsWith(
          'vk-',
        );
      expect([pod.metadata.name, policyOf(pod), pod.metadata.annotations[REASON]]).toEqual(
        virtual
          ? [pod.metadata.name, 'watch-disabled', 'watch-disabled/serverless-node-label']
          : [pod.metadata.name, undefined, 'normal/default'],
      );
    }
  });

  test('the watcher pod is elected over the DaemonSet agents', async () => {
    await eventually('the watcher pod running', () => watcherPods().some((p) => p.status.phase === 'Running'), 120_000);
    const name = watcherPods()[0].metadata.name;
    await eventually('the watcher pod elected', () => holder() === `${inst.agentsNamespace}/${name}`, 60_000);
  });

  test('scaled to two watch-only agents, MultipleWatchOnlyAgents is raised after the grace period', async () => {
    expect(
      kubectl(['scale', 'deployment', 'deepflow-agent-watcher', '-n', inst.agentsNamespace, '--replicas', '2']).status,
    ).toBe(0);
    await eventually(
      'two watcher pods running',
      () => watcherPods().filter((p) => p.status.phase === 'Running').length === 2,
      120_000,
    );
    const events = await eventually(
      'the MultipleWatchOnlyAgents Event',
      () => {
        const items = getJson([
          'get',
          'events',
          '-n',
          inst.releaseNamespace,
          '--field-selector',
          'reason=MultipleWatchOnlyAgents',
        ]).items;
        return items.length > 0 && items;
      },
      60_000,
    );
    expect(events[0]).toMatchObject({ type: 'Warning', involvedObject: { kind: 'Lease', name: inst.leaseName } });
    expect(events[0].message).toMatch(/^2 eligible agent pods run K8S_WATCH_POLICY=watch-only for more than 2 s \(/);
  });
});
