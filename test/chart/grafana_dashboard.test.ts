/**
 * The chart's Grafana dashboard: a ConfigMap for the dashboard sidecar when asked for; the panels
 * the operator needs, each query valid PromQL (`promtool check rules` on them as recording rules,
 * the variables substituted) over metrics the webhook and the controller export.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { promtool } from '../support/promtool.ts';
import { FULLNAME, NAMESPACE, ofKind, template } from '../support/helm.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const configMaps = (values: unknown): any[] =>
  ofKind(template({ values }), 'ConfigMap').filter((c: any) => c.metadata.name.endsWith('-dashboard'));

let dashboard: any;
const queries = () =>
  dashboard.panels
    .filter((p: any) => p.type !== 'row')
    .flatMap((p: any) => p.targets.map((t: any) => t.expr as string));

/** The metric names src/ defines (the prefix and the literal after it), and what prom-client adds. */
function exportedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const file of ['src/webhook/metrics.ts', 'src/controller/metrics.ts'])
    for (const m of readFileSync(join(ROOT, file), 'utf8').matchAll(/\$\{METRIC_PREFIX\}(\w+)`/g))
      names.add(`k8s_watch_policy_${m[1]}`);
  return names;
}

beforeAll(() => {
  const [map] = configMaps({ grafana: { dashboards: { enabled: true } } });
  dashboard = JSON.parse(map.data['k8s-watch-policy.json']);
});

describe('grafana.dashboards', () => {
  test('off by default; on, a ConfigMap with the sidecar label, in another namespace when asked', () => {
    expect(configMaps({})).toEqual([]);
    const [map] = configMaps({ grafana: { dashboards: { enabled: true } } });
    expect(map.metadata).toMatchObject({ namespace: NAMESPACE, labels: { grafana_dashboard: '1' } });
    const [other] = configMaps({
      grafana: {
        dashboards: {
          enabled: true,
          namespace: 'monitoring',
          labels: { dash: 'yes' },
          annotations: { grafana_folder: 'DeepFlow' },
        },
      },
    });
    expect(other.metadata).toMatchObject({
      namespace: 'monitoring',
      labels: { dash: 'yes' },
      annotations: { grafana_folder: 'DeepFlow' },
    });
  });

  test('variables for the data source, namespace and release; every panel queries that data source', () => {
    expect(dashboard.templating.list.map((v: any) => v.name)).toEqual(['datasource', 'namespace', 'release']);
    for (const p of dashboard.panels.filter((x: any) => x.type !== 'row')) {
      expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets.length).toBeGreaterThan(0);
    }
    expect(dashboard.panels.map((p: any) => p.title)).toEqual(
      expect.arrayContaining([
        'Watcher elected',
        'Watcher history',
        'Watcher transitions',
        'Candidates by policy and eligibility',
        'Controller leader',
        'Reviews per second by result',
        'Injections by policy and rule',
        'Admission latency',
        'Denials per second',
        'Certificate days left',
        'Memory (RSS)',
        'CPU',
      ]),
    );
  });

  test('every metric a panel or an alert names is one the processes export', () => {
    const exported = exportedMetrics();
    const [rule] = ofKind(template({ values: { prometheusRule: { enabled: true } } }), 'PrometheusRule');
    const exprs = [...queries(), ...rule.spec.groups[0].rules.map((r: any) => r.expr as string)];
    const named = new Set(exprs.flatMap((e) => [...e.matchAll(/\bk8s_watch_policy_\w+/g)].map((m) => m[0])));
    const unknown = [...named].filter((n) => !exported.has(n.replace(/_(bucket|sum|count)$/, '')));
    expect(unknown).toEqual([]);
    expect(named.size).toBeGreaterThanOrEqual(9);
  });

  describe('promtool', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'kwp-dashboard-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test('every panel query is valid PromQL (as a recording rule, the variables substituted)', () => {
      const rules = queries().map((expr: string, i: number) => ({
        record: `kwp_dashboard_query_${i}`,
        expr: expr
          .replaceAll('$namespace', NAMESPACE)
          .replaceAll('$release', FULLNAME)
          .replaceAll('$__rate_interval', '1m'),
      }));
      writeFileSync(join(dir, 'queries.yaml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = spawnSync(promtool(), ['check', 'rules', join(dir, 'queries.yaml')], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(readdirSync(dir)).toEqual(['queries.yaml']);
    });
  });
});
