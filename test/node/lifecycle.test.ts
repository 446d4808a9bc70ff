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
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readState } from '../cluster/cluster.ts';
import { KUBECONFIG, STATE_DIR } from '../cluster/paths.ts';
import { defaultConfig } from '../../src/config/config.ts';
import { POLICY_LABEL, WATCHER_LABEL } from '../../src/policy/labels.ts';
import { apply, eventually, getJson, kubectl } from '../support/cluster_harness.ts';
import { CLI } from '../support/processes.ts';
import { chartArgs, NAMESPACE, releaseValues, RELEASE } from './release.ts';
import { agentPod as podOf, createAgentPod, policyOf } from './agent_pods.ts';
import { plugin, pluginDir } from '../installed/plugin.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN = Math.random().toString(36).slice(2, 7);
const AGENTS = `kwp-node-agents-${RUN}`;
const INSTANCE = `app.kubernetes.io/instance=${RELEASE}`;
const FULLNAME = RELEASE; // the release is named like the chart
const WATCHER = `watcher-${RUN}`;
/** The watcher Lease the chart's controller publishes (the default config's name). */
const WATCHER_LEASE = defaultConfig().election.leaseName;

const agentPod = (name: string, labels: Record<string, string>) => podOf(AGENTS, name, labels);
const createPod = (name: string) => createAgentPod(AGENTS, name);

function helm(args: string[]): { status: number; stdout: string; stderr: string } {
  const bin = process.env.HELM ?? join(readState()!.bin, 'helm');
  const r = spawnSync(bin, ['--kubeconfig', KUBECONFIG, ...args], { encoding: 'utf8', timeout: 300_000 });
  // helm names the oci:// chart it pulled on standard error ("Pulled: ...", "Digest: ..."): not a warning.
  const stderr = (r.stderr ?? String(r.error ?? '')).replace(/^(Pulled|Digest): .*\n?/gm, '');
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr };
}

/** `helm upgrade` of the release (the published chart) with its values and these `--set`s, waiting for the rollout. */
const upgradeRelease = (sets: string[]) =>
  helm([
    'upgrade',
    RELEASE,
    ...chartArgs(),
    ...['-n', NAMESPACE, ...releaseValues()],
    ...sets.flatMap((v) => ['--set', v]),
    ...['--wait', '--timeout', '4m'],
  ]);

