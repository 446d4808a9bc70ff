/**
 * What a user of an installed k8s-watch-policy sees, through the API server only: in an opted-in
 * namespace, agents get their policy from their shape and labels, a Deployment that still sets
 * ONLY_WATCH_K8S_RESOURCE is refused, and the watcher Deployment's pod is elected, labelled and
 * replaced when it goes away. Runs against the local control plane in `npm test` and against a
 * kind cluster with the chart's pods in `npm run e2e:kind` (see installation.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { apply, eventually, getJson, kubectl } from '../support/cluster_harness.ts';
import { installation, type Installation } from './installation.ts';
import { agentContainer, type EnvEntry } from '../support/objects.ts';

let inst: Installation;

beforeAll(async () => {
  inst = await installation();
}, 120_000);

afterAll(async () => {
  await inst?.stop();
});

const agent = (env: EnvEntry[] = []) => agentContainer(inst.image, env);

function workload(
  kind: 'Deployment' | 'DaemonSet',
  name: string,
  containers: unknown[],
  labels: Record<string, string> = {},
  replicas = 2,
) {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name, namespace: inst.agentsNamespace },
    spec: {
      ...(kind === 'Deployment' && { replicas }),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...labels } },
        spec: { containers, terminationGracePeriodSeconds: 1 },
      },
    },
  };
}

const podsOf = (app: string): any[] => getJson(['get', 'pods', '-n', inst.agentsNamespace, '-l', `app=${app}`]).items;
const policyOf = (pod: any): string | undefined =>
  pod.spec.containers
    .find((c: any) => c.name === 'deepflow-agent')
    ?.env?.find((e: any) => e.name === 'K8S_WATCH_POLICY')?.value;
const holder = (): string | undefined => {
  const r = kubectl(['get', 'lease', inst.leaseName, '-n', inst.releaseNamespace, '-o', 'json']);
  return r.status === 0 ? (JSON.parse(r.stdout).spec.holderIdentity ?? undefined) : undefined;
};
const labelled = (): string[] =>
  getJson(['get', 'pods', '-n', inst.agentsNamespace, '-l', 'deepflow.io/k8s-watcher=true'])
    .items.filter((p: any) => !p.metadata.deletionTimestamp)
    .map((p: any) => p.metadata.name);
const running = (app: string, n: number) => () =>
  podsOf(app).filter((p) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp).length >= n;

/** The suite's workloads, applied as they are (idempotent): every test starts from them, whichever ran before it. */
async function workloads(): Promise<void> {
  apply([
    workload('Deployment', 'watcher', [agent()], { 'deepflow.io/role': 'k8s-watcher' }),
    workload(
      'Deployment',
      'shop',
      [{ name: 'shop', image: inst.image }, agent()],
      { 'deepflow.io/k8s-watch-policy': 'watch-disabled' },
      1,
    ),
    workload('DaemonSet', 'node-agent', [agent()]),
  ]);
  await eventually(
    'the pods',
    () => podsOf('watcher').length === 2 && podsOf('shop').length === 1 && podsOf('node-agent').length > 0,
    120_000,
  );
}

describe('admission in an opted-in namespace', () => {
  test('the watcher Deployment gets watch-only, a sidecar labelled watch-disabled gets it, DaemonSet agents stay normal', async () => {
    await workloads();
    expect(podsOf('watcher').map(policyOf)).toEqual(['watch-only', 'watch-only']);
    expect(podsOf('shop').map(policyOf)).toEqual(['watch-disabled']);
    expect(
      podsOf('node-agent')
        .map(policyOf)
        .every((p) => p === undefined),
    ).toBe(true);
    expect(podsOf('watcher')[0].metadata.annotations['deepflow.io/k8s-watch-policy-reason']).toBe(
      'only-watch/watcher-selector',
    );
  });

  test('a Deployment that still sets ONLY_WATCH_K8S_RESOURCE is refused with the fix', () => {
    const r = kubectl(
      ['apply', '-f', '-'],
      JSON.stringify(
        workload('Deployment', 'legacy', [agent([{ name: 'ONLY_WATCH_K8S_RESOURCE', value: 'true' }])], {}, 1),
      ),
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(
      'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); remove it and set K8S_WATCH_POLICY=watch-only',
    );
    expect(kubectl(['get', 'deployment', 'legacy', '-n', inst.agentsNamespace]).status).not.toBe(0);
  });
});

describe('the election', () => {
  test('a watcher pod holds the Lease and alone carries the watcher label', async () => {
    await workloads();
    await eventually('the watcher pods running', running('watcher', 2), 120_000);
    const elected = await eventually(
      'a watcher pod elected',
      () => holder()?.startsWith(`${inst.agentsNamespace}/watcher-`) && holder(),
      60_000,
    );
    await eventually('the label on the watcher only', () => labelled().join() === elected.split('/')[1]);
  });

  test('deleting the watcher pod elects another watcher pod, not a DaemonSet agent', async () => {
    await workloads();
    await eventually('the watcher pods running', running('watcher', 2), 120_000);
    const before = await eventually(
      'a watcher pod elected',
      () => holder()?.startsWith(`${inst.agentsNamespace}/watcher-`) && holder(),
      60_000,
    );
    kubectl(['delete', 'pod', before.split('/')[1]!, '-n', inst.agentsNamespace, '--wait=false']);
    const after = await eventually(
      'another watcher',
      () => {
        const h = holder();
        return h && h !== before && h;
      },
      60_000,
    );
    expect(after).toMatch(new RegExp(`^${inst.agentsNamespace}/watcher-`));
    await eventually('the label moved', () => labelled().join() === after.split('/')[1]);
  });
});
