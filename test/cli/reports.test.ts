/**
 * `status` and `audit` through the built binary against an API server that serves a serverless
 * cluster page by page (test/support/agent_cluster.ts, the scale benchmark's, here with 1,237
 * agent pods: three pages of pods, each reduced as it arrives): what they print, in every format,
 * is what the pure reports say over the whole objects, byte for byte.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { auditReport } from '../../src/report/audit_report.ts';
import { auditText, formatReport, statusText } from '../../src/report/render.ts';
import { statusReport } from '../../src/report/status_report.ts';
import { defaultConfig } from '../../src/config/config.ts';
import { trimNode } from '../../src/report/trim_node.ts';
import type { KubeObject, Lease, Node, Pod } from '../../src/kube/objects.ts';
import { startFakeApiServer, type FakeApiServer } from '../client/fake_api_server.ts';
import { agentCluster, RELEASE_NAMESPACE, WATCHER } from '../support/agent_cluster.ts';
import { killAll, requireBuild, run, tempDir } from '../support/cli.ts';

jest.setTimeout(120_000);

const cluster = agentCluster({ pods: 1237, namespaces: 9 });
const config = defaultConfig();
const CONFIG_SOURCE = 'defaults (no ConfigMap of k8s-watch-policy found)';
let server: FakeApiServer;
let kubeconfig: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  requireBuild();
  server = await startFakeApiServer();
  server.handler = cluster.handler;
  const dir = await tempDir('reports');
  cleanup = dir.cleanup;
  const ca = Buffer.from(server.caPem).toString('base64');
  kubeconfig = await dir.file(
    'kubeconfig',
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${server.url}", certificate-authority-data: ${ca}}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`,
  );
});

afterAll(async () => {
  await killAll();
  await server?.close();
  await cleanup?.();
});

const cli = (args: string[]) => run([...args, '--kubeconfig', kubeconfig], { timeoutMs: 60_000 });
const pods = () => cluster.objects('/api/v1/pods') as Pod[];
const nodes = () => cluster.objects('/api/v1/nodes').map((n) => trimNode(n) as Node);

describe('status', () => {
  const whole = (namespace?: string) => {
    const [watcherLease, leaderLease] = cluster.objects('/apis/coordination.k8s.io/v1/leases') as Lease[];
    return statusReport({
      config,
      configSource: CONFIG_SOURCE,
      pods: pods(),
      nodes: nodes(),
      watcherLease,
      leaderLease,
      controllerPods: cluster.objects(`/api/v1/namespaces/${RELEASE_NAMESPACE}/pods`),
      webhook: {
        configurations: ['MutatingWebhookConfiguration/k8s-watch-policy'],
        endpoints: [
          {
            webhook: 'MutatingWebhookConfiguration/k8s-watch-policy: pods.k8s-watch-policy.deepflow.io',
            target: `service ${RELEASE_NAMESPACE}/k8s-watch-policy-webhook:443`,
          },
        ],
        readyEndpoints: 1,
        answers: { ok: true, detail: 'GET /readyz through the API server: ok' },
      },
      serverVersion: 'v1.34.2',
      ...(namespace && { namespace }),
    });
  };

  test('text, JSON and YAML: the report over the whole pods; paged, with progress on stderr', async () => {
    const report = whole();
    expect(report).toMatchObject({ exitCode: 0, warnings: [], elected: { name: WATCHER } });
    expect(report.agents).toHaveLength(1237);
    const text = await cli(['status']);
    expect([text.code, text.stdout]).toEqual([0, statusText(report, false)]);
    expect(text.stderr).toContain('/api/v1/pods: 1000 read');
    for (const format of ['json', 'yaml'] as const) {
      const r = await cli(['status', '-o', format]);
      expect([r.code, r.stdout]).toEqual([0, formatReport(report, format)]);
    }
  });

  test('-n: the table of one namespace, the election of all', async () => {
    const r = await cli(['status', '-n', 'ns-4', '-o', 'yaml']);
    expect([r.code, r.stdout]).toEqual([0, formatReport(whole('ns-4'), 'yaml')]);
  });
});

describe('audit', () => {
  const whole = (namespace?: string) => {
    const inScope = (o: KubeObject) => namespace === undefined || o.metadata?.namespace === namespace;
    return auditReport({
      config,
      configSource: CONFIG_SOURCE,
      pods: pods().filter(inScope),
      nodes: nodes(),
      controllers: [
        ...cluster.objects('/apis/apps/v1/deployments'),
        ...cluster.objects('/apis/apps/v1/daemonsets'),
      ].filter(inScope),
      optedInNamespaces: new Set(cluster.objects('/api/v1/namespaces').map((n) => n.metadata!.name!)),
      ...(namespace && { namespace }),
    });
  };

  test('-A in text, JSON and YAML: the report over the whole pods and controllers', async () => {
    const report = whole();
    expect(report.rows).toHaveLength(1237 + cluster.deployments + 2);
    expect(report.exitCode).toBe(0);
    const text = await cli(['audit', '-A']);
    expect([text.code, text.stdout]).toEqual([0, auditText(report, false)]);
    for (const format of ['json', 'yaml'] as const) {
      const r = await cli(['audit', '-A', '-o', format]);
      expect([r.code, r.stdout]).toEqual([0, formatReport(report, format)]);
    }
  });

  test('-n: one namespace', async () => {
    const r = await cli(['audit', '-n', 'ns-2', '-o', 'json']);
    expect(JSON.parse(r.stdout).rows.length).toBeGreaterThan(100);
    expect([r.code, r.stdout]).toEqual([0, formatReport(whole('ns-2'), 'json')]);
  });
});
