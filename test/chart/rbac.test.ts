/**
 * The chart's RBAC, rule by rule: every permission any rendering grants (default values, both
 * certificate modes, the node cache off, election namespaces, the examples) must be on the
 * documented allow-list below, and the controller's must be exactly what
 * src/controller/permissions.ts checks at start.
 */
import { describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { requiredPermissions } from '../../src/controller/permissions.ts';
import { FULLNAME, NAMESPACE, ofKind, RELEASE, ROOT, template, type TemplateOptions } from '../support/helm.ts';

type Component = 'webhook' | 'controller';
/** cluster: a ClusterRole; release: a Role in the release namespace; election: a Role in a config.election namespace. */
type Scope = 'cluster' | 'release' | 'election';

interface Grant {
  component: Component;
  scope: Scope;
  namespace?: string;
  group: string;
  resource: string;
  verb: string;
  /** Sorted and comma-joined; '' when the rule is not limited by name. */
  names: string;
}

interface Allowed {
  component: Component;
  scope: Scope;
  group: string;
  resources: string[];
  verbs: string[];
  names?: string[];
  why: string;
}

const TLS = `${FULLNAME}-webhook-tls`;
const TLS_LEASE = `${TLS}-certificates`;

/** Everything the chart may grant, and why. Anything else fails the test. */
const ALLOW_LIST: Allowed[] = [
  {
    component: 'webhook',
    scope: 'cluster',
    group: '',
    resources: ['nodes'],
    verbs: ['list', 'watch'],
    why: 'the node cache (rule serverless-node-label); off with webhook.nodeCache=false',
  },
  {
    component: 'webhook',
    scope: 'cluster',
    group: 'admissionregistration.k8s.io',
    resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'],
    verbs: ['patch'],
    names: [FULLNAME],
    why: 'mode self: writing the caBundle of its own two configurations, by name',
  },
  {
    component: 'webhook',
    scope: 'cluster',
    group: 'admissionregistration.k8s.io',
    resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'],
    verbs: ['list'],
    why: 'mode self: finding them by --webhook-selector; resourceNames cannot limit a list by label selector; they hold no secrets',
  },
  {
    component: 'webhook',
    scope: 'release',
    group: '',
    resources: ['secrets'],
    verbs: ['get', 'list', 'watch', 'update'],
    names: [TLS],
    why: 'mode self: its own certificate Secret, by name (list/watch with a metadata.name field selector)',
  },
  {
    component: 'webhook',
    scope: 'release',
    group: 'coordination.k8s.io',
    resources: ['leases'],
    verbs: ['get', 'update'],
    names: [TLS_LEASE],
    why: 'mode self: the certificate manager election, by name',
  },
  {
    component: 'webhook',
    scope: 'release',
    group: 'coordination.k8s.io',
    resources: ['leases'],
    verbs: ['create'],
    why: 'mode self: recreating that Lease; create cannot be limited by name',
  },
  {
    component: 'controller',
    scope: 'cluster',
    group: '',
    resources: ['nodes'],
    verbs: ['list', 'watch'],
    why: 'node readiness of candidates',
  },
  {
    component: 'controller',
    scope: 'cluster',
    group: '',
    resources: ['pods'],
    verbs: ['list', 'watch', 'patch'],
    why: 'candidates and the watcher label, election in all namespaces',
  },
  {
    component: 'controller',
    scope: 'cluster',
    group: '',
    resources: ['events'],
    verbs: ['create'],
    why: 'Events on agent pods, election in all namespaces',
  },
  {
    component: 'controller',
    scope: 'release',
    group: 'coordination.k8s.io',
    resources: ['leases'],
    verbs: ['get', 'create', 'update'],
    why: 'leader election and the published watcher Lease',
  },
  {
    component: 'controller',
    scope: 'release',
    group: '',
    resources: ['events'],
    verbs: ['create'],
    why: 'NoWatcherCandidate on the watcher Lease',
  },
  {
    component: 'controller',
    scope: 'election',
    group: '',
    resources: ['pods'],
    verbs: ['list', 'watch', 'patch'],
    why: 'candidates and the watcher label, config.election.namespaces',
  },
  {
    component: 'controller',
    scope: 'election',
    group: '',
    resources: ['events'],
    verbs: ['create'],
    why: 'Events on agent pods, config.election.namespaces',
  },
];

const VARIANTS: [string, TemplateOptions][] = [
  ['default values', {}],
  ['certManager', { values: { certificates: { mode: 'certManager' } }, apiVersions: ['cert-manager.io/v1'] }],
  ['node cache off', { values: { webhook: { nodeCache: false } } }],
  ['election namespaces', { values: { config: { election: { namespaces: ['agents', 'deepflow', NAMESPACE] } } } }],
  ['values-ordinary', { valuesFiles: [join(ROOT, 'examples', 'values-ordinary.yaml')] }],
  ['values-serverless', { valuesFiles: [join(ROOT, 'examples', 'values-serverless.yaml')] }],
];

const rendered = new Map(VARIANTS.map(([name, o]) => [name, template(o)]));

function grants(objects: any[]): Grant[] {
  const out: Grant[] = [];
  for (const role of objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
    const component = role.metadata.labels['app.kubernetes.io/component'] as Component;
    const namespace: string | undefined = role.metadata.namespace;
    const scope: Scope =
      role.kind === 'ClusterRole'
        ? 'cluster'
        : namespace === NAMESPACE && role.metadata.name === `${FULLNAME}-${component}`
          ? 'release'
          : 'election';
    for (const rule of role.rules) {
      expect(rule.nonResourceURLs).toBeUndefined();
      for (const group of rule.apiGroups) {
        for (const resource of rule.resources) {
          for (const verb of rule.verbs) {
            out.push({
              component,
              scope,
              ...(namespace !== undefined && { namespace }),
              group,
              resource,
              verb,
              names: [...(rule.resourceNames ?? [])].sort().join(','),
            });
          }
        }
      }
    }
  }
  return out;
}

const allowedBy = (g: Grant) =>
  ALLOW_LIST.find(
    (a) =>
      a.component === g.component &&
      a.scope === g.scope &&
      a.group === g.group &&
      a.resources.includes(g.resource) &&
      a.verbs.includes(g.verb) &&
      [...(a.names ?? [])].sort().join(',') === g.names,
  );

describe.each(VARIANTS.map(([name]) => name))('%s', (variant) => {
  const objects = rendered.get(variant)!;
  const all = grants(objects);

  test('every rule is on the allow-list', () => {
    expect(all.length).toBeGreaterThan(0);
    const unlisted = all.filter((g) => !allowedBy(g));
    expect(unlisted).toEqual([]);
  });

  test('no wildcard, no Secret outside the release namespace, no Secret read without a name', () => {
    for (const role of objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
      for (const rule of role.rules) {
        for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames'])
          expect(rule[field] ?? []).not.toContain('*');
      }
    }
    for (const g of all.filter((x) => x.resource === 'secrets')) {
      expect([g.component, g.scope, g.namespace]).toEqual(['webhook', 'release', NAMESPACE]);
      if (g.verb !== 'create') expect(g.names).toBe(TLS);
    }
    // Nothing may read Secrets or ConfigMaps broadly, or escalate.
    for (const g of all) {
      expect(g.resource).not.toMatch(
        /^(configmaps|serviceaccounts|roles|clusterroles|rolebindings|clusterrolebindings|secrets\/.*|pods\/exec)$/,
      );
      expect(g.verb).not.toMatch(/^(delete|deletecollection|escalate|bind|impersonate)$/);
    }
  });

  test('each role is bound to its own ServiceAccount only, and every binding refers to a role of the chart', () => {
    const roles = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
    const bindings = objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding');
    expect(bindings.length).toBe(roles.length);
    for (const b of bindings) {
      const component = b.metadata.labels['app.kubernetes.io/component'];
      const roleKind = b.kind === 'ClusterRoleBinding' ? 'ClusterRole' : 'Role';
      expect(b.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: b.metadata.name });
      expect(
        roles.some(
          (r) =>
            r.kind === roleKind && r.metadata.name === b.roleRef.name && r.metadata.namespace === b.metadata.namespace,
        ),
      ).toBe(true);
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: `${FULLNAME}-${component}`, namespace: NAMESPACE }]);
    }
    const accounts = ofKind(objects, 'ServiceAccount')
      .map((s) => s.metadata.name)
      .sort();
    expect(accounts).toEqual([`${FULLNAME}-controller`, `${FULLNAME}-webhook`]);
  });
});

