/**
 * `kubectl watch-policy check` on the local control plane with a webhook whose serving
 * certificate has one day left: the served certificate is read by a TLS handshake with the
 * webhook's URL, and the serving-certificate failure ends in exit 2 while admission still works.
 * (test/installed/check.test.ts and test/node/lifecycle.test.ts break the other parts.)
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { readFileSync, rmSync } from 'node:fs';
import { webhookConfigurations } from '../../src/webhook/webhook_configuration.ts';
import { apply, eventually, kubectl, WebhookProcess } from '../support/cluster_harness.ts';
import { plugin, pluginDir } from '../installed/plugin.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `kwp-check-${RUN}`;
const NAME = `kwp-check-${RUN}`;
const webhook = new WebhookProcess();
const dir = pluginDir('kwp-check-e2e-');

beforeAll(async () => {
  apply([
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NS, labels: { 'deepflow.io/k8s-watch-policy-injection': 'enabled' } },
    },
  ]);
  const caBundle = Buffer.from(readFileSync(await webhook.makeCertificates(1), 'utf8')).toString('base64');
  await webhook.start(['--no-node-cache']);
  const { mutating, validating } = webhookConfigurations({
    name: NAME,
    clientConfig: (path) => ({ url: `${webhook.url}${path}`, caBundle }),
    excludeNamespaces: [],
    failurePolicy: 'Fail',
    timeoutSeconds: 10,
  });
  for (const config of [mutating, validating] as any[])
    for (const w of config.webhooks) w.namespaceSelector = { matchLabels: { 'kubernetes.io/metadata.name': NS } };
  apply([mutating, validating]);
  await eventually('the default ServiceAccount', () => kubectl(['get', 'sa', 'default', '-n', NS]).status === 0);
}, 60_000);

afterAll(async () => {
  kubectl(['delete', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', NAME, '--ignore-not-found']);
  await webhook.stop();
  webhook.cleanup();
  kubectl(['delete', 'namespace', NS, '--wait=false']);
  rmSync(dir, { recursive: true, force: true });
});

test('a serving certificate with one day left: the serving-certificate failure with its fix, exit 2', () => {
  const r = plugin(dir, ['check', '-n', NS, '-o', 'json']);
  const findings: { name: string; status: string; seen: string; fix?: string }[] = JSON.parse(r.stdout).findings;
  const byName = (name: string) => findings.filter((f) => f.name === name);
  expect(r.code).toBe(2);
  expect(byName('serving-certificate')).toEqual([
    expect.objectContaining({
      status: 'failure',
      seen: expect.stringMatching(/\(0 days left\)$/),
      fix: expect.any(String),
    }),
  ]);
  // The rest of the path is sound: the caBundle trusts it (seen at the URL) and admission works.
  expect(byName('ca-bundle')).toEqual([
    expect.objectContaining({ status: 'ok', seen: expect.stringContaining(`(127.0.0.1:${webhook.port})`) }),
  ]);
  expect(byName('admission')).toEqual([
    expect.objectContaining({ status: 'ok', seen: expect.stringContaining('gets K8S_WATCH_POLICY=watch-disabled') }),
  ]);
  expect(byName('deprecated-env')).toEqual([expect.objectContaining({ status: 'ok' })]);
});
