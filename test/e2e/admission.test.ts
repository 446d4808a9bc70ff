/**
 * Admission end to end: the webhook process (the built CLI) registered with the real
 * kube-apiserver of the local control plane, with the configurations the Helm chart ships, and
 * workloads created by the real controller-manager, bound by the real scheduler and run by kwok.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { webhookConfigurations } from '../../src/webhook/webhook_configuration.ts';
import { ORDINARY_NODES, VIRTUAL_NODES } from '../cluster/nodes.ts';
import {
  apply,
  eventually,
  freePort,
  getJson,
  kubectl,
  kubectlAsync,
  kubectlOk,
  WebhookProcess,
} from '../support/cluster_harness.ts';
import { agentContainer, type EnvEntry } from '../support/objects.ts';

const NAME = 'k8s-watch-policy';
const AGENT_IMAGE = 'registry.example.com:5000/deepflow-ce/deepflow-agent:v6.6';
// Fresh namespaces per run: the previous run's may still be terminating.
const RUN = Math.random().toString(36).slice(2, 7);
const ON = `e2e-opted-in-${RUN}`;
const OFF = `e2e-not-opted-in-${RUN}`;
const REASON = 'deepflow.io/k8s-watch-policy-reason';
const DENIAL =
  'container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); remove it and set K8S_WATCH_POLICY=watch-only (agents older than v6.6.6 read only ONLY_WATCH_K8S_RESOURCE: upgrade them first, or set deprecatedEnv: warn)';

const webhook = new WebhookProcess();
let caBundle: string;

function register(): void {
  const { mutating, validating } = webhookConfigurations({
    name: NAME,
    clientConfig: (path) => ({ url: `${webhook.url}${path}`, caBundle }),
    excludeNamespaces: ['deepflow-system'],
    failurePolicy: 'Fail',
    timeoutSeconds: 10,
  });
  apply([mutating, validating]);
}

const namespace = (name: string, optIn: boolean) => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels: optIn ? { 'deepflow.io/k8s-watch-policy-injection': 'enabled' } : {} },
});

const agent = (env: EnvEntry[] = []) => agentContainer(AGENT_IMAGE, env);

function deployment(
  ns: string,
  name: string,
  containers: unknown[],
  replicas = 1,
  labels: Record<string, string> = {},
) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...labels } },
        spec: { containers, tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists' }] },
      },
    },
  };
}

function pods(ns: string, selector: string): any[] {
  return getJson(['get', 'pods', '-n', ns, '-l', selector]).items;
}

function envOf(pod: any, container: string): Record<string, string> {
  const c = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((x: any) => x.name === container);
  return Object.fromEntries((c?.env ?? []).map((e: any) => [e.name, e.value]));
}

beforeAll(async () => {
  caBundle = Buffer.from(readFileSync(await webhook.makeCertificates(), 'utf8')).toString('base64');
  await webhook.start();
  apply([namespace(ON, true), namespace(OFF, false)]);
  register();
  // The default ServiceAccount must exist before pods can be created in a new namespace.
  await eventually(
    'service accounts',
    () =>
      kubectl(['get', 'sa', 'default', '-n', ON]).status === 0 &&
      kubectl(['get', 'sa', 'default', '-n', OFF]).status === 0,
  );
});

afterAll(async () => {
  kubectl([
    'delete',
    'mutatingwebhookconfiguration,validatingwebhookconfiguration',
    NAME,
    'zz-e2e-add-agent',
    '--ignore-not-found',
  ]);
  kubectl(['delete', 'namespace', ON, OFF, '--wait=false']);
  await webhook.stop();
  webhook.cleanup();
});

describe('a DaemonSet of agents', () => {
  test('pods on ordinary nodes stay normal, pods on virtual nodes get watch-disabled', async () => {
    apply([
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'deepflow-agent', namespace: ON },
        spec: {
          selector: { matchLabels: { app: 'deepflow-agent' } },
          template: {
            metadata: { labels: { app: 'deepflow-agent' } },
            spec: { containers: [agent()], tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists' }] },
          },
        },
      },
    ]);
    const all = await eventually('a DaemonSet pod on every node', () => {
      const p = pods(ON, 'app=deepflow-agent').filter((x) => x.spec.nodeName);
      return p.length === ORDINARY_NODES.length + VIRTUAL_NODES.length && p;
    });
    for (const pod of all) {
      const virtual = VIRTUAL_NODES.includes(pod.spec.nodeName);
      expect([pod.spec.nodeName, envOf(pod, 'deepflow-agent').K8S_WATCH_POLICY]).toEqual([
        pod.spec.nodeName,
        virtual ? 'watch-disabled' : undefined,
      ]);
      expect(pod.metadata.annotations?.[REASON]).toBe(
        virtual ? 'watch-disabled/serverless-node-label' : 'normal/default',
      );
    }
  });
});

describe('Deployments', () => {
  test('a watcher Deployment gets watch-only on every pod, also after kubectl rollout restart', async () => {
    apply([deployment(ON, 'deepflow-watcher', [agent()], 2)]);
    const first = await eventually('2 watcher pods', () => {
      const p = pods(ON, 'app=deepflow-watcher');
      return p.length === 2 && p;
    });
    for (const pod of first) expect(envOf(pod, 'deepflow-agent').K8S_WATCH_POLICY).toBe('watch-only');
    kubectlOk(['rollout', 'restart', 'deployment/deepflow-watcher', '-n', ON]);
    kubectlOk(['rollout', 'status', 'deployment/deepflow-watcher', '-n', ON, '--timeout=90s']);
    const names = new Set(first.map((p) => p.metadata.name));
    const second = await eventually('2 new watcher pods', () => {
      const p = pods(ON, 'app=deepflow-watcher').filter(
        (x) => !names.has(x.metadata.name) && !x.metadata.deletionTimestamp,
      );
      return p.length === 2 && p;
    });
    for (const pod of second) {
      expect(envOf(pod, 'deepflow-agent').K8S_WATCH_POLICY).toBe('watch-only');
      expect(pod.metadata.annotations[REASON]).toBe('only-watch/watcher-deployment');
    }
  });

  test('an application Deployment with an agent sidecar gets watch-disabled on the agent container only', async () => {
    apply([deployment(ON, 'shop', [{ name: 'app', image: 'nginx:1.27' }, agent()])]);
    const [pod] = await eventually('the shop pod', () => {
      const p = pods(ON, 'app=shop');
      return p.length === 1 && p;
    });
    expect(envOf(pod, 'deepflow-agent')).toEqual({ K8S_WATCH_POLICY: 'watch-disabled' });
    expect(envOf(pod, 'app')).toEqual({});
    expect(pod.metadata.annotations[REASON]).toBe('watch-disabled/serverless-sidecar');
  });
});

describe('opt-in', () => {
  const sidecarPod = (
    ns: string,
    name: string,
    labels: Record<string, string> = {},
    env: { name: string; value: string }[] = [],
  ) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27' }, agent(env)] },
  });

  test('pods in a namespace that did not opt in are not touched', () => {
    apply([sidecarPod(OFF, 'untouched')]);
    const pod = getJson(['get', 'pod', 'untouched', '-n', OFF]);
    expect(envOf(pod, 'deepflow-agent')).toEqual({});
    expect(pod.metadata.annotations?.[REASON]).toBeUndefined();
  });

  test('a pod labelled enabled in a namespace that did not opt in is mutated', () => {
    apply([sidecarPod(OFF, 'opted-in-pod', { 'deepflow.io/k8s-watch-policy-injection': 'enabled' })]);
    expect(envOf(getJson(['get', 'pod', 'opted-in-pod', '-n', OFF]), 'deepflow-agent')).toEqual({
      K8S_WATCH_POLICY: 'watch-disabled',
    });
  });

  test('a pod labelled disabled is not mutated but still validated', () => {
    const disabled = { 'deepflow.io/k8s-watch-policy-injection': 'disabled' };
    apply([sidecarPod(ON, 'opted-out', disabled)]);
    expect(envOf(getJson(['get', 'pod', 'opted-out', '-n', ON]), 'deepflow-agent')).toEqual({});
    const refused = kubectl(
      ['apply', '-f', '-'],
      JSON.stringify(sidecarPod(ON, 'opted-out-bad', disabled, [{ name: 'ONLY_WATCH_K8S_RESOURCE', value: 'true' }])),
    );
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain(DENIAL);
  });
});

describe('ONLY_WATCH_K8S_RESOURCE', () => {
  const bad = [{ name: 'ONLY_WATCH_K8S_RESOURCE', value: '' }];
  const cases: [string, unknown][] = [
    ['Deployment', deployment(ON, 'legacy-watcher', [agent(bad)])],
    [
      'DaemonSet',
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'legacy-agent', namespace: ON },
        spec: {
          selector: { matchLabels: { app: 'legacy-agent' } },
          template: { metadata: { labels: { app: 'legacy-agent' } }, spec: { containers: [agent(bad)] } },
        },
      },
    ],
    [
      'CronJob',
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'legacy-job', namespace: ON },
        spec: {
          schedule: '*/5 * * * *',
          jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [agent(bad)] } } } },
        },
      },
    ],
  ];

  test.each(cases)('kubectl apply of a %s carrying it is refused with the DESIGN message', (kind, object) => {
    const r = kubectl(['apply', '-f', '-'], JSON.stringify(object));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('denied the request');
    expect(r.stderr).toContain(DENIAL);
    expect(kubectl(['get', kind.toLowerCase(), (object as any).metadata.name, '-n', ON]).status).not.toBe(0);
  });

  test('kubectl apply --dry-run=server is reviewed too: refused when bad, accepted when good, nothing created', () => {
    const refused = kubectl(['apply', '--dry-run=server', '-f', '-'], JSON.stringify(cases[0]![1]));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(DENIAL);
    const good = kubectl(
      ['apply', '--dry-run=server', '-f', '-'],
      JSON.stringify(deployment(ON, 'dry-run-only', [agent()])),
    );
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('deployment.apps/dry-run-only created (server dry run)');
    expect(kubectl(['get', 'deployment', 'dry-run-only', '-n', ON]).status).not.toBe(0);
  });
});