describe('the webhook', () => {
  const byMode = (variant: string) => grants(rendered.get(variant)!).filter((g) => g.component === 'webhook');

  test('mode self: its Secret and Lease by name, its two configurations by name, Nodes', () => {
    const key = (g: Grant) => `${g.scope} ${g.verb} ${g.group}/${g.resource}${g.names ? ` [${g.names}]` : ''}`;
    expect(byMode('default values').map(key).sort()).toEqual(
      [
        'cluster list /nodes',
        'cluster watch /nodes',
        ...['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'].flatMap((r) => [
          `cluster list admissionregistration.k8s.io/${r}`,
          `cluster patch admissionregistration.k8s.io/${r} [${FULLNAME}]`,
        ]),
        ...['get', 'list', 'watch', 'update'].map((verb) => `release ${verb} /secrets [${TLS}]`),
        ...['get', 'update'].map((verb) => `release ${verb} coordination.k8s.io/leases [${TLS_LEASE}]`),
        'release create coordination.k8s.io/leases',
      ].sort(),
    );
  });

  test('mode certManager: no Secret, Lease or webhook configuration access at all', () => {
    const granted = byMode('certManager');
    expect(
      granted.filter((g) =>
        ['secrets', 'leases', 'mutatingwebhookconfigurations', 'validatingwebhookconfigurations'].includes(g.resource),
      ),
    ).toEqual([]);
    expect(granted.map((g) => `${g.verb} ${g.resource}`).sort()).toEqual(['list nodes', 'watch nodes']);
  });

  test('certManager and no node cache: no RBAC at all, and no API token in the pod', () => {
    const objects = template({
      values: { certificates: { mode: 'certManager' }, webhook: { nodeCache: false } },
      apiVersions: ['cert-manager.io/v1'],
    });
    expect(
      objects.filter((o) => /Role/.test(o.kind) && o.metadata.labels['app.kubernetes.io/component'] === 'webhook'),
    ).toEqual([]);
    const webhook = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === `${FULLNAME}-webhook`);
    expect(webhook.spec.template.spec.automountServiceAccountToken).toBe(false);
  });

  test('the webhook never touches pods (it reviews them; the API server sends them)', () => {
    for (const [variant] of VARIANTS) expect(byMode(variant).filter((g) => g.resource === 'pods')).toEqual([]);
  });
});

