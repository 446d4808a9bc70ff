/**
 * CustomResourceDefinitions for the two prometheus-operator kinds the chart renders, as a cluster
 * with the operator has them: the group, versions, names and scope that `helm install` needs, and
 * a structural schema of the fields the chart writes (the operator's own CRDs validate more).
 */
const crd = (kind: string, plural: string, spec: Record<string, unknown>) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.monitoring.coreos.com` },
  spec: {
    group: 'monitoring.coreos.com',
    names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', required: ['spec'], properties: { spec } } },
      },
    ],
  },
});

export const MONITORING_CRDS = [
  crd('ServiceMonitor', 'servicemonitors', {
    type: 'object',
    required: ['selector', 'endpoints'],
    properties: {
      selector: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      namespaceSelector: { type: 'object', properties: { matchNames: { type: 'array', items: { type: 'string' } } } },
      endpoints: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            port: { type: 'string' },
            path: { type: 'string' },
            scheme: { type: 'string', enum: ['http', 'https'] },
            interval: {
              type: 'string',
              pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$',
            },
            scrapeTimeout: {
              type: 'string',
              pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$',
            },
          },
        },
      },
    },
  }),
  crd('PrometheusRule', 'prometheusrules', {
    type: 'object',
    properties: {
      groups: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'rules'],
          properties: {
            name: { type: 'string', minLength: 1 },
            interval: { type: 'string' },
            rules: {
              type: 'array',
              items: {
                type: 'object',
                required: ['expr'],
                properties: {
                  alert: { type: 'string' },
                  record: { type: 'string' },
                  expr: { 'x-kubernetes-int-or-string': true },
                  for: {
                    type: 'string',
                    pattern:
                      '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$',
                  },
                  labels: { type: 'object', additionalProperties: { type: 'string' } },
                  annotations: { type: 'object', additionalProperties: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    },
  }),
];
