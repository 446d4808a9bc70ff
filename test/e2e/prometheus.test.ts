/**
 * The chart's alerts and dashboard on a real Prometheus (Debian's `prometheus` package): it
 * scrapes the running webhook and controller (the metric endpoints the ServiceMonitor names, with
 * the job and namespace labels the ServiceMonitor gives them) with the chart's rendered
 * PrometheusRule loaded (short `for` durations, 1 s scrapes and evaluations). Each scenario is
 * driven on the local control plane and its alert must fire in Prometheus's API, then resolve
 * after the fix; every dashboard panel's query must return a series.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { KUBECONFIG } from '../cluster/paths.ts';
import { apply, eventually, freePort, kubectl, terminate, WebhookProcess } from '../support/cluster_harness.ts';
import { ofKind, template } from '../support/helm.ts';
import { agentContainer, FAKE_AGENT_IMAGE, policyEnv } from '../support/objects.ts';
import { ControllerProcess } from '../support/processes.ts';
import { promtool } from '../support/promtool.ts';
import { fixture, send } from '../support/webhook_server.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN = Math.random().toString(36).slice(2, 7);
const SYSTEM = `kwp-prom-${RUN}`;
const AGENTS = `kwp-prom-agents-${RUN}`;
const FULLNAME = 'kwp-k8s-watch-policy';
const dir = mkdtempSync(join(tmpdir(), 'kwp-prometheus-'));

const webhook = new WebhookProcess();
let controller: ControllerProcess;
let prometheus: ChildProcess | undefined;
let prometheusUrl = '';
let prometheusOutput = '';
let ca = '';

async function api(path: string): Promise<any> {
  const r = await fetch(`${prometheusUrl}${path}`);
  const body = (await r.json()) as { status: string; data: any };
  if (body.status !== 'success') throw new Error(`${path}: ${JSON.stringify(body)}`);
  return body.data;
}

/** The names of the alerts firing now. */
async function firing(): Promise<string[]> {
  const data = await api('/api/v1/alerts');
  return data.alerts.filter((a: any) => a.state === 'firing').map((a: any) => a.labels.alertname as string);
}

const fires = (alert: string) =>
  eventually(`${alert} firing in Prometheus`, async () => (await firing()).includes(alert) || undefined, 60_000);
const resolves = (alert: string) =>
  eventually(`${alert} resolved in Prometheus`, async () => !(await firing()).includes(alert) || undefined, 60_000);

const deployment = (name: string, policy?: string, extraEnv: unknown[] = []) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: AGENTS },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        nodeSelector: { type: 'kwok' },
        containers: [agentContainer(FAKE_AGENT_IMAGE, [...policyEnv(policy), ...extraEnv])],
      },
    },
  },
});

function startController(): Promise<void> {
  controller = new ControllerProcess(
    [
      ...['--kubeconfig', KUBECONFIG, '--config', join(dir, 'config.yaml'), '--namespace', SYSTEM],
      ...['--identity', 'controller-0', '--lease-duration', '4s', '--renew-deadline', '3s', '--retry-period', '500ms'],
      ...['--multiple-watch-only-grace', '2s', '--drain-delay', '0'],
    ],
    'the controller',
  );
  return controller.start();
}

async function startPrometheus(): Promise<void> {
  const [rule] = ofKind(
    template({
      namespace: SYSTEM,
      values: {
        prometheusRule: {
          enabled: true,
          ...Object.fromEntries(
            [
              'noWatcherFor',
              'multipleWatchOnlyFor',
              'deprecatedEnvFor',
              'noLeaderFor',
              'targetDownFor',
              'errorRatioFor',
            ].map((k) => [k, '3s']),
          ),
        },
      },
    }),
    'PrometheusRule',
  );
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: rule.spec.groups }));
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  const target = (job: string, metricsPort: number) => ({
    job_name: job,
    static_configs: [{ targets: [`127.0.0.1:${metricsPort}`], labels: { namespace: SYSTEM } }],
  });
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
      rule_files: [join(dir, 'rules.yaml')],
      scrape_configs: [
        target(`${FULLNAME}-webhook-metrics`, webhook.metricsPort),
        target(`${FULLNAME}-controller`, controller.port),
      ],
    }),
  );
  // The server of the same package as promtool (installed with it).
  const binary = promtool().replace(/promtool$/, 'prometheus');
  prometheus = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stdout!.on('data', (c: Buffer) => (prometheusOutput += c));
  prometheus.stderr!.on('data', (c: Buffer) => (prometheusOutput += c));
  await eventually(
    'Prometheus scraping both targets',
    async () => {
      if (prometheus?.exitCode !== null) throw new Error(`prometheus exited: ${prometheusOutput}`);
      const data = await api('/api/v1/targets').catch(() => undefined);
      return data?.activeTargets?.length === 2 && data.activeTargets.every((t: any) => t.health === 'up')
        ? true
        : undefined;
    },
    60_000,
  );
}

