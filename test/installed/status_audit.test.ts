/**
 * `kubectl watch-policy status` and `audit` against the local control plane with the webhook and
 * the controller running: each warning state, drift of each kind, the exit codes and the JSON
 * output, as a DeepFlow operator runs them (the kubectl plugin on PATH).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { apply, eventually, getJson, kubectl, kubectlOk } from '../support/cluster_harness.ts';
import { installation, shipConfig, type Installation } from './installation.ts';
import { plugin as runPlugin, pluginDir } from './plugin.ts';
import { agentContainer, type EnvEntry } from '../support/objects.ts';

let inst: Installation;
let dir: string;
let legacy: string;
let configFile: string;

const REASON = 'deepflow.io/k8s-watch-policy-reason';

beforeAll(async () => {
  inst = await installation();
  dir = pluginDir('kwp-status-'); // the plugin as kubectl finds it: kubectl-watch_policy on PATH
  legacy = `${inst.agentsNamespace}-legacy`;
  apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: legacy } }]); // not opted in: nothing reviews its pods
  // The installation's config, as the chart would ship it: a ConfigMap in the release namespace.
  const config = { election: { namespaces: [inst.agentsNamespace], leaseName: inst.leaseName } };
  configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, stringify(config));
  shipConfig(inst, config);
}, 120_000);

afterAll(async () => {
  kubectl(['delete', 'namespace', legacy, ...(inst.ownsConfig ? ['--wait=false'] : ['--wait=true', '--timeout=120s'])]);
  await inst?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const plugin = (args: string[]) => runPlugin(dir, args);

const status = () => {
  const r = plugin(['status', '--lease', `${inst.releaseNamespace}/${inst.leaseName}`, '-o', 'json']);
  return { ...r, json: JSON.parse(r.stdout) };
};
const kinds = (json: any): string[] => json.warnings.map((w: any) => w.kind).sort();

const agent = (env: EnvEntry[] = []) => agentContainer(inst.image, env);

function deployment(name: string, namespace: string, containers: unknown[], replicas = 1) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      strategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers, terminationGracePeriodSeconds: 1 } },
    },
  };
}

describe('kubectl watch-policy status', () => {
  test('no agent yet: exit 2, the no-watcher warning, the controller and the webhook found', async () => {
    await eventually(
      'the controller has published',
      () =>
        getJson(['get', 'lease', inst.leaseName, '-n', inst.releaseNamespace]).metadata.annotations?.[
          'deepflow.io/election-reason'
        ],
    );
    const r = status();
    expect(r.code).toBe(2);
    expect(Object.keys(r.json).sort()).toEqual(
      [
        'agents',
        'config',
        'controller',
        'elected',
        'exitCode',
        'namespace',
        'note',
        'published',
        'warnings',
        'webhook',
      ].sort(),
    );
    expect(r.json).toMatchObject({
      exitCode: 2,
      elected: null,
      agents: [],
      config: `configmap ${inst.releaseNamespace}/k8s-watch-policy-config`,
      published: { lease: `${inst.releaseNamespace}/${inst.leaseName}`, holder: null },
    });
    expect(kinds(r.json)).toEqual(['no-watcher']);
    expect(r.json.controller.namespace).toBe(inst.releaseNamespace);
    expect(r.json.controller.leader.startsWith(inst.controllerIdentityPrefix)).toBe(true);
    expect(r.json.webhook.answers).toMatchObject({ ok: true });
    expect(r.json.webhook.configurations).toEqual(
      expect.arrayContaining(
        [
          `MutatingWebhookConfiguration/${inst.webhookConfigurationPrefix}`,
          `ValidatingWebhookConfiguration/${inst.webhookConfigurationPrefix}`,
        ].map((c) => expect.stringMatching(new RegExp(`^${c}`))),
      ),
    );
  });

  test('a watcher Deployment and a DaemonSet: exit 0, the watcher published and computed alike, the text table', async () => {
    apply([
      deployment('watcher', inst.agentsNamespace, [agent()]),
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'node-agent', namespace: inst.agentsNamespace },
        spec: {
          selector: { matchLabels: { app: 'node-agent' } },
          template: {
            metadata: { labels: { app: 'node-agent' } },
            spec: { containers: [agent()], nodeSelector: { type: 'kwok' } },
          },
        },
      },
    ]);
    const r = await eventually(
      'a healthy status',
      () => {
        const s = status();
        return s.code === 0 && s.json.published.holder?.startsWith(`${inst.agentsNamespace}/watcher-`) && s;
      },
      120_000,
    );
    expect(r.json.warnings).toEqual([]);
    expect(r.json.elected.name).toBe(r.json.published.holder.split('/')[1]);
    expect(r.json.agents.find((a: any) => a.name === r.json.elected.name)).toMatchObject({
      policy: 'only-watch',
      eligible: true,
      reason: 'elected',
    });
    const text = plugin(['status', '--lease', `${inst.releaseNamespace}/${inst.leaseName}`]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      new RegExp(
        `^watcher: ${r.json.published.holder} \\(Lease ${inst.releaseNamespace}/${inst.leaseName}, policy only-watch, `,
      ),
    );
    expect(text.stdout).toMatch(/\nNAMESPACE +NAME +NODE +POLICY +ELIGIBLE +REASON\n/);
    expect(text.stdout).toContain('\nno warnings\n');
    expect(text.stdout).not.toContain('\u001b['); // piped: no colours
  });

  test('two watch-only agents: exit 1 with several-watch-only', async () => {
    kubectlOk(['scale', 'deployment', 'watcher', '-n', inst.agentsNamespace, '--replicas', '2']);
    const r = await eventually(
      'the warning',
      () => {
        const s = status();
        return s.code === 1 && kinds(s.json).includes('several-watch-only') && s;
      },
      120_000,
    );
    expect(kinds(r.json)).toEqual(['several-watch-only']);
    kubectlOk(['scale', 'deployment', 'watcher', '-n', inst.agentsNamespace, '--replicas', '1']);
  });

  test('an agent pod with ONLY_WATCH_K8S_RESOURCE, created while the namespace was not opted in: exit 1 with deprecated-env', async () => {
    kubectlOk(['label', 'namespace', inst.agentsNamespace, 'deepflow.io/k8s-watch-policy-injection-']);
    try {
      apply([
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'old-agent', namespace: inst.agentsNamespace },
          spec: {
            containers: [agent([{ name: 'ONLY_WATCH_K8S_RESOURCE', value: 'true' }])],
            nodeSelector: { type: 'kwok' },
          },
        },
      ]);
    } finally {
      kubectlOk([
        'label',
        'namespace',
        inst.agentsNamespace,
        'deepflow.io/k8s-watch-policy-injection=enabled',
        '--overwrite',
      ]);
    }
    const r = await eventually(
      'the warning',
      () => {
        const s = status();
        return kinds(s.json).includes('deprecated-env') && !kinds(s.json).includes('several-watch-only') && s;
      },
      120_000,
    );
    expect(r.code).toBe(1);
    expect(kinds(r.json)).toEqual(['deprecated-env']);
    expect(r.json.agents.find((a: any) => a.name === 'old-agent')).toMatchObject({
      eligible: false,
      reason: 'deprecated-env',
    });
    kubectlOk(['delete', 'pod', 'old-agent', '-n', inst.agentsNamespace, '--wait=false']);
  });

  test('bad flags and no cluster: one line, the usage exit code', () => {
    const r = plugin(['status', '-o', 'xml']);
    expect(r.code).toBe(64);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('kubectl watch-policy audit', () => {
  test('the opted-in namespace: what the webhook admitted has no drift, exit 0', async () => {
    const r = plugin(['audit', '-n', inst.agentsNamespace, '--config', configFile, '-o', 'json']);
    const json = JSON.parse(r.stdout);
    expect(json.rows.filter((x: any) => x.kind === 'Pod' && x.drift.length > 0)).toEqual([]);
    expect(
      json.rows.some(
        (x: any) =>
          x.kind === 'Pod' &&
          x.workload === 'Deployment/watcher' &&
          x.value === 'watch-only' &&
          x.policy === 'only-watch',
      ),
    ).toBe(true);
    expect(json.config).toBe(`file ${configFile}`);
    expect(r.code).toBe(json.rows.some((x: any) => x.drift.length > 0) ? 1 : 0);
  });

  test('a namespace nobody reviewed: every kind of drift, what to do, exit 1', async () => {
    apply([
      // Sidecars without a policy, from a Deployment: the webhook would make them watch-disabled.
      deployment('shop', legacy, [{ name: 'shop', image: inst.image }, agent()]),
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'deprecated', namespace: legacy },
        spec: { containers: [agent([{ name: 'ONLY_WATCH_K8S_RESOURCE', value: '' }])] },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'typo', namespace: legacy },
        spec: { containers: [agent([{ name: 'K8S_WATCH_POLICY', value: 'WATCH-ONLY' }])] },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'twice', namespace: legacy },
        spec: {
          containers: [
            agent([
              { name: 'K8S_WATCH_POLICY', value: 'watch-disabled' },
              { name: 'K8S_WATCH_POLICY', value: 'watch-disabled' },
            ]),
            { name: 'app', image: inst.image },
          ],
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'unexplained', namespace: legacy },
        spec: {
          containers: [
            agent([{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }]),
            { name: 'app', image: inst.image },
          ],
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'explained',
          namespace: legacy,
          annotations: { [REASON]: 'watch-disabled/serverless-sidecar' },
        },
        spec: {
          containers: [
            agent([{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }]),
            { name: 'app', image: inst.image },
          ],
        },
      },
    ]);
    await eventually('the shop pod', () => getJson(['get', 'pods', '-n', legacy, '-l', 'app=shop']).items.length === 1);
    const r = plugin(['audit', '-n', legacy, '--config', configFile, '-o', 'json']);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    const drift = Object.fromEntries(
      json.rows.map((x: any) => [`${x.kind}/${x.name.startsWith('shop-') ? 'shop-*' : x.name}`, x.drift]),
    );
    expect(drift).toEqual({
      'Deployment/shop': [],
      'Pod/deprecated': ['denied', 'reason-missing', 'deprecated-env'],
      'Pod/explained': [],
      'Pod/shop-*': ['policy', 'reason-missing'],
      'Pod/twice': ['reason-missing', 'duplicate-entries'],
      'Pod/typo': ['denied', 'reason-missing', 'invalid-value'],
      'Pod/unexplained': ['reason-missing'],
    });
    expect(json.actions).toEqual(
      expect.arrayContaining([
        `opt namespace ${legacy} in, or its pods are never reviewed: kubectl label namespace ${legacy} deepflow.io/k8s-watch-policy-injection=enabled`,
        `kubectl rollout restart deployment/shop -n ${legacy}`,
        `recreate pod twice (Pod/twice): kubectl delete pod twice -n ${legacy}, then create it again`,
        `fix the pod template of Pod/deprecated in ${legacy} (denied, deprecated-env): kubectl edit pod/deprecated -n ${legacy}`,
      ]),
    );
    const text = plugin(['audit', '-n', legacy, '--config', configFile]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/\nNAMESPACE +KIND +NAME +K8S_WATCH_POLICY +POLICY +WOULD BE +RULE +DRIFT\n/);
    expect(text.stdout).toContain(`  kubectl rollout restart deployment/shop -n ${legacy}\n`);
    expect(text.stderr).not.toContain('{'); // progress only, never the report
  });
});
