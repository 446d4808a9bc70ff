/**
 * The life of a release whose pods run from the image on a real node (`npm run e2e:node` installs
 * it and runs this after the release suite): `helm upgrade` rolls the webhook and the controller
 * while agent pods are being created, and no creation is refused nor admitted without its policy;
 * the elected watcher stays elected across the controller's rollout; `helm uninstall` leaves
 * nothing of the release but the last watcher's label, which the chart README's command removes.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readState } from '../cluster/cluster.ts';
import { KUBECONFIG, PKI_DIR, STATE_DIR } from '../cluster/paths.ts';
import { defaultConfig } from '../../src/config/config.ts';
import { POLICY_LABEL, WATCHER_LABEL } from '../../src/policy/labels.ts';
import { apply, eventually, getJson, kubectl } from '../support/cluster_harness.ts';
import { CLI } from '../support/processes.ts';
import { NAMESPACE, releaseValues, RELEASE } from './release.ts';
import { agentContainer, FAKE_AGENT_IMAGE } from '../support/objects.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN = Math.random().toString(36).slice(2, 7);
const AGENTS = `kwp-node-agents-${RUN}`;
const INSTANCE = `app.kubernetes.io/instance=${RELEASE}`;
const FULLNAME = RELEASE; // the release is named like the chart
const WATCHER = `watcher-${RUN}`;
/** The watcher Lease the chart's controller publishes (the default config's name). */
const WATCHER_LEASE = defaultConfig().election.leaseName;

/** An agent pod of the agents namespace (fake image: kwok runs it; the real node's taint keeps it off). */
const agentPod = (name: string, labels: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: AGENTS, labels },
  spec: {
    containers: [agentContainer(FAKE_AGENT_IMAGE)],
    terminationGracePeriodSeconds: 0,
  },
});

