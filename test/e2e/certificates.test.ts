/**
 * Self-managed certificates end to end: the webhook (built CLI, `--tls-secret`) creates its CA
 * and serving certificate in a Secret on first start, injects the CA into its webhook
 * configurations, renews and rotates them (short validities here) while reviews keep flowing,
 * and repairs a caBundle that someone resets.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:https';
import { webhookConfigurations } from '../../src/webhook/webhook_configuration.ts';
import { KUBECONFIG } from '../cluster/paths.ts';
import {
  apply,
  CLI,
  eventually,
  freePort,
  getJson,
  kubectl,
  kubectlAsync,
  kubectlOk,
  sleep,
} from '../support/cluster_harness.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const NS = `kwp-certs-${RUN}`;
const SECRET = 'kwp-webhook-tls';
const NAME = `kwp-certs-${RUN}`;
const SELECTOR = `e2e.deepflow.io/certificates=${RUN}`;
let webhook: ChildProcess;
let output = '';
let port = 0;

const secretData = (): Record<string, string> | undefined => {
  const r = kubectl(['get', 'secret', SECRET, '-n', NS, '-o', 'json']);
  return r.status === 0 ? JSON.parse(r.stdout).data : undefined;
};
const pem = (b64: string | undefined) => (b64 ? Buffer.from(b64, 'base64').toString() : '');
const caBundles = (): string[] =>
  ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration'].flatMap((kind) =>
    getJson(['get', kind, NAME]).webhooks.map((w: any) => w.clientConfig.caBundle ?? ''),
  );

/** GET /readyz of the webhook: its status code, or 0 while it does not listen yet. */
const readyz = (at = port) =>
  new Promise<number>((resolve) => {
    get({ host: '127.0.0.1', port: at, path: '/readyz', rejectUnauthorized: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', () => resolve(0));
  });

const pod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NS },
  spec: {
    containers: [
      { name: 'app', image: 'nginx:1.27' },
      { name: 'deepflow-agent', image: 'deepflow/deepflow-agent:v6.6' },
    ],
  },
});

beforeAll(async () => {
  apply([
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NS, labels: { 'deepflow.io/k8s-watch-policy-injection': 'enabled' } },
    },
  ]);
  await eventually('the default ServiceAccount', () => kubectl(['get', 'sa', 'default', '-n', NS]).status === 0);
  port = await freePort();
  const metricsPort = await freePort();
  const { mutating, validating } = webhookConfigurations({
    name: NAME,
    clientConfig: (path) => ({ url: `https://127.0.0.1:${port}${path}` }), // no caBundle: the webhook injects it
    excludeNamespaces: [],
    failurePolicy: 'Fail',
    timeoutSeconds: 10,
    labels: { 'e2e.deepflow.io/certificates': RUN },
  });
  // Only this test's namespace, so that other suites are not affected.
  for (const config of [mutating, validating] as any[]) {
    for (const w of config.webhooks) w.namespaceSelector = { matchLabels: { 'kubernetes.io/metadata.name': NS } };
    config.webhooks = config.webhooks.slice(0, 1);
  }
  apply([mutating, validating]);
  // prettier-ignore
  const args = [CLI, 'webhook', '--kubeconfig', KUBECONFIG, '--no-node-cache', '--drain-delay', '0', '--host', '127.0.0.1', '--port', String(port), '--metrics-port', String(metricsPort),
    '--tls-secret', SECRET, '--tls-namespace', NS, '--tls-dns', 'localhost,127.0.0.1', '--webhook-selector', SELECTOR, '--identity', `e2e-${RUN}`,
    '--ca-validity', '90s', '--serving-validity', '30s', '--cert-check-interval', '1s'];
  webhook = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  webhook.stdout!.on('data', (c: Buffer) => (output += c));
  webhook.stderr!.on('data', (c: Buffer) => (output += c));
});