describe('reinvocation', () => {
  let adder: Server;

  afterAll(() => new Promise<void>((resolve) => (adder ? adder.close(() => resolve()) : resolve())));

  test('an agent sidecar added by a later webhook gets its value when ours is called again', async () => {
    // A second mutating webhook, ordered after ours, that injects an agent sidecar.
    const port = await freePort();
    adder = createServer(
      { key: readFileSync(join(webhook.certDir, 'tls.key')), cert: readFileSync(join(webhook.certDir, 'tls.crt')) },
      (req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          const review = JSON.parse(body);
          const has = review.request.object.spec.containers.some((c: any) => c.name === 'deepflow-agent');
          const patch = has
            ? undefined
            : Buffer.from(JSON.stringify([{ op: 'add', path: '/spec/containers/-', value: agent() }])).toString(
                'base64',
              );
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({
              apiVersion: 'admission.k8s.io/v1',
              kind: 'AdmissionReview',
              response: { uid: review.request.uid, allowed: true, ...(patch && { patchType: 'JSONPatch', patch }) },
            }),
          );
        });
      },
    );
    await new Promise<void>((resolve) => adder.listen(port, '127.0.0.1', resolve));
    apply([
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: 'zz-e2e-add-agent' },
        webhooks: [
          {
            name: 'add-agent.e2e.example.com',
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            failurePolicy: 'Fail',
            timeoutSeconds: 10,
            reinvocationPolicy: 'Never',
            clientConfig: { url: `https://127.0.0.1:${port}/add`, caBundle },
            rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
            objectSelector: { matchLabels: { 'e2e/add-agent': 'true' } },
          },
        ],
      },
    ]);
    // kubectl runs asynchronously here: this process serves the second webhook meanwhile.
    const created = await kubectlAsync(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'gets-a-sidecar', namespace: ON, labels: { 'e2e/add-agent': 'true' } },
        spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
      }),
    );
    expect(created).toMatchObject({ status: 0, stderr: '' });
    const pod = getJson(['get', 'pod', 'gets-a-sidecar', '-n', ON]);
    expect(pod.spec.containers.map((c: any) => c.name)).toEqual(['app', 'deepflow-agent']);
    expect(envOf(pod, 'deepflow-agent')).toEqual({ K8S_WATCH_POLICY: 'watch-disabled' });
    expect(pod.metadata.annotations[REASON]).toBe('watch-disabled/serverless-sidecar');
    kubectlOk(['delete', 'mutatingwebhookconfiguration', 'zz-e2e-add-agent']);
  });
});

describe('failurePolicy: Fail', () => {
  test('with the webhook stopped, agent pods in opted-in namespaces are refused and other namespaces are unaffected', async () => {
    expect(await webhook.stop()).toBe(0);
    const pod = (ns: string, name: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: ns },
        spec: { containers: [agent()] },
      });
    const refused = kubectl(['apply', '-f', '-'], pod(ON, 'while-down'));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/failed calling webhook "namespace\.pods\.k8s-watch-policy\.deepflow\.io"/);
    expect(kubectl(['apply', '-f', '-'], pod(OFF, 'while-down')).status).toBe(0);
    await webhook.start();
    expect(kubectl(['apply', '-f', '-'], pod(ON, 'after-restart')).status).toBe(0);
  });
});
