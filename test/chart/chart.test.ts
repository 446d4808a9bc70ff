/**
 * The Helm chart, rendered with `helm template` (no cluster): lint, selectors, the exact command
 * lines, probes, security contexts, the webhook configurations against
 * src/webhook/webhook_configuration.ts, the config file against the program's own parser, both
 * certificate modes, and values the schema must refuse.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/config.ts';
import { parseConfig } from '../../src/config/parse.ts';
import { webhookConfigurations } from '../../src/webhook/webhook_configuration.ts';
import {
  CHART,
  find,
  FULLNAME,
  helm,
  NAMESPACE,
  ofKind,
  RELEASE,
  ROOT,
  selects,
  template,
  templateError,
} from '../support/helm.ts';

const EXAMPLES = ['values-ordinary.yaml', 'values-serverless.yaml'].map((f) => join(ROOT, 'examples', f));
const CERT_MANAGER = { values: { certificates: { mode: 'certManager' } }, apiVersions: ['cert-manager.io/v1'] };
const SVC = `${FULLNAME}-webhook`;
const DNS = `${SVC}.${NAMESPACE}.svc,${SVC}.${NAMESPACE}.svc.cluster.local`;

const deployment = (objects: any[], component: 'webhook' | 'controller') =>
  find(objects, 'Deployment', `${FULLNAME}-${component}`, NAMESPACE);
const container = (objects: any[], component: 'webhook' | 'controller') =>
  deployment(objects, component).spec.template.spec.containers[0];
const configOf = (objects: any[]) =>
  find(objects, 'ConfigMap', `${FULLNAME}-config`, NAMESPACE).data['config.yaml'] as string;

describe('helm lint', () => {
  test.each([['default values', []], ...EXAMPLES.map((f) => [f.replace(ROOT, ''), ['--values', f]])])(
    '%s: no errors in strict mode',
    (_name, args) => {
      const r = helm(['lint', CHART, '--strict', ...(args as string[])]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(r.status).toBe(0);
    },
  );
});

describe('kubeVersion', () => {
  test('the oldest minor e2e:matrix tests installs; an older one is refused with the range', () => {
    expect(template({ kubeVersion: 'v1.30.0' }).length).toBeGreaterThan(10);
    expect(template({ kubeVersion: 'v1.37.2' }).length).toBeGreaterThan(10);
    expect(templateError({ kubeVersion: 'v1.29.15' })).toMatch(
      /kubeVersion: >=1\.30\.0-0 which is incompatible with Kubernetes v1\.29\.15/,
    );
  });
  test("a managed cluster's pre-release suffix (v1.30.4-eks-a737599) counts as 1.30", () =>
    expect(template({ kubeVersion: 'v1.30.4-eks-a737599' }).length).toBeGreaterThan(10));
});

describe('what is installed', () => {
  const objects = template();

  test('every object of the default install, namespaced objects in the release namespace', () => {
    const names = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(names).toEqual(
      [
        `ClusterRole/${FULLNAME}-controller`,
        `ClusterRole/${FULLNAME}-webhook`,
        `ClusterRoleBinding/${FULLNAME}-controller`,
        `ClusterRoleBinding/${FULLNAME}-webhook`,
        `ConfigMap/${FULLNAME}-config`,
        `Deployment/${FULLNAME}-controller`,
        `Lease/${FULLNAME}-controller`,
        `Lease/${FULLNAME}-webhook-tls-certificates`,
        'Lease/k8s-watcher',
        `Deployment/${FULLNAME}-webhook`,
        `MutatingWebhookConfiguration/${FULLNAME}`,
        `PodDisruptionBudget/${FULLNAME}-controller`,
        `PodDisruptionBudget/${FULLNAME}-webhook`,
        `Role/${FULLNAME}-controller`,
        `Role/${FULLNAME}-webhook`,
        `RoleBinding/${FULLNAME}-controller`,
        `RoleBinding/${FULLNAME}-webhook`,
        `Secret/${FULLNAME}-webhook-tls`,
        `Service/${FULLNAME}-controller`,
        `Service/${FULLNAME}-webhook`,
        `Service/${FULLNAME}-webhook-metrics`,
        `ServiceAccount/${FULLNAME}-controller`,
        `ServiceAccount/${FULLNAME}-webhook`,
        `ValidatingWebhookConfiguration/${FULLNAME}`,
      ].sort(),
    );
    const clusterScoped = [
      'ClusterRole',
      'ClusterRoleBinding',
      'MutatingWebhookConfiguration',
      'ValidatingWebhookConfiguration',
    ];
    for (const o of objects)
      expect([o.kind, o.metadata.namespace]).toEqual([o.kind, clusterScoped.includes(o.kind) ? undefined : NAMESPACE]);
    for (const o of objects)
      expect(o.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': 'k8s-watch-policy',
        'app.kubernetes.io/instance': RELEASE,
      });
  });

  test('a release named like the chart is not named twice; Service names stay within 63 characters', () => {
    const named = template({ release: 'k8s-watch-policy' });
    expect(find(named, 'Deployment', 'k8s-watch-policy-webhook').spec.template.spec.containers[0].args).toContain(
      'k8s-watch-policy-webhook-tls',
    );
    expect(find(named, 'MutatingWebhookConfiguration', 'k8s-watch-policy')).toBeDefined();
    const long = template({ release: 'a'.repeat(53) });
    // Services are DNS labels (63); other names DNS subdomains (253).
    for (const o of long) expect(o.metadata.name.length).toBeLessThanOrEqual(o.kind === 'Service' ? 63 : 253);
    expect(ofKind(long, 'Service').length).toBe(3);
  });

  test.each(['webhook', 'controller'] as const)(
    'the %s Deployment selects its own pods only, and its Services, PDB and spread select them',
    (component) => {
      const d = deployment(objects, component);
      const other = deployment(objects, component === 'webhook' ? 'controller' : 'webhook');
      const podLabels = d.spec.template.metadata.labels;
      expect(d.spec.selector.matchLabels).toEqual({
        'app.kubernetes.io/name': 'k8s-watch-policy',
        'app.kubernetes.io/instance': RELEASE,
        'app.kubernetes.io/component': component,
      });
      expect(selects(d.spec.selector.matchLabels, podLabels)).toBe(true);
      expect(selects(d.spec.selector.matchLabels, other.spec.template.metadata.labels)).toBe(false);
      const services = ofKind(objects, 'Service').filter((s) => selects(s.spec.selector, podLabels));
      expect(services.map((s) => s.metadata.name).sort()).toEqual(
        component === 'webhook' ? [SVC, `${FULLNAME}-webhook-metrics`] : [`${FULLNAME}-controller`],
      );
      for (const s of services) expect(selects(s.spec.selector, other.spec.template.metadata.labels)).toBe(false);
      const pdb = find(objects, 'PodDisruptionBudget', `${FULLNAME}-${component}`);
      expect(pdb.spec).toEqual({ minAvailable: 1, selector: { matchLabels: d.spec.selector.matchLabels } });
      expect(d.spec.replicas).toBe(2);
      const [spread] = d.spec.template.spec.topologySpreadConstraints;
      expect(spread).toMatchObject({
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        nodeTaintsPolicy: 'Honor',
      });
      expect(spread.labelSelector.matchLabels).toEqual(d.spec.selector.matchLabels);
    },
  );

  test('Service ports reach container ports by name: webhook 443 -> 9443, metrics 8080 and 8081', () => {
    const portOf = (component: 'webhook' | 'controller', name: string) =>
      container(objects, component).ports.find((p: any) => p.name === name)?.containerPort;
    const svc = (name: string) => find(objects, 'Service', name).spec.ports;
    expect(svc(SVC)).toEqual([{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
    expect(portOf('webhook', 'https')).toBe(9443);
    expect(svc(`${FULLNAME}-webhook-metrics`)).toEqual([
      { name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' },
    ]);
    expect(portOf('webhook', 'metrics')).toBe(8080);
    expect(svc(`${FULLNAME}-controller`)).toEqual([
      { name: 'metrics', port: 8081, targetPort: 'metrics', protocol: 'TCP' },
    ]);
    expect(portOf('controller', 'metrics')).toBe(8081);
  });

  test('the webhook command line (certificates.mode=self)', () => {
    const c = container(objects, 'webhook');
    expect(c.image).toBe('ghcr.io/deepflowio/k8s-watch-policy:0.1.0');
    expect(c.args).toEqual([
      'webhook',
      '--config',
      '/etc/k8s-watch-policy/config.yaml',
      '--port',
      '9443',
      '--metrics-port',
      '8080',
      '--log-level',
      'info',
      '--drain-delay',
      '5s',
      '--tls-secret',
      `${FULLNAME}-webhook-tls`,
      '--tls-namespace',
      NAMESPACE,
      '--tls-dns',
      DNS,
      '--webhook-selector',
      `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/name=k8s-watch-policy`,
    ]);
    expect(c.command).toBeUndefined(); // the image's ENTRYPOINT is the CLI
    // The drain delay, the in-flight reviews (bounded by the API server's timeout) and a margin.
    expect(
      ofKind(objects, 'Deployment').find((d) => d.metadata.name === `${FULLNAME}-webhook`).spec.template.spec
        .terminationGracePeriodSeconds,
    ).toBe(30);
    // The pair is read from the Secret through the API: no certificate volume.
    expect(c.volumeMounts.map((m: any) => m.mountPath).sort()).toEqual(['/etc/k8s-watch-policy', '/tmp']);
    expect(c.env).toEqual([
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      // The heap caps under which 32 concurrent maximum-size reviews stay within the memory limit (test/cli/hostile.test.ts).
      { name: 'NODE_OPTIONS', value: '--max-semi-space-size=2 --max-old-space-size=96' },
      { name: 'MALLOC_ARENA_MAX', value: '2' },
    ]);
    expect(c.resources.limits.memory).toBe('320Mi');
  });

  test('the Leases and the Secret the processes write are part of the release (uninstall removes them), created empty', () => {
    const leases = ofKind(objects, 'Lease');
    for (const l of leases) expect(l.spec).toEqual({});
    const args: string[] = container(objects, 'controller').args;
    expect(leases.map((l) => l.metadata.name)).toContain(args[args.indexOf('--leader-lease') + 1]);
    // The certificate manager's Lease is named after --tls-secret (src/certs/certificate_manager.ts).
    const webhookArgs: string[] = container(objects, 'webhook').args;
    expect(leases.map((l) => l.metadata.name)).toContain(
      `${webhookArgs[webhookArgs.indexOf('--tls-secret') + 1]}-certificates`,
    );
    // The published watcher's Lease follows config.election.leaseName.
    expect(
      ofKind(template({ values: { config: { election: { leaseName: 'deepflow-watcher' } } } }), 'Lease')
        .map((l) => l.metadata.name)
        .sort(),
    ).toEqual([`${FULLNAME}-controller`, `${FULLNAME}-webhook-tls-certificates`, 'deepflow-watcher'].sort());
    // The certificate Secret is named by --tls-secret, Opaque and without data: Helm's three-way merge
    // resets only the keys a chart renders, so an upgrade leaves what the webhook wrote alone.
    const secrets = ofKind(objects, 'Secret');
    expect(secrets.map((s) => s.metadata.name)).toEqual([webhookArgs[webhookArgs.indexOf('--tls-secret') + 1]]);
    expect(secrets[0]).not.toHaveProperty('data');
    expect(secrets[0]).not.toHaveProperty('stringData');
    expect(secrets[0].type).toBe('Opaque');
  });

  test('the controller command line, with its identity and namespace from the downward API', () => {
    const c = container(objects, 'controller');
    expect(c.args).toEqual([
      'controller',
      '--config',
      '/etc/k8s-watch-policy/config.yaml',
      '--metrics-port',
      '8081',
      '--log-level',
      'info',
      '--leader-lease',
      `${FULLNAME}-controller`,
      '--lease-duration',
      '15s',
      '--renew-deadline',
      '10s',
      '--retry-period',
      '2s',
      '--multiple-watch-only-grace',
      '60s',
    ]);
    expect(c.env).toEqual([
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      // The heap caps measured by bench:scale (100,000 agent pods: 224 MB RSS at the peak).
      { name: 'NODE_OPTIONS', value: '--max-semi-space-size=1 --max-old-space-size=160' },
      { name: 'MALLOC_ARENA_MAX', value: '2' },
    ]);
  });

  test('controller.heap: each cap on its own; both null gives Node its defaults', () => {
    const env = (heap: object) =>
      container(template({ values: { controller: { heap } } }), 'controller').env.filter(
        (e: any) => e.name === 'NODE_OPTIONS' || e.name === 'MALLOC_ARENA_MAX',
      );
    expect(env({ maxOldSpaceMB: 160, semiSpaceMB: null })).toEqual([
      { name: 'NODE_OPTIONS', value: '--max-old-space-size=160' },
      { name: 'MALLOC_ARENA_MAX', value: '2' },
    ]);
    expect(env({ maxOldSpaceMB: null, semiSpaceMB: 4 })[0]).toEqual({
      name: 'NODE_OPTIONS',
      value: '--max-semi-space-size=4',
    });
    expect(env({ maxOldSpaceMB: null, semiSpaceMB: null })).toEqual([]);
  });

  test("the selector the webhook is given selects exactly the chart's two webhook configurations", () => {
    const args: string[] = container(objects, 'webhook').args;
    const selector = Object.fromEntries(
      args[args.indexOf('--webhook-selector') + 1]!.split(',').map((kv) => kv.split('=') as [string, string]),
    );
    const selected = objects.filter((o) => selects(selector, o.metadata.labels)).map((o) => o.kind);
    // Every object of the release carries these labels; among webhook configurations, only these two.
    expect(selected.filter((k) => k.endsWith('WebhookConfiguration')).sort()).toEqual([
      'MutatingWebhookConfiguration',
      'ValidatingWebhookConfiguration',
    ]);
    const other = template({ release: 'other' });
    expect(
      other.filter((o) => o.kind.endsWith('WebhookConfiguration') && selects(selector, o.metadata.labels)),
    ).toEqual([]);
  });

  test('probes: /readyz and /healthz over HTTPS on 9443 (webhook), over HTTP on 8081 (controller)', () => {
    const w = container(objects, 'webhook');
    expect(w.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 9443, scheme: 'HTTPS' });
    expect(w.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 9443, scheme: 'HTTPS' });
    const c = container(objects, 'controller');
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 8081, scheme: 'HTTP' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 8081, scheme: 'HTTP' });
  });

  test.each(['webhook', 'controller'] as const)(
    'the %s pod is hardened (restricted Pod Security Standard) and has resources',
    (component) => {
      const spec = deployment(objects, component).spec.template.spec;
      expect(spec.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(spec.hostNetwork ?? false).toBe(false);
      expect(spec.serviceAccountName).toBe(`${FULLNAME}-${component}`);
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        expect(c.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
        expect(c.resources.limits.memory).toEqual(expect.any(String));
        expect(c.imagePullPolicy).toBe('IfNotPresent');
      }
      // Only volume types the restricted profile allows.
      for (const v of spec.volumes)
        expect(Object.keys(v).filter((k) => k !== 'name')).toEqual([
          expect.stringMatching(/^(configMap|secret|emptyDir)$/),
        ]);
    },
  );

  test('image values: tag, digest, pull policy', () => {
    const byTag = container(
      template({ values: { image: { repository: 'registry.local/kwp', tag: 'v9', pullPolicy: 'Always' } } }),
      'webhook',
    );
    expect([byTag.image, byTag.imagePullPolicy]).toEqual(['registry.local/kwp:v9', 'Always']);
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(container(template({ values: { image: { digest } } }), 'controller').image).toBe(
      `ghcr.io/deepflowio/k8s-watch-policy@${digest}`,
    );
  });

  test('one replica: no PodDisruptionBudget (it would block every node drain)', () => {
    const single = template({ values: { webhook: { replicas: 1 }, controller: { replicas: 3 } } });
    expect(ofKind(single, 'PodDisruptionBudget').map((p) => p.metadata.name)).toEqual([`${FULLNAME}-controller`]);
    expect(deployment(single, 'controller').spec.replicas).toBe(3);
  });

  test('webhook.nodeCache=false: --no-node-cache, and no Node access', () => {
    const off = template({ values: { webhook: { nodeCache: false } } });
    expect(container(off, 'webhook').args).toContain('--no-node-cache');
    expect(container(objects, 'webhook').args).not.toContain('--no-node-cache');
    const rules = find(off, 'ClusterRole', `${FULLNAME}-webhook`).rules;
    expect(rules.some((r: any) => r.resources.includes('nodes'))).toBe(false);
  });
});

describe('the config file', () => {
  test('default values: an empty document, which the program reads as every default', () => {
    const text = configOf(template());
    expect(parseConfig(text)).toEqual(parseConfig(''));
  });

  test.each(EXAMPLES.map((f) => [f.replace(ROOT, ''), f]))(
    '%s: the program accepts the rendered config and gets the values given',
    (_name, file) => {
      const text = configOf(template({ valuesFiles: [file] }));
      const cfg = parseConfig(text);
      expect(cfg.onlyWatchValue).toBe('watch-only');
      expect(cfg.deprecatedEnv).toBe('reject');
    },
  );

  test('every field of DESIGN §4 passes through as given', () => {
    const config = {
      agent: {
        containerNames: ['agent'],
        imageNames: ['deepflow-agent', 'df-agent'],
        infrastructureContainers: ['envoy'],
      },
      onlyWatchValue: 'watch-only',
      deprecatedEnv: 'migrate',
      invalidPolicy: 'warn',
      explicitEnv: 'override',
      watcherSelector: {
        matchExpressions: [{ key: 'deepflow.io/role', operator: 'In', values: ['k8s-watcher', 'watcher'] }],
      },
      inferWatcherFromDeployment: false,
      serverless: {
        sidecar: false,
        podLabels: { 'a/b': '*' },
        podAnnotations: {},
        nodeSelectors: { type: 'virtual-kubelet' },
        tolerationKeys: [],
        nodeLabels: {},
      },
      election: { namespaces: ['deepflow'], leaseName: 'watcher' },
    };
    expect(parseConfig(configOf(template({ values: { config } })))).toEqual(config);
  });

  test('a config change rolls both Deployments (checksum annotation); other values do not', () => {
    const checksum = (objects: any[], component: 'webhook' | 'controller') =>
      deployment(objects, component).spec.template.metadata.annotations['checksum/config'];
    const base = template();
    const changed = template({ values: { config: { deprecatedEnv: 'warn' } } });
    const scaled = template({ values: { webhook: { replicas: 3 } } });
    for (const component of ['webhook', 'controller'] as const) {
      expect(checksum(base, component)).toMatch(/^[0-9a-f]{64}$/);
      expect(checksum(changed, component)).not.toBe(checksum(base, component));
      expect(checksum(scaled, component)).toBe(checksum(base, component));
    }
  });
});

describe('the webhook configurations', () => {
  const expected = (o: {
    failurePolicy: 'Fail' | 'Ignore';
    timeoutSeconds: number;
    exclude?: string[];
    labels: Record<string, string>;
  }) =>
    webhookConfigurations({
      name: FULLNAME,
      clientConfig: (path) => ({ service: { namespace: NAMESPACE, name: SVC, port: 443, path } }),
      excludeNamespaces: [NAMESPACE, ...(o.exclude ?? [])],
      failurePolicy: o.failurePolicy,
      timeoutSeconds: o.timeoutSeconds,
      labels: o.labels,
    });

  /** The rendered configuration without the chart's own annotations. */
  const bare = (o: any) => {
    const { annotations: _annotations, ...metadata } = o.metadata;
    return { ...o, metadata };
  };

  test('equal to src/webhook/webhook_configuration.ts with a service clientConfig (defaults: Fail, 10 s)', () => {
    const objects = template();
    const mutating = find(objects, 'MutatingWebhookConfiguration', FULLNAME);
    const validating = find(objects, 'ValidatingWebhookConfiguration', FULLNAME);
    const want = expected({ failurePolicy: 'Fail', timeoutSeconds: 10, labels: mutating.metadata.labels });
    expect(bare(mutating)).toEqual(want.mutating);
    expect(bare(validating)).toEqual(want.validating);
    // What the equality means, spelled out.
    for (const w of [...mutating.webhooks, ...validating.webhooks]) {
      expect(w).toMatchObject({
        sideEffects: 'None',
        failurePolicy: 'Fail',
        timeoutSeconds: 10,
        admissionReviewVersions: ['v1'],
      });
      expect(w.clientConfig.caBundle).toBeUndefined(); // written by the webhook (mode self)
      expect(w.namespaceSelector.matchExpressions).toContainEqual({
        key: 'kubernetes.io/metadata.name',
        operator: 'NotIn',
        values: ['kube-system', NAMESPACE],
      });
    }
    expect(mutating.webhooks.map((w: any) => w.reinvocationPolicy)).toEqual(['IfNeeded', 'IfNeeded']);
    expect(mutating.webhooks.map((w: any) => w.name)).toEqual([
      'namespace.pods.k8s-watch-policy.deepflow.io',
      'object.pods.k8s-watch-policy.deepflow.io',
    ]);
  });

  test('failurePolicy, timeoutSeconds and extra excluded namespaces come from values', () => {
    const objects = template({
      values: { webhook: { failurePolicy: 'Ignore', timeoutSeconds: 5, excludeNamespaces: ['monitoring'] } },
    });
    const mutating = find(objects, 'MutatingWebhookConfiguration', FULLNAME);
    const want = expected({
      failurePolicy: 'Ignore',
      timeoutSeconds: 5,
      exclude: ['monitoring'],
      labels: mutating.metadata.labels,
    });
    expect(bare(mutating)).toEqual(want.mutating);
    expect(bare(find(objects, 'ValidatingWebhookConfiguration', FULLNAME))).toEqual(want.validating);
  });

  test('installed into kube-system: excluded once', () => {
    const objects = template({ namespace: 'kube-system' });
    const [w] = find(objects, 'MutatingWebhookConfiguration', FULLNAME).webhooks;
    expect(w.namespaceSelector.matchExpressions[1].values).toEqual(['kube-system']);
  });
});