function helm(args: string[]): { status: number; stdout: string; stderr: string } {
  const bin = process.env.HELM ?? join(readState()!.bin, 'helm');
  const r = spawnSync(bin, ['--kubeconfig', KUBECONFIG, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

/** `helm upgrade` of the release with its values and these `--set`s, waiting for the rollout. */
const upgradeRelease = (sets: string[]) =>
  helm([
    'upgrade',
    RELEASE,
    join(ROOT, 'charts', 'k8s-watch-policy'),
    ...['-n', NAMESPACE, ...releaseValues()],
    ...sets.flatMap((v) => ['--set', v]),
    ...['--wait', '--timeout', '4m'],
  ]);

/** POST a pod straight to the API server (admin credentials): status code and the stored pod or the error. */
function createPod(name: string): Promise<{ status: number; body: any }> {
  const state = readState()!;
  const body = JSON.stringify(agentPod(name, { app: 'churn', [POLICY_LABEL]: 'watch-disabled' }));
  return new Promise((resolve) => {
    const req = request(
      new URL(`/api/v1/namespaces/${AGENTS}/pods`, state.server),
      {
        method: 'POST',
        ca: readFileSync(join(PKI_DIR, 'ca.crt')),
        cert: readFileSync(join(PKI_DIR, 'admin.crt')),
        key: readFileSync(join(PKI_DIR, 'admin.key')),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        agent: false,
        timeout: 60_000,
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in 60 s')));
    req.on('error', (err) => resolve({ status: 0, body: { message: err.message } }));
    req.end(body);
  });
}

/** The watcher Lease's holder and since when. */
const watcherLease = (): { holder?: string; acquireTime?: string } => {
  const lease = getJson(['get', 'lease', WATCHER_LEASE, '-n', NAMESPACE]);
  return { holder: lease.spec?.holderIdentity, acquireTime: lease.spec?.acquireTime };
};
const watcherLabelled = (): string[] =>
  getJson(['get', 'pods', '-A', '-l', `${WATCHER_LABEL}=true`]).items.map(
    (p: any) => `${p.metadata.namespace}/${p.metadata.name}`,
  );

const policyOf = (pod: any): string | undefined =>
  pod.spec?.containers
    ?.find((c: any) => c.name === 'deepflow-agent')
    ?.env?.find((e: any) => e.name === 'K8S_WATCH_POLICY')?.value;
const replicaSetsOf = (component: string): string[] =>
  getJson(['get', 'pods', '-n', NAMESPACE, '-l', `app.kubernetes.io/component=${component},${INSTANCE}`])
    .items.filter((p: any) => !p.metadata.deletionTimestamp && p.status.phase === 'Running')
    .map((p: any) => p.metadata.labels['pod-template-hash']);

beforeAll(() => {
  if (!process.env.KWP_RELEASE_NAMESPACE)
    throw new Error('run by npm run e2e:node, which installs the release on a real node');
  apply([
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: AGENTS, labels: { 'deepflow.io/k8s-watch-policy-injection': 'enabled' } },
    },
  ]);
});

afterAll(() => {
  kubectl(['delete', 'namespace', AGENTS, '--wait=false']);
});

describe('helm upgrade', () => {
  test('rolls the webhook and the controller while pods are created: none refused, every one with its policy', async () => {
    await eventually(
      "the agents namespace's ServiceAccount",
      () => kubectl(['get', 'sa', 'default', '-n', AGENTS]).status === 0,
    );
    const webhookBefore = new Set(replicaSetsOf('webhook'));
    const controllerBefore = new Set(replicaSetsOf('controller'));
    expect(webhookBefore.size).toBe(1);
    // A watcher pod, elected by the chart's controller.
    apply([agentPod(WATCHER, { app: 'watcher', [POLICY_LABEL]: 'watch-only' })]);
    await eventually(
      'the watcher pod elected and labelled',
      () => watcherLease().holder === `${AGENTS}/${WATCHER}` && watcherLabelled().join() === `${AGENTS}/${WATCHER}`,
      120_000,
    );
    const electedBefore = watcherLease();

    // Two clients creating pods back to back for the whole upgrade, as a busy cluster would.
    const results: { status: number; body: any }[] = [];
    let upgrading = true;
    const client = async (id: number) => {
      for (let i = 0; upgrading; i++) results.push(await createPod(`churn-${id}-${i}`));
    };
    const clients = [client(0), client(1)];
    // Some creations before the rollout starts, so that the clients are known to work.
    await eventually('pods created before the upgrade', () => results.length >= 10, 60_000);
    const upgrade = upgradeRelease([
      `webhook.podAnnotations.kwp-rollout=${RUN}`,
      `controller.podAnnotations.kwp-rollout=${RUN}`,
    ]);
    // And some after the last old replica is gone.
    const after = results.length;
    await eventually('pods created after the upgrade', () => results.length >= after + 10, 60_000);
    upgrading = false;
    await Promise.all(clients);

    expect([upgrade.status, upgrade.stderr.trim()]).toEqual([0, '']);
    const webhookAfter = replicaSetsOf('webhook');
    expect(webhookAfter.length).toBe(2);
    expect(webhookAfter.some((rs) => webhookBefore.has(rs))).toBe(false);
    expect(replicaSetsOf('controller').some((rs) => controllerBefore.has(rs))).toBe(false);

    // The watcher stayed put across the controller's rollout: same holder, same acquisition, the only one labelled.
    expect(watcherLease()).toEqual(electedBefore);
    expect(watcherLabelled()).toEqual([`${AGENTS}/${WATCHER}`]);

    const refused = results.filter((r) => r.status !== 201).map((r) => `${r.status} ${r.body.message}`);
    expect(refused).toEqual([]);
    const withoutPolicy = results
      .filter((r) => policyOf(r.body) !== 'watch-disabled')
      .map((r) => r.body.metadata?.name);
    expect(withoutPolicy).toEqual([]);
    process.stderr.write(`[e2e:node] ${results.length} pods created during helm upgrade, none refused\n`);
  });
});

/**
 * The commands of the README: every `kubectl` command in it that reads or labels, and the uninstall
 * line, as an operator copies them. Lines of its sh blocks and code spans that begin with `kubectl `.
 */
function readmeCommands(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split('\n'));
  const spans = [...readme.matchAll(/`(kubectl [^`]+)`/g)].map((m) => m[1]!);
  return [...blocks, ...spans].map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l.startsWith('kubectl '));
}

describe('the README', () => {
  test('its kubectl commands run against the release: the read-only ones, the plugin and the namespace label', () => {
    const bin = readState()!.bin;
    const pluginDir = join(STATE_DIR, 'plugin-bin');
    mkdirSync(pluginDir, { recursive: true });
    rmSync(join(pluginDir, 'kubectl-watch_policy'), { force: true });
    symlinkSync(CLI, join(pluginDir, 'kubectl-watch_policy'));
    apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'deepflow' } }]);
    const env = { ...process.env, KUBECONFIG, PATH: `${bin}:${pluginDir}:${process.env.PATH ?? ''}` };
    const commands = readmeCommands().filter(
      (c) => /^kubectl (get|label namespace|watch-policy|-n \S+ get) /.test(c) || c === 'kubectl watch-policy status',
    );
    const ran = commands.map((command) => {
      const r = spawnSync('sh', ['-c', command], { env, encoding: 'utf8', timeout: 120_000 });
      return { command, status: r.status, stderr: (r.stderr ?? '').trim().slice(0, 300) };
    });
    kubectl(['delete', 'namespace', 'deepflow', '--wait=false']);
    // status and audit exit 1 on a warning or drift, which the release's test agents may have; 2 would be no watcher.
    const failed = ran.filter(
      (r) => !(r.status === 0 || (/watch-policy (status|audit)/.test(r.command) && r.status === 1)),
    );
    expect(failed).toEqual([]);
    expect(ran.map((r) => r.command)).toEqual(
      expect.arrayContaining([
        'kubectl watch-policy status',
        'kubectl watch-policy audit -A',
        `kubectl get lease ${WATCHER_LEASE} -n ${NAMESPACE} -o yaml`,
        `kubectl get pods -A -l ${WATCHER_LABEL}=true`,
        'kubectl label namespace deepflow deepflow.io/k8s-watch-policy-injection=enabled',
      ]),
    );
    expect(getJson(['get', 'namespace', 'deepflow']).metadata.labels).toMatchObject({
      'deepflow.io/k8s-watch-policy-injection': 'enabled',
    });
  });

  test('its install and uninstall lines name the release and namespace this suite installs', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`helm install ${RELEASE} charts/k8s-watch-policy -n ${NAMESPACE} --create-namespace`);
    expect(readme).toContain(`helm uninstall ${RELEASE} -n ${NAMESPACE}\n`);
  });
});

describe('webhook.hostNetwork', () => {
  test("in the node's network on a free port: the pod's IP is the node's, and agent pods are admitted and patched", async () => {
    // One replica: the port is the node's, and the real node is the only node the chart's pods go to.
    const upgrade = upgradeRelease([
      'webhook.hostNetwork=true',
      'webhook.replicas=1',
      'webhook.port=10260',
      'webhook.metricsPort=10261',
    ]);
    expect([upgrade.status, upgrade.stderr.trim()]).toEqual([0, '']);
    const pods = getJson([
      'get',
      'pods',
      '-n',
      NAMESPACE,
      '-l',
      `app.kubernetes.io/component=webhook,${INSTANCE}`,
    ]).items.filter((p: any) => !p.metadata.deletionTimestamp);
    expect(pods.map((p: any) => [p.spec.hostNetwork, p.spec.dnsPolicy, p.status.podIP])).toEqual([
      [true, 'ClusterFirstWithHostNet', pods[0].status.hostIP],
    ]);
    const created = await createPod(`host-network-${RUN}`);
    expect([created.status, policyOf(created.body)]).toEqual([201, 'watch-disabled']);
    process.stderr.write(
      `[e2e:node] the webhook on the node's network at ${pods[0].status.podIP}:10260 admitted and patched a pod\n`,
    );
  });
});

