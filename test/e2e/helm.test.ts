/**
 * The Helm chart on the local control plane: `helm install` (every object validated by the real
 * API server; the pods are run by kwok, so no image is pulled), what the chart's ServiceAccounts
 * can and cannot do, the webhook and the controller (the built CLI) running with those
 * ServiceAccounts' tokens and the chart's command lines, `helm upgrade` with changed values,
 * `helm uninstall`, and the plain manifests of webhook/.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { requiredPermissions } from '../../src/controller/permissions.ts';
import { readState } from '../cluster/cluster.ts';
import { KUBECONFIG } from '../cluster/paths.ts';
import {
  apply,
  CLI,
  eventually,
  freePort,
  getJson,
  kubectl,
  kubectlOk,
  terminate,
  type Run,
} from '../support/cluster_harness.ts';
import { MONITORING_CRDS } from '../support/monitoring_crds.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHART = join(ROOT, 'charts', 'k8s-watch-policy');
const RUN = Math.random().toString(36).slice(2, 7);
const NS = `kwp-helm-${RUN}`;
const AGENTS = `kwp-helm-agents-${RUN}`;
const RELEASE = `kwp-${RUN}`;
const FULLNAME = `${RELEASE}-k8s-watch-policy`;
const WEBHOOK_SA = `${FULLNAME}-webhook`;
const CONTROLLER_SA = `${FULLNAME}-controller`;
const TLS = `${FULLNAME}-webhook-tls`;
const INSTANCE = `app.kubernetes.io/instance=${RELEASE}`;
const dir = mkdtempSync(join(tmpdir(), 'kwp-helm-'));

function helm(args: string[]): Run {
  const state = readState();
  if (!state) throw new Error('the local cluster is not up (global setup did not run?)');
  const r = spawnSync(join(state.bin, 'helm'), ['--kubeconfig', KUBECONFIG, ...args], {
    encoding: 'utf8',
    timeout: 170_000,
  });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

function helmOk(args: string[]): Run {
  const r = helm(args);
  if (r.status !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r;
}

const manifest = (): any[] =>
  parseAllDocuments(helmOk(['get', 'manifest', RELEASE, '-n', NS]).stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
const ref = (o: any) => [o.kind, o.metadata.name, ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : [])];
const deploymentOf = (objects: any[], component: string) =>
  objects.find((o) => o.kind === 'Deployment' && o.metadata.name === `${FULLNAME}-${component}`);

const ALL = 'all namespaces';

/** `kubectl auth can-i` as one of the chart's ServiceAccounts; namespace undefined or ALL: all namespaces. */
function can(sa: string, verb: string, resource: string, namespace: string | undefined): boolean {
  const scope = namespace && namespace !== ALL ? ['-n', namespace] : ['--all-namespaces'];
  const r = kubectl(['auth', 'can-i', verb, resource, '--as', `system:serviceaccount:${NS}:${sa}`, ...scope]);
  if (r.status !== 0 && r.stdout.trim() !== 'no')
    throw new Error(`kubectl auth can-i ${verb} ${resource}: ${r.stderr}`);
  return r.status === 0;
}

/** A real request as a ServiceAccount (impersonated): the API server's own authorization. */
const as = (sa: string, args: string[]) => kubectl([...args, '--as', `system:serviceaccount:${NS}:${sa}`]);

/** A kubeconfig that authenticates with a token of the ServiceAccount, as a pod would. */
function tokenKubeconfig(sa: string): string {
  const token = kubectlOk(['create', 'token', sa, '-n', NS, '--duration', '30m']).trim();
  const admin = parse(readFileSync(KUBECONFIG, 'utf8'));
  const file = join(dir, `${sa}.kubeconfig`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: admin.clusters[0].cluster }],
    users: [{ name: sa, user: { token } }],
    contexts: [{ name: sa, context: { cluster: 'local', user: sa, namespace: NS } }],
    'current-context': sa,
  };
  writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
  return file;
}

class Process {
  child: ChildProcess | undefined;
  output = '';
  start(args: string[], env: Record<string, string>): void {
    this.child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, KUBECONFIG: '' },
    });
    this.child.stdout!.on('data', (c: Buffer) => (this.output += c));
    this.child.stderr!.on('data', (c: Buffer) => (this.output += c));
  }
  stop(): Promise<unknown> {
    return terminate(this.child);
  }
}

