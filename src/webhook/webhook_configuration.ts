/**
 * The MutatingWebhookConfiguration and ValidatingWebhookConfiguration of the product, as the
 * Helm chart ships them; the end-to-end tests and `npm start` register these same objects
 * (pointing at a local URL instead of the Service).
 *
 * Opt-in is by namespace label or by object label (`deepflow.io/k8s-watch-policy-injection:
 * enabled`). Each configuration has two webhooks, as Istio's injector does: one selects opted-in
 * namespaces, the other opted-in objects in the remaining namespaces (so nothing is reviewed
 * twice). A pod labelled `disabled` is still sent (it is validated, not mutated). kube-system and
 * the product's own namespace are never selected.
 */
import { INJECTION_LABEL } from '../policy/labels.ts';

export interface WebhookClientConfig {
  url?: string;
  service?: { namespace: string; name: string; port: number; path?: string };
  caBundle?: string;
}

export interface WebhookConfigurationOptions {
  /** The name of both configurations (and the prefix of their webhooks). */
  name: string;
  /** Where the API server sends a review for `path` (`/mutate` or `/validate`). */
  clientConfig: (path: '/mutate' | '/validate') => WebhookClientConfig;
  /** Namespaces never reviewed besides kube-system (the product's own). */
  excludeNamespaces: string[];
  failurePolicy: 'Fail' | 'Ignore';
  timeoutSeconds: number;
  labels?: Record<string, string>;
}

export const WEBHOOK_DOMAIN = 'k8s-watch-policy.deepflow.io';

const POD_CONTROLLER_RULES = [
  { apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments', 'daemonsets', 'statefulsets', 'replicasets'] },
  { apiGroups: [''], apiVersions: ['v1'], resources: ['replicationcontrollers', 'podtemplates'] },
  { apiGroups: ['batch'], apiVersions: ['v1'], resources: ['jobs', 'cronjobs'] },
];

function selectors(excluded: string[]) {
  const notExcluded = { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', ...excluded] };
  return {
    byNamespace: {
      namespaceSelector: {
        matchExpressions: [{ key: INJECTION_LABEL, operator: 'In', values: ['enabled'] }, notExcluded],
      },
    },
    byObject: {
      namespaceSelector: {
        matchExpressions: [{ key: INJECTION_LABEL, operator: 'NotIn', values: ['enabled'] }, notExcluded],
      },
      objectSelector: { matchExpressions: [{ key: INJECTION_LABEL, operator: 'In', values: ['enabled'] }] },
    },
  };
}

export function webhookConfigurations(o: WebhookConfigurationOptions): {
  mutating: Record<string, unknown>;
  validating: Record<string, unknown>;
} {
  const { byNamespace, byObject } = selectors(o.excludeNamespaces);
  const common = {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: o.failurePolicy,
    timeoutSeconds: o.timeoutSeconds,
    matchPolicy: 'Equivalent',
  };
  const metadata = { name: o.name, ...(o.labels && { labels: o.labels }) };
  const podRules = [
    { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' },
  ];
  const controllerRules = POD_CONTROLLER_RULES.map((r) => ({
    operations: ['CREATE', 'UPDATE'],
    ...r,
    scope: 'Namespaced',
  }));
  const mutate = {
    ...common,
    clientConfig: o.clientConfig('/mutate'),
    rules: podRules,
    reinvocationPolicy: 'IfNeeded',
  };
  const validate = { ...common, clientConfig: o.clientConfig('/validate'), rules: controllerRules };
  return {
    mutating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata,
      webhooks: [
        { name: `namespace.pods.${WEBHOOK_DOMAIN}`, ...mutate, ...byNamespace },
        { name: `object.pods.${WEBHOOK_DOMAIN}`, ...mutate, ...byObject },
      ],
    },
    validating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata,
      webhooks: [
        { name: `namespace.controllers.${WEBHOOK_DOMAIN}`, ...validate, ...byNamespace },
        { name: `object.controllers.${WEBHOOK_DOMAIN}`, ...validate, ...byObject },
      ],
    },
  };
}