describe('helm uninstall', () => {
  test('leaves nothing of the release: no objects in its namespace, no cluster-wide objects, no webhook in the way', async () => {
    const manifest = helm(['get', 'manifest', RELEASE, '-n', NAMESPACE]);
    expect(manifest.status).toBe(0);
    const kinds = [...manifest.stdout.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Deployment',
        'MutatingWebhookConfiguration',
        'ValidatingWebhookConfiguration',
        'ClusterRole',
        'Service',
      ]),
    );

    const uninstall = helm(['uninstall', RELEASE, '-n', NAMESPACE, '--wait', '--timeout', '2m']);
    expect([uninstall.status, uninstall.stderr.trim()]).toEqual([0, '']);

    expect(
      kubectl([
        'get',
        'mutatingwebhookconfiguration,validatingwebhookconfiguration,clusterrole,clusterrolebinding',
        '-l',
        INSTANCE,
        '-o',
        'name',
      ]).stdout.trim(),
    ).toBe('');
    expect(
      kubectl([
        'get',
        'mutatingwebhookconfiguration,validatingwebhookconfiguration',
        FULLNAME,
        '-o',
        'name',
        '--ignore-not-found',
      ]).stdout.trim(),
    ).toBe('');
    const left = () =>
      kubectl([
        'get',
        'all,configmaps,secrets,serviceaccounts,roles,rolebindings,leases,poddisruptionbudgets,endpointslices',
        '-n',
        NAMESPACE,
        '-o',
        'name',
      ])
        .stdout.trim()
        .split('\n')
        .filter((l) => l && !l.endsWith('/default') && !l.endsWith('/kube-root-ca.crt'));
    await eventually('nothing of the release left in its namespace', () => left().length === 0, 120_000).catch(
      () => undefined,
    );
    expect(left()).toEqual([]);
    // The containers are gone from the real node too: the kubelet stopped them.
    expect(kubectl(['get', 'pods', '-n', NAMESPACE, '-o', 'name']).stdout.trim()).toBe('');
    // The last watcher keeps its label (the chart README says so), and its command removes it.
    expect(watcherLabelled()).toEqual([`${AGENTS}/${WATCHER}`]);
    const readme = readFileSync(join(ROOT, 'charts', 'k8s-watch-policy', 'README.md'), 'utf8');
    const command = `kubectl label pods -A -l ${WATCHER_LABEL}=true ${WATCHER_LABEL}-`;
    expect(readme.split('\n')).toContain(command);
    expect(kubectl(command.split(' ').slice(1)).status).toBe(0);
    expect(watcherLabelled()).toEqual([]);
    // Without the webhook an agent pod is admitted as it is.
    const created = await createPod(`after-uninstall-${RUN}`);
    expect(created.status).toBe(201);
    expect(policyOf(created.body)).toBeUndefined();
  });
});