afterAll(async () => {
  kubectl(['delete', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', NAME, '--ignore-not-found']);
  if (webhook.exitCode === null) {
    const exited = new Promise((r) => webhook.once('exit', r));
    webhook.kill('SIGTERM');
    await exited;
  }
  kubectl(['delete', 'namespace', NS, '--wait=false']);
});

test('first start with no Secret: the Secret is created, the CA injected, and pods are reviewed', async () => {
  const data = await eventually('the Secret', () => secretData(), 30_000);
  expect(Object.keys(data).sort()).toEqual(['ca-bundle.crt', 'ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
  const ca = new X509Certificate(pem(data['ca.crt']));
  const serving = new X509Certificate(pem(data['tls.crt']));
  expect(serving.checkIssued(ca)).toBe(true);
  expect(serving.checkIP('127.0.0.1')).toBe('127.0.0.1');
  // Ready means admission works: the first 200 of /readyz comes only once the caBundle trusts the
  // served certificate, so a create at that moment is reviewed (no refusal window after install).
  await eventually('/readyz 200', async () => {
    return (await readyz()) === 200;
  });
  expect(caBundles().every((b) => b === data['ca-bundle.crt'])).toBe(true);
  const r = await kubectlAsync(['create', '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(pod('first')));
  expect(r.stderr).toBe('');
  const created = JSON.parse(r.stdout);
  expect(created.spec.containers[1].env).toEqual([{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }]);
}, 90_000);

test('serving renewal and a full CA rotation happen while reviews keep flowing, with zero failed reviews', async () => {
  const first = secretData()!;
  const seen = { servingRenewals: 0, caSwitches: 0, bundleOfTwo: false };
  let lastCert = first['tls.crt'];
  let lastCa = first['ca.crt'];
  let reviews = 0;
  const failures: string[] = [];
  const deadline = Date.now() + 110_000;
  while (Date.now() < deadline && !(seen.caSwitches >= 1 && seen.servingRenewals >= 2 && seen.bundleOfTwo)) {
    const r = await kubectlAsync(
      ['create', '--dry-run=server', '-o', 'json', '-f', '-'],
      JSON.stringify(pod(`flow-${reviews}`)),
    );
    reviews++;
    if (r.status !== 0 || !JSON.parse(r.stdout).spec.containers[1].env) failures.push(r.stderr.trim() || 'not mutated');
    const data = secretData();
    if (!data) continue;
    if (data['tls.crt'] !== lastCert) {
      seen.servingRenewals++;
      lastCert = data['tls.crt'];
    }
    if (data['ca.crt'] !== lastCa) {
      seen.caSwitches++;
      lastCa = data['ca.crt'];
    }
    if (pem(data['ca-bundle.crt']).split('BEGIN CERTIFICATE').length - 1 === 2) seen.bundleOfTwo = true;
    await sleep(100);
  }
  expect(seen).toEqual({ servingRenewals: expect.any(Number), caSwitches: expect.any(Number), bundleOfTwo: true });
  expect(seen.caSwitches).toBeGreaterThanOrEqual(1);
  expect(seen.servingRenewals).toBeGreaterThanOrEqual(2);
  expect(failures).toEqual([]);
  expect(reviews).toBeGreaterThan(50);
}, 150_000);

test('a caBundle reset by someone else is repaired within seconds', async () => {
  kubectlOk([
    'patch',
    'mutatingwebhookconfiguration',
    NAME,
    '--type=json',
    '-p',
    JSON.stringify([
      { op: 'replace', path: '/webhooks/0/clientConfig/caBundle', value: Buffer.from('garbage').toString('base64') },
    ]),
  ]);
  const bundle = secretData()!['ca-bundle.crt'];
  await eventually(
    'the caBundle repaired',
    () => caBundles().every((b) => b === secretData()!['ca-bundle.crt']) && bundle,
    15_000,
  );
  expect(output).toContain('caBundle updated');
});

test('a replica is not ready while a caBundle it is gated on does not trust what it serves', async () => {
  // A second replica (a follower: the first holds the certificate Lease, so it injects nothing),
  // gated on a configuration of its own whose caBundle is another CA's.
  const gated = `${NAME}-gate`;
  const { generateCa } = await import('../../src/certs/generate.ts');
  const other = await generateCa(86_400_000);
  const { validating } = webhookConfigurations({
    name: gated,
    clientConfig: (path) => ({
      url: `https://127.0.0.1:1${path}`,
      caBundle: Buffer.from(other.cert).toString('base64'),
    }),
    excludeNamespaces: [],
    failurePolicy: 'Ignore',
    timeoutSeconds: 1,
    labels: { 'e2e.deepflow.io/certificates-gate': RUN },
  });
  const config = validating as any;
  config.webhooks = config.webhooks.slice(0, 1);
  config.webhooks[0].namespaceSelector = { matchLabels: { 'e2e.deepflow.io/none': RUN } }; // reviews nothing
  apply([config]);
  const port2 = await freePort();
  // prettier-ignore
  const args = [CLI, 'webhook', '--kubeconfig', KUBECONFIG, '--no-node-cache', '--drain-delay', '0', '--host', '127.0.0.1', '--port', String(port2), '--metrics-port', String(await freePort()),
    '--tls-secret', SECRET, '--tls-namespace', NS, '--tls-dns', 'localhost,127.0.0.1', '--webhook-selector', `e2e.deepflow.io/certificates-gate=${RUN}`, '--identity', `e2e-${RUN}-2`];
  const replica = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  replica.stdout.on('data', (c: Buffer) => (log += c));
  replica.stderr.on('data', (c: Buffer) => (log += c));
  try {
    await eventually('the replica finds the caBundle untrusting', () =>
      log.includes('does not trust the served certificate yet'),
    );
    expect(await readyz(port2)).toBe(503);
    kubectlOk([
      'patch',
      'validatingwebhookconfiguration',
      gated,
      '--type=json',
      '-p',
      JSON.stringify([
        { op: 'replace', path: '/webhooks/0/clientConfig/caBundle', value: secretData()!['ca-bundle.crt'] },
      ]),
    ]);
    await eventually('/readyz 200 once the caBundle trusts it', async () => (await readyz(port2)) === 200, 15_000);
    await eventually('the log says why it turned ready', () =>
      log.includes('the webhook configurations trust the served certificate: ready'),
    );
  } finally {
    const exited = new Promise((r) => replica.once('exit', r));
    replica.kill('SIGTERM');
    await exited;
    kubectl(['delete', 'validatingwebhookconfiguration', gated, '--ignore-not-found']);
  }
}, 60_000);