/** The chart's command line for a container, run locally: its config file, this cluster, local ports. */
function localArgs(objects: any[], component: 'webhook' | 'controller', extra: string[]): string[] {
  const args: string[] = [...deploymentOf(objects, component).spec.template.spec.containers[0].args];
  const config = objects.find((o) => o.kind === 'ConfigMap').data['config.yaml'];
  const file = join(dir, `${component}-config.yaml`);
  writeFileSync(file, config);
  args[args.indexOf('--config') + 1] = file;
  return [...args, ...extra];
}

const installed: any[] = [];
const webhookProcess = new Process();
const controllerProcess = new Process();

beforeAll(async () => {
  apply([
    // The restricted Pod Security Standard, enforced: the chart's pods must meet it to be created.
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: NS,
        labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' },
      },
    },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: AGENTS } },
  ]);
  await eventually(
    'service accounts',
    () =>
      kubectl(['get', 'sa', 'default', '-n', NS]).status === 0 &&
      kubectl(['get', 'sa', 'default', '-n', AGENTS]).status === 0,
  );
});

afterAll(async () => {
  await Promise.all([webhookProcess.stop(), controllerProcess.stop()]);
  helm(['uninstall', RELEASE, '-n', NS, '--ignore-not-found']);
  kubectl(['delete', '-k', join(ROOT, 'webhook'), '--ignore-not-found', '--wait=false']);
  kubectl(['delete', 'namespace', NS, AGENTS, '--wait=false']);
  rmSync(dir, { recursive: true, force: true });
});

describe('helm install', () => {
  test('every object is accepted by the API server, the pods meet the restricted Pod Security Standard, NOTES say how to opt in and find the watcher', () => {
    const r = helmOk(['install', RELEASE, CHART, '-n', NS, '--wait', '--timeout', '150s']);
    expect(r.stderr).not.toMatch(/PodSecurity|forbidden|error/i);
    expect(r.stdout).toContain('STATUS: deployed');
    expect(r.stdout).toContain('kubectl label namespace <namespace> deepflow.io/k8s-watch-policy-injection=enabled');
    expect(r.stdout).toContain(`kubectl get lease k8s-watcher -n ${NS} -o yaml`);
    expect(r.stdout).toContain('kubectl get pods -A -l deepflow.io/k8s-watcher=true');
    expect(r.stdout).toContain(`svc/${FULLNAME}-controller 8081:8081`);
    expect(r.stdout).toContain('/status');
    installed.push(...manifest());
    expect(installed.length).toBeGreaterThanOrEqual(20);
    for (const o of installed)
      expect([o.kind, o.metadata.name, kubectl(['get', ...ref(o), '-o', 'name']).status]).toEqual([
        o.kind,
        o.metadata.name,
        0,
      ]);
  });

  test('two webhook replicas on two nodes, two controller replicas, Ready (as kwok runs them)', () => {
    for (const component of ['webhook', 'controller']) {
      const pods = getJson([
        'get',
        'pods',
        '-n',
        NS,
        '-l',
        `${INSTANCE},app.kubernetes.io/component=${component}`,
      ]).items;
      expect(pods.length).toBe(2);
      for (const p of pods) expect(p.status.conditions.find((c: any) => c.type === 'Ready')?.status).toBe('True');
      if (component === 'webhook') expect(new Set(pods.map((p: any) => p.spec.nodeName)).size).toBe(2);
      for (const p of pods) expect(p.spec.serviceAccountName).toBe(`${FULLNAME}-${component}`);
    }
    const endpoints = getJson([
      'get',
      'endpointslices',
      '-n',
      NS,
      '-l',
      `kubernetes.io/service-name=${FULLNAME}-webhook`,
    ]).items;
    expect(endpoints.flatMap((s: any) => s.endpoints ?? []).length).toBe(2);
    expect(endpoints[0].ports).toEqual([expect.objectContaining({ name: 'https', port: 9443 })]);
  });
});