describe('certificates.mode=certManager', () => {
  const objects = template(CERT_MANAGER);

  test('a self-signed CA chain and a serving certificate for the Service names, into <fullname>-webhook-tls', () => {
    const cert = find(objects, 'Certificate', `${FULLNAME}-webhook`, NAMESPACE);
    expect(cert.spec).toMatchObject({
      secretName: `${FULLNAME}-webhook-tls`,
      dnsNames: DNS.split(','),
      issuerRef: { name: `${FULLNAME}-ca`, kind: 'Issuer' },
    });
    expect(find(objects, 'Issuer', `${FULLNAME}-ca`).spec).toEqual({ ca: { secretName: `${FULLNAME}-ca` } });
    expect(find(objects, 'Certificate', `${FULLNAME}-ca`).spec).toMatchObject({
      isCA: true,
      secretName: `${FULLNAME}-ca`,
      issuerRef: { name: `${FULLNAME}-ca-bootstrap` },
    });
    expect(find(objects, 'Issuer', `${FULLNAME}-ca-bootstrap`).spec).toEqual({ selfSigned: {} });
    expect(ofKind(objects, 'Secret')).toEqual([]); // cert-manager writes it
    expect(
      ofKind(objects, 'Lease')
        .map((l) => l.metadata.name)
        .sort(),
    ).toEqual([`${FULLNAME}-controller`, 'k8s-watcher'].sort());
  });

  test('the Secret is mounted at /certs; no self-management flags', () => {
    const d = deployment(objects, 'webhook');
    const c = d.spec.template.spec.containers[0];
    expect(c.args).toEqual([
      'webhook',
      '--config',
      '/etc/k8s-watch-policy/config.yaml',
      '--port',
      '9443',
      '--metrics-port',
      '8080',
      '--log-level',
      'info',
      '--drain-delay',
      '5s',
      '--cert-dir',
      '/certs',
    ]);
    const mount = c.volumeMounts.find((m: any) => m.mountPath === '/certs');
    expect(mount.readOnly).toBe(true);
    expect(d.spec.template.spec.volumes.find((v: any) => v.name === mount.name)).toEqual({
      name: mount.name,
      secret: { secretName: `${FULLNAME}-webhook-tls` },
    });
  });

  test('both webhook configurations ask cert-manager to inject the CA, and carry no caBundle', () => {
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const o = find(objects, kind, FULLNAME);
      expect(o.metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': `${NAMESPACE}/${FULLNAME}-webhook` });
      for (const w of o.webhooks) expect(w.clientConfig.caBundle).toBeUndefined();
    }
  });

  test("an existing issuer replaces the chart's CA chain", () => {
    const own = template({
      ...CERT_MANAGER,
      values: {
        certificates: {
          mode: 'certManager',
          certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' } },
        },
      },
    });
    expect(ofKind(own, 'Issuer')).toEqual([]);
    expect(ofKind(own, 'Certificate').map((c) => c.spec.issuerRef)).toEqual([
      { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
    ]);
  });

  test('without cert-manager in the cluster: a clear failure', () => {
    expect(templateError({ values: { certificates: { mode: 'certManager' } } })).toMatch(
      /certificates.mode=certManager needs cert-manager \(API cert-manager.io\/v1\)/,
    );
  });
});

describe('ServiceMonitor', () => {
  test('off by default; when on, it scrapes the metrics port of both metrics Services', () => {
    expect(ofKind(template(), 'ServiceMonitor')).toEqual([]);
    const objects = template({
      values: { serviceMonitor: { enabled: true, labels: { release: 'prom' } } },
      apiVersions: ['monitoring.coreos.com/v1'],
    });
    const sm = find(objects, 'ServiceMonitor', FULLNAME, NAMESPACE);
    expect(sm.metadata.labels.release).toBe('prom');
    expect(sm.spec.endpoints).toEqual([
      { port: 'metrics', path: '/metrics', scheme: 'http', interval: '30s', scrapeTimeout: '10s' },
    ]);
    const scraped = ofKind(objects, 'Service').filter((s) => selects(sm.spec.selector.matchLabels, s.metadata.labels));
    expect(scraped.map((s) => s.metadata.name).sort()).toEqual([
      `${FULLNAME}-controller`,
      `${FULLNAME}-webhook-metrics`,
    ]);
    for (const s of scraped) expect(s.spec.ports.map((p: any) => p.name)).toContain('metrics');
    expect(templateError({ values: { serviceMonitor: { enabled: true } } })).toMatch(/monitoring.coreos.com\/v1/);
  });
});

describe('values.schema.json and the program agree on the config', () => {
  const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
  const config = schema.properties.config;

  test('the same fields at every level as src/config/config.ts (a new field must be allowed by the chart too)', () => {
    const d = defaultConfig();
    expect(Object.keys(config.properties).sort()).toEqual(Object.keys(d).sort());
    for (const section of ['agent', 'serverless', 'election'] as const)
      expect([section, Object.keys(config.properties[section].properties).sort()]).toEqual([
        section,
        Object.keys(d[section]).sort(),
      ]);
  });

  test('every value the schema allows for an enumerated field is one the program accepts, and the program refuses others', () => {
    for (const field of ['onlyWatchValue', 'deprecatedEnv', 'invalidPolicy', 'explicitEnv'] as const) {
      const allowed: string[] = config.properties[field].enum;
      for (const value of allowed) expect(parseConfig(JSON.stringify({ [field]: value }))[field]).toBe(value);
      expect(() => parseConfig(JSON.stringify({ [field]: `${allowed[0]}x` }))).toThrow(
        new RegExp(`${field}: must be one of ${allowed.join(', ')}`),
      );
    }
  });
});

describe('webhook.hostNetwork (managed clusters whose control plane cannot reach pod IPs)', () => {
  const webhookPod = (values: object) =>
    find(template({ values }), 'Deployment', `${FULLNAME}-webhook`).spec.template.spec;

  test('off by default: the pod network, the default DNS policy', () => {
    const spec = webhookPod({});
    expect([spec.hostNetwork, spec.dnsPolicy]).toEqual([undefined, undefined]);
  });

  test("on: the node's network, ClusterFirstWithHostNet so that Service names still resolve, the chosen ports", () => {
    const spec = webhookPod({ webhook: { hostNetwork: true, port: 10260, metricsPort: 10261 } });
    expect([spec.hostNetwork, spec.dnsPolicy]).toEqual([true, 'ClusterFirstWithHostNet']);
    expect(spec.containers[0].ports.map((p: any) => p.containerPort)).toEqual([10260, 10261]);
    expect(spec.containers[0].readinessProbe.httpGet.port).toBe(10260);
  });

  test("the kubelet's port is allowed in the pod network, where nothing else uses it", () => {
    expect(webhookPod({ webhook: { port: 10250 } }).containers[0].ports[0].containerPort).toBe(10250);
  });
});

describe('priorityClassName', () => {
  const classes = (values?: unknown) =>
    ['webhook', 'controller'].map(
      (c) =>
        find(template(values === undefined ? {} : { values }), 'Deployment', `${FULLNAME}-${c}`).spec.template.spec
          .priorityClassName,
    );
  test('none by default; each component its own when set (system-cluster-critical for the webhook)', () => {
    expect(classes()).toEqual([undefined, undefined]);
    expect(
      classes({
        webhook: { priorityClassName: 'system-cluster-critical' },
        controller: { priorityClassName: 'deepflow-high' },
      }),
    ).toEqual(['system-cluster-critical', 'deepflow-high']);
  });
});

describe('networkPolicy', () => {
  test('off by default', () => {
    expect(template().filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
  });

  test('on: one per component, selecting its pods, admitting exactly the ports its containers serve', () => {
    const objects = template({ values: { networkPolicy: { enabled: true }, webhook: { port: 10250 } } });
    for (const component of ['webhook', 'controller']) {
      const policy = find(objects, 'NetworkPolicy', `${FULLNAME}-${component}`);
      const pod = find(objects, 'Deployment', `${FULLNAME}-${component}`).spec.template;
      expect(selects(policy.spec.podSelector.matchLabels, pod.metadata.labels)).toBe(true);
      expect(policy.spec.policyTypes).toEqual(['Ingress']);
      const served = pod.spec.containers[0].ports.map((p: any) => p.containerPort).sort();
      expect(policy.spec.ingress[0].ports.map((p: any) => p.port).sort()).toEqual(served);
    }
  });
});

describe('values the schema refuses, with a message that names them', () => {
  test.each([
    [
      'failurePolicy not Fail/Ignore',
      { webhook: { failurePolicy: 'Never' } },
      /\/webhook\/failurePolicy.*'Fail', 'Ignore'/,
    ],
    [
      'config.deprecatedEnv not reject/warn/migrate',
      { config: { deprecatedEnv: 'drop' } },
      /\/config\/deprecatedEnv.*'reject', 'warn', 'migrate'/,
    ],
    ['config.onlyWatchValue misspelt', { config: { onlyWatchValue: 'WATCH-ONLY' } }, /\/config\/onlyWatchValue/],
    ['an unknown config field', { config: { deprecatedEnvs: 'warn' } }, /\/config.*'deprecatedEnvs' not allowed/],
    [
      'a config map of non-strings',
      { config: { serverless: { podLabels: { 'a/b': 1 } } } },
      /\/config\/serverless\/podLabels\/a~1b/,
    ],
    ['webhook replicas < 1', { webhook: { replicas: 0 } }, /\/webhook\/replicas.*minimum/],
    [
      "host network on the kubelet's port",
      { webhook: { hostNetwork: true, port: 10250 } },
      /\/webhook\/port.*(not|must not)/,
    ],
    [
      "host network with metrics on kube-proxy's port",
      { webhook: { hostNetwork: true, port: 10260, metricsPort: 10249 } },
      /\/webhook\/metricsPort.*(not|must not)/,
    ],
    ['controller replicas < 1', { controller: { replicas: 0 } }, /\/controller\/replicas.*minimum/],
    [
      'a controller heap too small to start',
      { controller: { heap: { maxOldSpaceMB: 8 } } },
      /\/controller\/heap\/maxOldSpaceMB.*minimum/,
    ],
    [
      'timeoutSeconds above the API limit of 30',
      { webhook: { timeoutSeconds: 31 } },
      /\/webhook\/timeoutSeconds.*maximum/,
    ],
    [
      'an unknown certificates mode',
      { certificates: { mode: 'manual' } },
      /\/certificates\/mode.*'self', 'certManager'/,
    ],
    ['a typo in a top-level key', { webhooks: { replicas: 2 } }, /'webhooks' not allowed/],
    [
      'a leader-election duration the CLI cannot read',
      { controller: { leaderElection: { leaseDuration: '15 seconds' } } },
      /\/controller\/leaderElection\/leaseDuration/,
    ],
    ['an image pull policy that does not exist', { image: { pullPolicy: 'Sometimes' } }, /\/image\/pullPolicy/],
    [
      'a watcherSelector In without values',
      { config: { watcherSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } } },
      /\/config\/watcherSelector\/matchExpressions\/0.*missing property 'values'/s,
    ],
    [
      'a watcherSelector Exists with values',
      { config: { watcherSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } } },
      /matchExpressions\/0\/values.*maxItems/,
    ],
  ])('%s', (_name, values, message) => {
    expect(templateError({ values })).toMatch(message);
  });

  test("a watcher Lease named like the controller's leader Lease", () => {
    expect(templateError({ values: { config: { election: { leaseName: `${FULLNAME}-controller` } } } })).toMatch(
      /config.election.leaseName .* is the controller replicas' own leader Lease/,
    );
  });
});