describe('the controller: exactly src/controller/permissions.ts', () => {
  const key = (verb: string, group: string, resource: string, namespace: string | undefined) =>
    `${verb} ${group}/${resource} in ${namespace ?? '(all namespaces)'}`;

  test.each([
    ['all namespaces', 'default values', [] as string[]],
    ['config.election.namespaces', 'election namespaces', ['agents', 'deepflow', NAMESPACE]],
    ['values-ordinary', 'values-ordinary', ['deepflow']],
  ])('%s', (_name, variant, electionNamespaces) => {
    const granted = grants(rendered.get(variant)!).filter((g) => g.component === 'controller');
    expect(granted.filter((g) => g.names !== '')).toEqual([]); // checked at start without a name
    const have = new Set(
      granted.map((g) => key(g.verb, g.group, g.resource, g.scope === 'cluster' ? undefined : g.namespace)),
    );
    const want = new Set(
      requiredPermissions(NAMESPACE, electionNamespaces).map((p) => key(p.verb, p.group, p.resource, p.namespace)),
    );
    expect([...have].sort()).toEqual([...want].sort());
  });
});

test('every allow-list entry is used by some rendering (the list documents what exists)', () => {
  const used = new Set<Allowed>();
  for (const objects of rendered.values()) for (const g of grants(objects)) used.add(allowedBy(g)!);
  expect(ALLOW_LIST.filter((a) => !used.has(a)).map((a) => a.why)).toEqual([]);
});

describe('helm test', () => {
  const hooks = template({ tests: true }).filter((o) => o.metadata?.labels?.['app.kubernetes.io/component'] === 'test');
  const rulesOf = (kind: string, namespace?: string) =>
    hooks.find((o) => o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace)).rules;
  const CHECK_NS = `${RELEASE}-check`;

  test('every object is a test hook, deleted when the test passes and before the next run', () => {
    expect(hooks.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'Namespace',
        'Pod',
        'Role',
        'Role',
        'RoleBinding',
        'RoleBinding',
        'ServiceAccount',
      ].sort(),
    );
    for (const o of hooks)
      expect(o.metadata.annotations).toMatchObject({
        'helm.sh/hook': 'test',
        'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
      });
    expect(template().some((o) => o.metadata?.labels?.['app.kubernetes.io/component'] === 'test')).toBe(false);
  });

  test('check reads, never Secrets, and creates pods only in its own opted-in namespace', () => {
    expect(rulesOf('ClusterRole')).toEqual([
      {
        apiGroups: ['admissionregistration.k8s.io'],
        resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'],
        verbs: ['list'],
      },
      { apiGroups: [''], resources: ['pods', 'nodes', 'namespaces'], verbs: ['list'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['list'] },
    ]);
    expect(rulesOf('Role', NAMESPACE)).toEqual([
      { apiGroups: [''], resources: ['services'], resourceNames: [`${FULLNAME}-webhook`], verbs: ['get'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list'] },
    ]);
    expect(rulesOf('Role', CHECK_NS)).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['create'] }]);
    expect(JSON.stringify(hooks)).not.toContain('secrets');
    const namespace = hooks.find((o) => o.kind === 'Namespace');
    expect(namespace.metadata).toMatchObject({
      name: CHECK_NS,
      labels: { 'deepflow.io/k8s-watch-policy-injection': 'enabled' },
    });
    const pod = hooks.find((o) => o.kind === 'Pod');
    expect(pod.spec.serviceAccountName).toBe(`${FULLNAME}-check`);
    expect(pod.spec.containers[0].args).toEqual([
      'check',
      '--namespace',
      CHECK_NS,
      '--config',
      '/etc/k8s-watch-policy/config.yaml',
      '--no-color',
    ]);
    for (const binding of hooks.filter((o) => /Binding$/.test(o.kind)))
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: `${FULLNAME}-check`, namespace: NAMESPACE }]);
  });
});