describe('what the ServiceAccounts may do (kubectl auth can-i)', () => {
  test.each([
    // The webhook: Nodes, its own Secret and Lease, its own two configurations.
    ['webhook', 'list', 'nodes', ALL, true],
    ['webhook', 'watch', 'nodes', ALL, true],
    ['webhook', 'get', `secrets/${TLS}`, NS, true],
    ['webhook', 'update', `secrets/${TLS}`, NS, true],
    ['webhook', 'create', 'secrets', NS, false],
    ['webhook', 'get', 'secrets/another-secret', NS, false],
    ['webhook', 'list', 'secrets', NS, false],
    ['webhook', 'list', 'secrets', ALL, false],
    ['webhook', 'get', 'secrets', 'kube-system', false],
    ['webhook', 'create', 'secrets', 'default', false],
    ['webhook', 'delete', `secrets/${TLS}`, NS, false],
    ['webhook', 'update', `leases/${TLS}-certificates`, NS, true],
    ['webhook', 'update', 'leases/k8s-watcher', NS, false],
    ['webhook', 'patch', `mutatingwebhookconfigurations/${FULLNAME}`, ALL, true],
    ['webhook', 'patch', `validatingwebhookconfigurations/${FULLNAME}`, ALL, true],
    ['webhook', 'patch', 'mutatingwebhookconfigurations/someone-elses', ALL, false],
    ['webhook', 'delete', `mutatingwebhookconfigurations/${FULLNAME}`, ALL, false],
    ['webhook', 'create', 'mutatingwebhookconfigurations', ALL, false],
    ['webhook', 'list', 'pods', ALL, false],
    ['webhook', 'get', 'configmaps', NS, false],
    // The controller: pods (list, watch, patch), nodes, its Leases, Events.
    ['controller', 'list', 'pods', ALL, true],
    ['controller', 'patch', 'pods', 'default', true],
    ['controller', 'update', 'pods', 'default', false],
    ['controller', 'delete', 'pods', 'default', false],
    ['controller', 'create', 'pods', 'default', false],
    ['controller', 'create', 'pods/exec', 'default', false],
    ['controller', 'list', 'nodes', ALL, true],
    ['controller', 'update', 'nodes', ALL, false],
    ['controller', 'update', 'leases', NS, true],
    ['controller', 'update', 'leases', 'kube-system', false],
    ['controller', 'delete', 'leases', NS, false],
    ['controller', 'create', 'events', 'default', true],
    ['controller', 'update', 'configmaps', NS, false],
    ['controller', 'get', 'secrets', NS, false],
    ['controller', 'list', 'secrets', ALL, false],
    ['controller', 'list', 'deployments.apps', ALL, false],
  ] as ['webhook' | 'controller', string, string, string, boolean][])(
    '%s: %s %s in %s -> %s',
    (component, verb, resource, namespace, allowed) => {
      expect(can(`${FULLNAME}-${component}`, verb, resource, namespace)).toBe(allowed);
    },
  );

  test('the controller has every permission src/controller/permissions.ts checks at start', () => {
    for (const p of requiredPermissions(NS, [])) {
      expect([
        p.verb,
        p.resource,
        p.namespace,
        can(CONTROLLER_SA, p.verb, p.group ? `${p.resource}.${p.group}` : p.resource, p.namespace),
      ]).toEqual([p.verb, p.resource, p.namespace, true]);
    }
  });

  test('the webhook lists its Secret by field selector and its configurations by label, and nothing wider', () => {
    const own = as(WEBHOOK_SA, ['get', 'secrets', '-n', NS, '--field-selector', `metadata.name=${TLS}`, '-o', 'name']);
    expect(own.status).toBe(0);
    const all = as(WEBHOOK_SA, ['get', 'secrets', '-n', NS, '-o', 'name']);
    expect(all.status).not.toBe(0);
    expect(all.stderr).toMatch(/forbidden/);
    const configs = as(WEBHOOK_SA, [
      'get',
      'mutatingwebhookconfigurations',
      '-l',
      `${INSTANCE},app.kubernetes.io/name=k8s-watch-policy`,
      '-o',
      'name',
    ]);
    expect(configs.status).toBe(0);
    expect(configs.stdout.trim()).toBe(`mutatingwebhookconfiguration.admissionregistration.k8s.io/${FULLNAME}`);
  });
});

