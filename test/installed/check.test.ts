/**
 * `kubectl watch-policy check` against the installation (the local processes under `npm test`,
 * the chart's pods on the real node under `e2e:node`): a healthy one passes every check with exit
 * 0; a webhook configuration whose caBundle is blank and a config that names no running agent are
 * each found, named with their fix, and end in exit 2. The cases that need the chart's Service
 * and Deployments (replicas, endpoints, port, controller) are in test/node/lifecycle.test.ts.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { WEBHOOK_DOMAIN } from '../../src/webhook/webhook_configuration.ts';
import { apply, eventually, getJson, kubectl } from '../support/cluster_harness.ts';
import { agentContainer } from '../support/objects.ts';
import { installation, shipConfig, type Installation } from './installation.ts';
import { plugin, pluginDir } from './plugin.ts';

let inst: Installation;
let dir: string;

beforeAll(async () => {
  inst = await installation();
  dir = pluginDir('kwp-check-');
  const config = { election: { namespaces: [inst.agentsNamespace], leaseName: inst.leaseName } };
  shipConfig(inst, config);
  // A watcher Deployment: the controller elects its pod, so that the election is healthy.
  apply([
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'watcher', namespace: inst.agentsNamespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'watcher' } },
        template: {
          metadata: { labels: { app: 'watcher' } },
          spec: { containers: [agentContainer(inst.image)], terminationGracePeriodSeconds: 1 },
        },
      },
    },
  ]);
}, 120_000);

afterAll(async () => {
  await inst?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Finding {
  name: string;
  status: string;
  seen: string;
  fix?: string;
}

function check(extra: string[] = []): { code: number; findings: Finding[]; stderr: string } {
  const args = ['check', '-n', inst.agentsNamespace, '--lease', `${inst.releaseNamespace}/${inst.leaseName}`];
  const r = plugin(dir, [...args, '-o', 'json', ...extra]);
  return { code: r.code, findings: r.stdout ? JSON.parse(r.stdout).findings : [], stderr: r.stderr };
}
const notOk = (findings: Finding[]) => findings.filter((f) => f.status === 'warning' || f.status === 'failure');

test('a healthy installation: every check passes, exit 0, and the text ends so', async () => {
  let last: Finding[] = [];
  const r = await eventually(
    'a healthy check (the watcher elected)',
    () => {
      const c = check();
      last = c.findings;
      return c.code === 0 && c;
    },
    { timeoutMs: 120_000, explain: () => notOk(last) },
  );
  expect(notOk(r.findings)).toEqual([]);
  const names = r.findings.map((f) => f.name);
  for (const name of ['kubernetes-version', 'config', 'webhook-configurations', 'ca-bundle', 'admission'])
    expect(names).toContain(name);
  expect(r.findings.find((f) => f.name === 'ca-bundle')!.status).toBe('ok'); // the served certificate was seen
  expect(r.findings.find((f) => f.name === 'deprecated-env')).toMatchObject({ status: 'ok' });
  const text = plugin(dir, [
    'check',
    '-n',
    inst.agentsNamespace,
    '--lease',
    `${inst.releaseNamespace}/${inst.leaseName}`,
  ]);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^ok {4}kubernetes-version: Kubernetes v1\.\d+/);
  expect(text.stdout.endsWith('\nall checks passed\n')).toBe(true);
}, 180_000);

test('a webhook whose caBundle is blank: the ca-bundle and admission failures, exit 2', () => {
  // A copy of the installation's first mutating webhook, for the agents namespace only, with no
  // caBundle (and no labels: the self-managed certificates do not repair what they do not own).
  const original = getJson(['get', 'mutatingwebhookconfiguration', inst.webhookConfigurationPrefix]);
  const name = `${inst.webhookConfigurationPrefix}-blank`;
  const { caBundle: _, ...clientConfig } = original.webhooks[0].clientConfig;
  const { objectSelector: _o, ...webhook } = original.webhooks[0];
  apply([
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name },
      webhooks: [
        {
          ...webhook,
          name: `blank.${WEBHOOK_DOMAIN}`,
          clientConfig,
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': inst.agentsNamespace } },
        },
      ],
    },
  ]);
  try {
    const r = check();
    expect(r.code).toBe(2);
    const failed = notOk(r.findings);
    expect(failed.find((f) => f.name === 'ca-bundle')).toMatchObject({
      status: 'failure',
      seen: expect.stringContaining(`MutatingWebhookConfiguration/${name}: blank.${WEBHOOK_DOMAIN} does not trust`),
    });
    expect(failed.find((f) => f.name === 'admission')).toMatchObject({
      status: 'failure',
      seen: expect.stringMatching(/x509|certificate/),
      fix: expect.stringContaining('ca-bundle'),
    });
  } finally {
    kubectl(['delete', 'mutatingwebhookconfiguration', name, '--ignore-not-found']);
  }
}, 120_000);

test('a config that names no running agent: the agent-containers finding with its fix, exit 2', () => {
  const file = join(dir, 'typo.yaml');
  writeFileSync(
    file,
    stringify({
      agent: { containerNames: ['deepflow-agnet'], imageNames: ['deepflow-agnet'] },
      election: { namespaces: [inst.agentsNamespace], leaseName: inst.leaseName },
    }),
  );
  const r = check(['--config', file]);
  expect(r.code).toBe(2); // and no watcher: no agent is a candidate under that config
  expect(r.findings.find((f) => f.name === 'agent-containers')).toMatchObject({
    status: 'warning',
    seen: expect.stringContaining('"deepflow-agnet"'),
    fix: expect.stringContaining('agent.containerNames'),
  });
}, 120_000);
