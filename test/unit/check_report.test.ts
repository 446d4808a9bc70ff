/**
 * `check` (pure): a healthy installation gives only ok findings and exit 0; each broken case of
 * the issue gives its named finding, a fix, and the exit code (1 warning, 2 failure). The text
 * of the healthy report is a golden in test/fixtures/check/ (UPDATE_GOLDEN=1 rewrites it).
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { generateCa, issueServingCertificate, type CertificateAuthority } from '../../src/certs/generate.ts';
import { checkReport, type CheckInput } from '../../src/report/check_report.ts';
import { checkText } from '../../src/report/render.ts';
import { TESTED_KUBERNETES } from '../../src/report/tested_kubernetes.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-06T10:00:00Z');
const b64 = (pem: string) => Buffer.from(pem).toString('base64');
const SVC = { namespace: 'deepflow-system', name: 'k8s-watch-policy-webhook', port: 443 };
const DNS = 'k8s-watch-policy-webhook.deepflow-system.svc';
let ca: CertificateAuthority;
let served: string;

beforeAll(async () => {
  ca = await generateCa(3650 * DAY, new Date(NOW));
  served = (await issueServingCertificate(ca, [DNS], 90 * DAY, new Date(NOW))).cert;
});

function healthy(): CheckInput {
  const webhook = (configuration: string, name: string) => ({
    configuration,
    name,
    failurePolicy: 'Fail',
    caBundle: b64(ca.cert),
    service: SVC,
  });
  return {
    now: NOW,
    serverVersion: 'v1.36.3',
    tested: TESTED_KUBERNETES,
    config: { source: 'configmap deepflow-system/k8s-watch-policy-config', deprecatedEnv: 'reject' },
    release: { name: 'k8s-watch-policy', namespace: 'deepflow-system' },
    kinds: { mutating: 1, validating: 1 },
    webhooks: [
      webhook('MutatingWebhookConfiguration/k8s-watch-policy', 'namespace.pods.k8s-watch-policy.deepflow.io'),
      webhook('ValidatingWebhookConfiguration/k8s-watch-policy', 'namespace.validate.k8s-watch-policy.deepflow.io'),
    ],
    service: { ports: [443], readyEndpoints: 2 },
    served: { cert: served, from: 'endpoint 10.244.0.7:9443' },
    admission: {
      namespace: 'agents',
      pod: { policy: 'watch-disabled', reason: 'watch-disabled/label', deprecatedLeft: false },
    },
    deprecated: {
      namespace: 'agents',
      error:
        'admission webhook "namespace.validate.k8s-watch-policy.deepflow.io" denied the request: container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported',
    },
    statusWarnings: [],
    agents: { running: 12, recognized: 3, containerNames: ['deepflow-agent'], imageNames: ['deepflow-agent'] },
  };
}

const finding = (input: CheckInput, name: string) => checkReport(input).findings.filter((f) => f.name === name);

test('a healthy installation: every finding ok, exit 0, and the text as the golden', () => {
  const report = checkReport(healthy());
  expect(report.findings.filter((f) => f.status !== 'ok')).toEqual([]);
  expect(report.exitCode).toBe(0);
  expect(report.findings.map((f) => f.name)).toEqual([
    'kubernetes-version',
    'config',
    'webhook-configurations',
    'webhook-service',
    'webhook-replicas',
    'ca-bundle',
    'serving-certificate',
    'serving-names',
    'ca-certificate',
    'admission',
    'deprecated-env',
    'controller',
    'agent-containers',
  ]);
  const text = checkText(report, false)
    .replace(/expires .*? \(/g, 'expires <date> (')
    .replace(/ca@[0-9a-f-]+/, 'ca@<unique>');
  const file = new URL('../fixtures/check/healthy.txt', import.meta.url);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
  expect(text).toBe(readFileSync(file, 'utf8'));
});

describe('each broken case: its finding, a fix, and the exit code', () => {
  const cases: [string, (i: CheckInput) => void, string, 'warning' | 'failure', RegExp][] = [
    ['blank caBundle', (i) => i.webhooks.forEach((w) => (w.caBundle = '')), 'ca-bundle', 'failure', /does not trust/],
    ['webhook scaled to 0', (i) => (i.service!.readyEndpoints = 0), 'webhook-service', 'failure', /no ready endpoint/],
    ['one replica', (i) => (i.service!.readyEndpoints = 1), 'webhook-replicas', 'warning', /one node drain away/],
    ['a certificate with 1 day left', (i) => (i.now = NOW + 89 * DAY), 'serving-certificate', 'failure', /1 day left/],
    [
      'a certificate with 20 days left',
      (i) => (i.now = NOW + 70 * DAY),
      'serving-certificate',
      'warning',
      /20 days left/,
    ],
    [
      'a wrong Service port',
      (i) => (i.service!.ports = [8443]),
      'webhook-service',
      'failure',
      /on port 443; it serves 8443/,
    ],
    [
      'no opted-in namespace',
      (i) => {
        delete i.admission;
        delete i.deprecated;
        i.noOptedInNamespace = true;
      },
      'admission',
      'failure',
      /no namespace is opted in/,
    ],
    [
      'controller stopped',
      (i) => (i.statusWarnings = [{ kind: 'no-controller', message: 'no controller replica leads' }]),
      'controller',
      'failure',
      /no controller replica leads/,
    ],
    [
      'a config naming no running agent',
      (i) => (i.agents = { ...i.agents, recognized: 0, containerNames: ['deepflow-agnet'] }),
      'agent-containers',
      'warning',
      /deepflow-agnet.*ignores every agent/,
    ],
    [
      'no ready endpoint and a timeout: the fix starts the webhook, not the network',
      (i) => {
        i.service!.readyEndpoints = 0;
        i.admission = { namespace: 'agents', error: 'failed calling webhook: context deadline exceeded' };
      },
      'admission',
      'failure',
      /deadline exceeded/,
    ],
    [
      'the webhook cannot be reached (a managed control plane)',
      (i) =>
        (i.admission = {
          namespace: 'agents',
          error: 'Internal error occurred: failed calling webhook: context deadline exceeded',
        }),
      'admission',
      'failure',
      /context deadline exceeded/,
    ],
    [
      'ONLY_WATCH_K8S_RESOURCE admitted',
      (i) => (i.deprecated = { namespace: 'agents', pod: { deprecatedLeft: true } }),
      'deprecated-env',
      'failure',
      /was admitted/,
    ],
    [
      'a pod admitted without its policy',
      (i) => (i.admission = { namespace: 'agents', pod: { deprecatedLeft: false } }),
      'admission',
      'failure',
      /without K8S_WATCH_POLICY/,
    ],
    [
      'no configuration',
      (i) => (i.kinds = { mutating: 0, validating: 0 }),
      'webhook-configurations',
      'failure',
      /no webhook configuration/,
    ],
    ['the Service missing', (i) => delete i.service, 'webhook-service', 'failure', /does not exist/],
    [
      'a certificate not naming the Service',
      (i) => i.webhooks.forEach((w) => (w.service = { ...SVC, name: 'other' })),
      'serving-names',
      'failure',
      /does not name other\.deepflow-system\.svc/,
    ],
    [
      'a Kubernetes outside the tested range',
      (i) => (i.serverVersion = 'v1.29.4'),
      'kubernetes-version',
      'warning',
      /outside/,
    ],
    [
      'a config that does not parse',
      (i) => (i.config.error = 'election.leaseName: must be a string'),
      'config',
      'failure',
      /leaseName/,
    ],
  ];
  test.each(cases)('%s', (_what, breakIt, name, status, seen) => {
    const input = healthy();
    breakIt(input);
    const found = finding(input, name).filter((f) => f.status !== 'ok');
    expect(found).toHaveLength(1);
    expect(found[0]!.status).toBe(status);
    expect(found[0]!.seen).toMatch(seen);
    expect(found[0]!.fix).toBeTruthy();
    expect(checkReport(input).exitCode).toBe(status === 'failure' ? 2 : 1);
  });
});

test('a timeout with ready endpoints points at the network (hostNetwork, the GKE firewall); without, at the pods', () => {
  const input = healthy();
  input.admission = { namespace: 'agents', error: 'failed calling webhook: context deadline exceeded' };
  expect(finding(input, 'admission')[0]!.fix).toContain('webhook.hostNetwork=true');
  input.service!.readyEndpoints = 0;
  expect(finding(input, 'admission')[0]!.fix).toMatch(/^start the webhook: kubectl -n deepflow-system get pods/);
});

test('the fixes name the release and its namespace', () => {
  const input = healthy();
  input.service!.readyEndpoints = 1;
  expect(finding(input, 'webhook-replicas')[0]!.fix).toBe(
    'helm upgrade k8s-watch-policy <chart> -n deepflow-system --reuse-values --set webhook.replicas=2',
  );
});

test('a served certificate that cannot be seen is skipped, not a failure (the dry run still tries the path)', () => {
  const input = healthy();
  input.served = { from: 'endpoint 10.244.0.7:9443: connect ETIMEDOUT' };
  const report = checkReport(input);
  expect(finding(input, 'ca-bundle')).toEqual([
    {
      name: 'ca-bundle',
      status: 'skipped',
      seen: 'cannot see the served certificate: endpoint 10.244.0.7:9443: connect ETIMEDOUT',
    },
  ]);
  expect(report.exitCode).toBe(0);
});