/** The watcher Lease's holder and since when. */
const watcherLease = (): { holder?: string; acquireTime?: string } => {
  const lease = getJson(['get', 'lease', WATCHER_LEASE, '-n', NAMESPACE]);
  return { holder: lease.spec?.holderIdentity, acquireTime: lease.spec?.acquireTime };
};
const watcherLabelled = (): string[] =>
  getJson(['get', 'pods', '-A', '-l', `${WATCHER_LABEL}=true`]).items.map(
    (p: any) => `${p.metadata.namespace}/${p.metadata.name}`,
  );

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
  test('its kubectl commands run against the release: the read-only ones, the plugin and the namespace label', async () => {
    const bin = readState()!.bin;
    const plugins = join(STATE_DIR, 'plugin-bin');
    mkdirSync(plugins, { recursive: true });
    rmSync(join(plugins, 'kubectl-watch_policy'), { force: true });
    symlinkSync(CLI, join(plugins, 'kubectl-watch_policy'));
    // The controller's rollout by the upgrade above settled (a leader again), as after an install.
    await eventually('a settled release', () => plugin(plugins, ['check', '-n', AGENTS]).code === 0, 120_000);
    apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'deepflow' } }]);
    const env = { ...process.env, KUBECONFIG, PATH: `${bin}:${plugins}:${process.env.PATH ?? ''}` };
    const commands = readmeCommands().filter(
      (c) => /^kubectl (get|label namespace|watch-policy|-n \S+ get) /.test(c) || c === 'kubectl watch-policy status',
    );
    const ran = commands.map((command) => {
      const r = spawnSync('sh', ['-c', command], { env, encoding: 'utf8', timeout: 120_000 });
      const output = r.status === 0 ? '' : `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().slice(0, 2000);
      return { command, status: r.status, output };
    });
    kubectl(['delete', 'namespace', 'deepflow', '--wait=false']);
    // status, audit and check exit 1 on a warning or drift, which the release's test agents may have; 2 would be no watcher.
    const failed = ran.filter(
      (r) => !(r.status === 0 || (/watch-policy (status|audit|check)/.test(r.command) && r.status === 1)),
    );
    expect(failed).toEqual([]);
    expect(ran.map((r) => r.command)).toEqual(
      expect.arrayContaining([
        'kubectl watch-policy status',
        'kubectl watch-policy audit -A',
        'kubectl watch-policy check',
        `kubectl get lease ${WATCHER_LEASE} -n ${NAMESPACE} -o yaml`,
        `kubectl get pods -A -l ${WATCHER_LABEL}=true`,
        'kubectl label namespace deepflow deepflow.io/k8s-watch-policy-injection=enabled',
      ]),
    );
    expect(getJson(['get', 'namespace', 'deepflow']).metadata.labels).toMatchObject({
      'deepflow.io/k8s-watch-policy-injection': 'enabled',
    });
  }, 180_000);

  test('its install and uninstall lines name the release and namespace this suite installs', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    // The published chart, as this suite installs it from its own registry (oci://, a version).
    expect(readme).toMatch(
      new RegExp(
        `helm install ${RELEASE} oci://ghcr\\.io/deepflowio/charts/k8s-watch-policy --version \\d+\\.\\d+\\.\\d+ -n ${NAMESPACE} --create-namespace\\n`,
      ),
    );
    expect(readme).toContain(`helm uninstall ${RELEASE} -n ${NAMESPACE}\n`);
  });
});