describe("the processes with the chart's ServiceAccount tokens and command lines", () => {
  test('the webhook fills the Secret of the chart, takes its Lease and injects the CA into both configurations, without one forbidden request', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const args = localArgs(installed, 'webhook', [
      '--kubeconfig',
      tokenKubeconfig(WEBHOOK_SA),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--metrics-port',
      String(metricsPort),
    ]);
    expect(args).toEqual(
      expect.arrayContaining([
        '--tls-secret',
        TLS,
        '--tls-namespace',
        NS,
        '--webhook-selector',
        `${INSTANCE},app.kubernetes.io/name=k8s-watch-policy`,
      ]),
    );
    webhookProcess.start(args, { POD_NAME: `webhook-${RUN}`, POD_NAMESPACE: NS });
    const data = await eventually(
      'the Secret',
      () => {
        const r = kubectl(['get', 'secret', TLS, '-n', NS, '-o', 'json']);
        return r.status === 0 && JSON.parse(r.stdout).data;
      },
      30_000,
    );
    expect(Object.keys(data).sort()).toEqual(['ca-bundle.crt', 'ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    await eventually('the CA in every caBundle', () =>
      ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration'].every((kind) =>
        getJson(['get', kind, FULLNAME]).webhooks.every((w: any) => w.clientConfig.caBundle === data['ca-bundle.crt']),
      ),
    );
    const lease = getJson(['get', 'lease', `${TLS}-certificates`, '-n', NS]);
    expect(lease.spec.holderIdentity).toBe(`webhook-${RUN}`);
    await eventually(
      'the webhook ready',
      async () =>
        (await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
          (r) => r.ok,
          () => false,
        )) || undefined,
    );
    expect(webhookProcess.output).not.toMatch(/forbidden|\b403\b/i); // \b: not a port such as 40339
    expect(webhookProcess.output).toContain('node cache synced');
  });

  test('the controller passes its RBAC preflight, leads, labels the watcher and publishes the Lease', async () => {
    apply([
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'watcher', namespace: AGENTS },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'watcher' } },
          template: {
            metadata: { labels: { app: 'watcher' } },
            spec: {
              containers: [
                {
                  name: 'deepflow-agent',
                  image: 'registry.example.com/deepflow-agent:v6.6',
                  env: [{ name: 'K8S_WATCH_POLICY', value: 'watch-only' }],
                },
              ],
            },
          },
        },
      },
    ]);
    const port = await freePort();
    const args = localArgs(installed, 'controller', [
      '--kubeconfig',
      tokenKubeconfig(CONTROLLER_SA),
      '--host',
      '127.0.0.1',
      '--metrics-port',
      String(port),
    ]);
    controllerProcess.start(args, { POD_NAME: `controller-${RUN}`, POD_NAMESPACE: NS });
    const status = await eventually(
      'a published watcher',
      async () => {
        const s = await fetch(`http://127.0.0.1:${port}/status`).then(
          (r) => r.json() as Promise<any>,
          () => undefined,
        );
        return s?.isLeader && s.published?.holder && s;
      },
      60_000,
    );
    expect(status.published.holder).toMatch(new RegExp(`^${AGENTS}/watcher-`));
    const lease = getJson(['get', 'lease', 'k8s-watcher', '-n', NS]);
    expect(lease.spec.holderIdentity).toBe(status.published.holder);
    expect(lease.metadata.annotations['deepflow.io/watcher-policy']).toBe('only-watch');
    expect(getJson(['get', 'lease', `${FULLNAME}-controller`, '-n', NS]).spec.holderIdentity).toBe(`controller-${RUN}`);
    const labelled = getJson(['get', 'pods', '-n', AGENTS, '-l', 'deepflow.io/k8s-watcher=true']).items;
    expect(labelled.map((p: any) => `${AGENTS}/${p.metadata.name}`)).toEqual([status.published.holder]);
    await eventually(
      'the WatcherElected Event',
      () => getJson(['get', 'events', '-n', AGENTS, '--field-selector', 'reason=WatcherElected']).items.length > 0,
    );
    expect(controllerProcess.output).not.toMatch(/forbidden|missing RBAC/i);
  });
});

/** `helm upgrade` of the release with its values and these arguments, waiting for the rollout. */
const upgradeReusingValues = (args: string[]) =>
  helm(['upgrade', RELEASE, CHART, '-n', NS, '--reuse-values', '--wait', '--timeout', '150s', ...args]);