beforeAll(async () => {
  writeFileSync(join(dir, 'config.yaml'), `election:\n  namespaces: [${AGENTS}]\n`);
  apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SYSTEM } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: AGENTS } },
  ]);
  await eventually('service accounts', () => kubectl(['get', 'sa', 'default', '-n', AGENTS]).status === 0 || undefined);
  // A serving certificate of 10 days: inside the 14-day warning from the start.
  const caFile = await webhook.makeCertificates(10);
  ca = readFileSync(caFile, 'utf8');
  await webhook.start();
  await startController();
  await startPrometheus();
}, 120_000);

afterAll(async () => {
  await terminate(prometheus);
  await controller?.stop();
  await webhook.stop();
  kubectl(['delete', 'namespace', SYSTEM, AGENTS, '--wait=false']);
  rmSync(dir, { recursive: true, force: true });
});

describe('alerts on a real Prometheus', () => {
  test('no candidate: K8sWatchPolicyNoWatcher fires; an agent Deployment resolves it', async () => {
    await fires('K8sWatchPolicyNoWatcher');
    apply([deployment('agent-a')]);
    await resolves('K8sWatchPolicyNoWatcher');
  });

  test('two watch-only agents past the grace: K8sWatchPolicyMultipleWatchOnlyAgents fires; one left resolves it', async () => {
    apply([deployment('watcher-1', 'watch-only'), deployment('watcher-2', 'watch-only')]);
    await fires('K8sWatchPolicyMultipleWatchOnlyAgents');
    kubectl(['delete', 'deployment', 'watcher-2', '-n', AGENTS, '--wait=true']);
    await resolves('K8sWatchPolicyMultipleWatchOnlyAgents');
  });

  test('a pod with ONLY_WATCH_K8S_RESOURCE (admitted under deprecatedEnv: warn): K8sWatchPolicyDeprecatedEnvPods fires; removing it resolves it', async () => {
    apply([deployment('legacy', undefined, [{ name: 'ONLY_WATCH_K8S_RESOURCE', value: 'true' }])]);
    await fires('K8sWatchPolicyDeprecatedEnvPods');
    kubectl(['delete', 'deployment', 'legacy', '-n', AGENTS, '--wait=true']);
    await resolves('K8sWatchPolicyDeprecatedEnvPods');
  });

  test('the controller stopped: K8sWatchPolicyNoControllerLeader and K8sWatchPolicyControllerDown fire; restarting it resolves both', async () => {
    await controller.stop();
    await fires('K8sWatchPolicyNoControllerLeader');
    await fires('K8sWatchPolicyControllerDown');
    await controller.start();
    await resolves('K8sWatchPolicyNoControllerLeader');
    await resolves('K8sWatchPolicyControllerDown');
  });

  test('every webhook replica stopped: K8sWatchPolicyWebhookDown fires; starting it again resolves it', async () => {
    await webhook.stop();
    await fires('K8sWatchPolicyWebhookDown');
    await webhook.start();
    await resolves('K8sWatchPolicyWebhookDown');
  });

  test('a serving certificate 10 days from expiry: K8sWatchPolicyCertificateExpiring fires (not critical); a renewed one resolves it', async () => {
    await fires('K8sWatchPolicyCertificateExpiring');
    expect(await firing()).not.toContain('K8sWatchPolicyCertificateExpiringCritical');
    const alert = (await api('/api/v1/alerts')).alerts.find(
      (a: any) => a.labels.alertname === 'K8sWatchPolicyCertificateExpiring',
    );
    expect(alert.labels).toMatchObject({ severity: 'warning', certificate: 'serving' });
    expect(alert.annotations.runbook_url).toContain('docs/runbooks.md#k8swatchpolicycertificateexpiring');
    ca = readFileSync(await webhook.makeCertificates(365), 'utf8'); // served within the reloader's poll
    await resolves('K8sWatchPolicyCertificateExpiring');
  });
});