describe('kubectl watch-policy check and helm test', () => {
  const plugins = () => pluginDir('kwp-node-check-');
  let dir: string;
  beforeAll(() => void (dir = plugins()));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const check = (args: string[] = ['-n', AGENTS]) => {
    const r = plugin(dir, ['check', ...args, '-o', 'json']);
    const findings: { name: string; status: string; seen: string; fix?: string }[] = r.stdout
      ? JSON.parse(r.stdout).findings
      : [];
    return { code: r.code, findings, stderr: r.stderr, bad: findings.filter((f) => /warning|failure/.test(f.status)) };
  };
  const healthy = () => {
    let last: unknown;
    return eventually(
      'check exit 0',
      () => {
        const c = check();
        last = c.bad;
        return c.code === 0;
      },
      { timeoutMs: 120_000, explain: () => last },
    );
  };
  const scale = (component: string, replicas: number) =>
    kubectl(['scale', 'deployment', `${FULLNAME}-${component}`, '-n', NAMESPACE, `--replicas=${replicas}`]);

  test('helm test runs check in a pod of the release: it passes on a healthy release', async () => {
    await healthy();
    const r = helm(['test', RELEASE, '-n', NAMESPACE, '--timeout', '3m']);
    expect([r.status, r.stderr.trim()]).toEqual([0, '']);
    expect(r.stdout).toMatch(new RegExp(`TEST SUITE: +${FULLNAME}-check\\n[\\s\\S]*Phase: +Succeeded`));
    // Passed, so every hook is gone: nothing of the test outlives the release.
    expect(kubectl(['get', 'pod', `${FULLNAME}-check`, '-n', NAMESPACE]).status).not.toBe(0);
  }, 240_000);

  test('from the host: healthy gives exit 0, every finding ok', async () => {
    await healthy();
    const r = check();
    expect([r.code, r.bad]).toEqual([0, []]);
    expect(r.findings.map((f) => f.name)).toEqual(
      expect.arrayContaining(['webhook-service', 'webhook-replicas', 'serving-names', 'ca-certificate']),
    );
  }, 180_000);

  /** Checks until every finding named is bad at once; the result of that check. */
  const checkUntilBad = (...names: string[]) =>
    eventually(
      names.join(' and '),
      () => {
        const c = check();
        return names.every((n) => c.bad.some((f) => f.name === n)) && c;
      },
      120_000,
    );
  /** Scales a component to `replicas`, runs `body`, and scales it back to 2 (then waits for a healthy check). */
  const scaled = async (component: string, replicas: number, body: () => Promise<void>) => {
    expect(scale(component, replicas).status).toBe(0);
    try {
      await body();
    } finally {
      scale(component, 2);
    }
    await healthy();
  };

  test(
    'one webhook replica: the webhook-replicas warning, exit 1',
    () =>
      scaled('webhook', 1, async () => {
        const r = await checkUntilBad('webhook-replicas');
        expect([r.code, r.bad]).toEqual([
          1,
          [expect.objectContaining({ status: 'warning', fix: expect.stringContaining('webhook.replicas=2') })],
        ]);
      }),
    300_000,
  );

  test(
    'the webhook scaled to 0: no ready endpoint and admission refused, exit 2',
    () =>
      // Both at once: a replica that is draining is no endpoint any more but still answers.
      scaled('webhook', 0, async () => {
        const r = await checkUntilBad('webhook-service', 'admission');
        expect(r.code).toBe(2);
        expect(r.bad.find((f) => f.name === 'webhook-service')!.seen).toContain('has no ready endpoint');
        expect(r.bad.find((f) => f.name === 'admission')!.fix).toContain('start the webhook');
      }),
    300_000,
  );

  test('a wrong Service port: the webhook-service failure naming both ports, exit 2', async () => {
    const service = `${FULLNAME}-webhook`;
    const patch = (port: number) =>
      kubectl([
        'patch',
        'service',
        service,
        '-n',
        NAMESPACE,
        '--type=json',
        '-p',
        JSON.stringify([{ op: 'replace', path: '/spec/ports/0/port', value: port }]),
      ]);
    expect(patch(444).status).toBe(0);
    try {
      const r = check();
      expect(r.code).toBe(2);
      expect(r.bad.find((f) => f.name === 'webhook-service')!.seen).toContain('on port 443; it serves 444');
    } finally {
      patch(443);
    }
    await healthy();
  }, 180_000);

  test(
    'the controller stopped: the controller failure, exit 2',
    () =>
      scaled('controller', 0, async () => {
        const r = await checkUntilBad('controller');
        expect(r.code).toBe(2);
        expect(r.bad.find((f) => f.name === 'controller')).toMatchObject({
          status: 'failure',
          fix: expect.stringContaining('component=controller'),
        });
      }),
    300_000,
  );

  test('no opted-in namespace: the admission failure with the label to set, exit 2', () => {
    kubectl(['wait', '--for=delete', 'namespace/deepflow', '--timeout=120s']);
    const opted = getJson(['get', 'namespaces', '-l', 'deepflow.io/k8s-watch-policy-injection=enabled']).items.map(
      (n: any) => n.metadata.name,
    );
    for (const ns of opted) kubectl(['label', 'namespace', ns, 'deepflow.io/k8s-watch-policy-injection-']);
    try {
      const r = check([]);
      expect(r.code).toBe(2);
      expect(r.bad.find((f) => f.name === 'admission')).toMatchObject({
        status: 'failure',
        seen: 'no namespace is opted in: the webhook reviews no pod',
        fix: expect.stringContaining('deepflow.io/k8s-watch-policy-injection=enabled'),
      });
    } finally {
      for (const ns of opted)
        kubectl(['label', 'namespace', ns, 'deepflow.io/k8s-watch-policy-injection=enabled', '--overwrite']);
    }
  }, 180_000);
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