describe('helm upgrade with changed values', () => {
  test('webhook configurations, config, RBAC and pods follow; what the processes wrote stays', async () => {
    await Promise.all([webhookProcess.stop(), controllerProcess.stop()]);
    const before = {
      secret: getJson(['get', 'secret', TLS, '-n', NS]).data,
      caBundle: getJson(['get', 'mutatingwebhookconfiguration', FULLNAME]).webhooks[0].clientConfig.caBundle,
      watcher: getJson(['get', 'lease', 'k8s-watcher', '-n', NS]).metadata.annotations['deepflow.io/watcher-uid'],
      pods: getJson(['get', 'pods', '-n', NS, '-l', INSTANCE])
        .items.map((p: any) => p.metadata.name)
        .sort(),
    };
    expect(before.caBundle).toEqual(expect.any(String));
    expect(before.watcher).toEqual(expect.any(String));
    const r = upgradeReusingValues([
      '--set',
      'webhook.failurePolicy=Ignore,webhook.timeoutSeconds=5,config.deprecatedEnv=warn',
      '--set-json',
      `config.election.namespaces=["${AGENTS}"]`,
    ]);
    expect([r.status, r.stderr]).toEqual([0, expect.not.stringMatching(/error/i)]);
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      for (const w of getJson(['get', kind, FULLNAME]).webhooks) {
        expect([w.name, w.failurePolicy, w.timeoutSeconds]).toEqual([w.name, 'Ignore', 5]);
        expect(w.clientConfig.caBundle).toBe(before.caBundle); // written by the webhook, not reset by Helm
      }
    }
    expect(getJson(['get', 'secret', TLS, '-n', NS]).data).toEqual(before.secret);
    expect(getJson(['get', 'lease', 'k8s-watcher', '-n', NS]).metadata.annotations['deepflow.io/watcher-uid']).toBe(
      before.watcher,
    );
    expect(parse(getJson(['get', 'configmap', `${FULLNAME}-config`, '-n', NS]).data['config.yaml'])).toEqual({
      deprecatedEnv: 'warn',
      election: { namespaces: [AGENTS] },
    });
    // The config checksum changed: both Deployments rolled.
    const pods = await eventually('new pods only', () => {
      const items = getJson(['get', 'pods', '-n', NS, '-l', INSTANCE]).items.filter(
        (p: any) => !p.metadata.deletionTimestamp,
      );
      return items.length === 4 && items.every((p: any) => !before.pods.includes(p.metadata.name)) && items;
    });
    expect(new Set(pods.map((p: any) => p.metadata.annotations['checksum/config'])).size).toBe(1);
    // The controller's pod access moved from a ClusterRole to a Role in the election namespace.
    expect(can(CONTROLLER_SA, 'list', 'pods', ALL)).toBe(false);
    expect(can(CONTROLLER_SA, 'list', 'pods', AGENTS)).toBe(true);
    expect(can(CONTROLLER_SA, 'patch', 'pods', 'default')).toBe(false);
    for (const p of requiredPermissions(NS, [AGENTS])) {
      expect([
        p.verb,
        p.resource,
        p.namespace,
        can(CONTROLLER_SA, p.verb, p.group ? `${p.resource}.${p.group}` : p.resource, p.namespace),
      ]).toEqual([p.verb, p.resource, p.namespace, true]);
    }
    installed.push(...manifest());
  });

  test('a wrong value is refused before anything changes', () => {
    const r = helm(['upgrade', RELEASE, CHART, '-n', NS, '--reuse-values', '--set', 'webhook.failurePolicy=Sometimes']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/\/webhook\/failurePolicy.*'Fail', 'Ignore'/);
    expect(getJson(['get', 'mutatingwebhookconfiguration', FULLNAME]).webhooks[0].failurePolicy).toBe('Ignore');
  });
});