/** Posts reviews to /mutate; the status of each. */
async function post(reviews: unknown[]): Promise<number[]> {
  const statuses: number[] = [];
  for (const r of reviews)
    statuses.push((await send(webhook.url, { path: '/mutate', body: JSON.stringify(r), ca })).status);
  return statuses;
}

/** Waits for two scrapes of the webhook: the counters as they are now are in (a new series' first sample is no increase). */
async function scraped(): Promise<void> {
  const last = async (): Promise<string> =>
    (await api('/api/v1/targets')).activeTargets.find((t: any) => t.labels.job.endsWith('webhook-metrics')).lastScrape;
  let seen = await last();
  for (let i = 0; i < 2; i++) {
    const previous = seen;
    seen = await eventually('a scrape of the webhook', async () => {
      const now = await last();
      return now !== previous ? now : undefined;
    });
  }
}

describe('admission alerts on a real Prometheus', () => {
  test('malformed reviews answered with errors: K8sWatchPolicyAdmissionErrors fires; enough good answers dilute the ratio and it resolves', async () => {
    const good = await fixture('daemonset-pod-create.json');
    const bad = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }; // no request: a 400, counted as an error
    expect(await post([good, bad])).toEqual([200, 400]);
    await scraped();
    expect(await post([bad, bad, bad])).toEqual([400, 400, 400]);
    await fires('K8sWatchPolicyAdmissionErrors');
    expect(new Set(await post(Array.from({ length: 120 }, () => good)))).toEqual(new Set([200]));
    await resolves('K8sWatchPolicyAdmissionErrors');
  });

  test('a denied pod: K8sWatchPolicyAdmissionDenials fires (it resolves 15 minutes after the last denial)', async () => {
    const denied = await fixture('daemonset-pod-create.json');
    denied.request.object.spec.containers[0].env.push({ name: 'ONLY_WATCH_K8S_RESOURCE', value: 'true' });
    expect(await post([denied])).toEqual([200]);
    await scraped();
    expect(await post([denied])).toEqual([200]);
    await fires('K8sWatchPolicyAdmissionDenials');
  });
});

describe('the dashboard on a real Prometheus', () => {
  test('every panel query returns at least one series', async () => {
    // Traffic for the admission panels: a review patched by a label and one denied.
    const review = await fixture('daemonset-pod-create.json');
    review.request.object.metadata.labels['deepflow.io/k8s-watch-policy'] = 'watch-only';
    const denied = structuredClone(review);
    denied.request.uid = 'denied';
    denied.request.object.spec.containers[0].env.push({ name: 'ONLY_WATCH_K8S_RESOURCE', value: 'true' });
    for (const r of [review, denied])
      expect((await send(webhook.url, { path: '/mutate', body: JSON.stringify(r), ca })).status).toBe(200);

    const dashboard = JSON.parse(
      readFileSync(join(ROOT, 'charts', 'k8s-watch-policy', 'dashboards', 'k8s-watch-policy.json'), 'utf8'),
    );
    const queries: { panel: string; expr: string }[] = dashboard.panels
      .filter((p: any) => p.type !== 'row')
      .flatMap((p: any) =>
        p.targets.map((t: any) => ({
          panel: p.title,
          expr: t.expr
            .replaceAll('$namespace', SYSTEM)
            .replaceAll('$release', FULLNAME)
            .replaceAll('$__rate_interval', '30s'),
        })),
      );
    const empty = await eventually(
      'a series for every panel query',
      async () => {
        const results = await Promise.all(
          queries.map(async (q) => ({
            ...q,
            series: (await api(`/api/v1/query?query=${encodeURIComponent(q.expr)}`)).result.length,
          })),
        );
        const none = results.filter((r) => r.series === 0);
        return none.length === 0 ? none : undefined;
      },
      60_000,
    ).catch(async () => {
      const results = await Promise.all(
        queries.map(async (q) => ({
          ...q,
          series: (await api(`/api/v1/query?query=${encodeURIComponent(q.expr)}`)).result.length,
        })),
      );
      return results.filter((r) => r.series === 0);
    });
    expect(empty).toEqual([]);
    expect(queries.length).toBeGreaterThanOrEqual(14);
  });
});