describe('monitoring: serviceMonitor, prometheusRule and grafana.dashboards on', () => {
  afterAll(() => {
    kubectl(['delete', 'crd', ...MONITORING_CRDS.map((c) => c.metadata.name), '--ignore-not-found', '--wait=false']);
  });

  test("with prometheus-operator's kinds served, helm upgrade installs the ServiceMonitor, the PrometheusRule and the dashboard", () => {
    apply(MONITORING_CRDS);
    kubectlOk([
      'wait',
      '--for',
      'condition=established',
      '--timeout',
      '60s',
      ...MONITORING_CRDS.map((c) => `crd/${c.metadata.name}`),
    ]);
    const r = upgradeReusingValues([
      '--set',
      'serviceMonitor.enabled=true,prometheusRule.enabled=true,grafana.dashboards.enabled=true',
    ]);
    expect([r.status, r.stderr]).toEqual([0, expect.not.stringMatching(/error/i)]);
    const rule = getJson(['get', 'prometheusrule', FULLNAME, '-n', NS]);
    expect(rule.spec.groups[0].rules.length).toBe(11);
    expect(getJson(['get', 'servicemonitor', FULLNAME, '-n', NS]).spec.endpoints[0].port).toBe('metrics');
    const dashboard = getJson(['get', 'configmap', `${FULLNAME}-dashboard`, '-n', NS]);
    expect(dashboard.metadata.labels.grafana_dashboard).toBe('1');
    expect(JSON.parse(dashboard.data['k8s-watch-policy.json']).uid).toBe('k8s-watch-policy');
    installed.push(...manifest());
  });
});

describe('helm uninstall', () => {
  test('leaves nothing of the release behind: webhook configurations, and the Secret with the CA key the webhook wrote', async () => {
    helmOk(['uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '120s']);
    const seen = new Set<string>();
    for (const o of installed) {
      const key = ref(o).join(' ');
      if (seen.has(key)) continue;
      seen.add(key);
      const r = kubectl(['get', ...ref(o), '-o', 'name']);
      expect([key, r.status, r.stderr]).toEqual([key, 1, expect.stringMatching(/NotFound|not found/)]);
    }
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
    await eventually('the pods gone', () => kubectl(['get', 'pods', '-n', NS, '-o', 'name']).stdout.trim() === '');
    const left = () =>
      kubectl([
        'get',
        'all,configmaps,secrets,serviceaccounts,roles,rolebindings,leases,poddisruptionbudgets,endpointslices',
        '-n',
        NS,
        '-o',
        'name',
      ])
        .stdout.trim()
        .split('\n')
        .filter((l) => l && !l.endsWith('/default') && !l.endsWith('/kube-root-ca.crt'));
    await eventually('nothing left', () => left().length === 0 || undefined).catch(() => undefined);
    expect(left()).toEqual([]);
    expect(kubectl(['get', 'role,rolebinding', '-n', AGENTS, '-l', INSTANCE, '-o', 'name']).stdout.trim()).toBe('');
  });
});

describe('the plain manifests (kubectl apply -k webhook/)', () => {
  test('install the same objects, accepted by the API server, and delete cleanly', () => {
    const applied = kubectl(['apply', '-k', join(ROOT, 'webhook')]);
    expect([applied.status, applied.stderr]).toEqual([0, '']);
    kubectlOk(['wait', '--for=condition=Available', 'deployment', '--all', '-n', 'deepflow-system', '--timeout=120s']);
    expect(
      getJson(['get', 'mutatingwebhookconfiguration', 'k8s-watch-policy']).webhooks[0].clientConfig.service,
    ).toEqual({ namespace: 'deepflow-system', name: 'k8s-watch-policy-webhook', port: 443, path: '/mutate' });
    expect(getJson(['get', 'namespace', 'deepflow-system']).metadata.labels['pod-security.kubernetes.io/enforce']).toBe(
      'restricted',
    );
    const deleted = kubectl(['delete', '-k', join(ROOT, 'webhook'), '--wait=true', '--timeout=120s']);
    expect(deleted.status).toBe(0);
    expect(
      kubectl([
        'get',
        'mutatingwebhookconfiguration,validatingwebhookconfiguration',
        'k8s-watch-policy',
        '-o',
        'name',
      ]).stdout.trim(),
    ).toBe('');
    expect(
      kubectl([
        'get',
        'clusterrole',
        'k8s-watch-policy-webhook',
        'k8s-watch-policy-controller',
        '-o',
        'name',
      ]).stdout.trim(),
    ).toBe('');
  });
});
