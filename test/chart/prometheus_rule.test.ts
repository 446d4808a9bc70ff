/**
 * The chart's PrometheusRule: absent by default; with prometheusRule.enabled, every alert has a
 * summary, a description naming the release's namespace and a runbook URL into docs/runbooks.md
 * (one section per alert); `promtool check rules` accepts it, and `promtool test rules`
 * (prometheus/alerts_test.yaml) sees each alert fire in its scenario and not in its near miss.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { promtool } from '../support/promtool.ts';
import { ofKind, template } from '../support/helm.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const rendered = (values: unknown): any[] => ofKind(template({ values }), 'PrometheusRule');

let dir: string;
let rule: any;

beforeAll(() => {
  [rule] = rendered({ prometheusRule: { enabled: true } });
  dir = mkdtempSync(join(tmpdir(), 'kwp-promtool-'));
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: rule.spec.groups }));
  copyFileSync(join(ROOT, 'test', 'chart', 'prometheus', 'alerts_test.yaml'), join(dir, 'alerts_test.yaml'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alerts = () => rule.spec.groups.flatMap((g: any) => g.rules);

describe('prometheusRule', () => {
  test('off by default', () => {
    expect(rendered({})).toEqual([]);
  });

  test('every alert: a severity, a summary, a description naming the namespace, a runbook section that exists', () => {
    const runbooks = readFileSync(join(ROOT, 'docs', 'runbooks.md'), 'utf8');
    const anchors = [...runbooks.matchAll(/^## (\S+)$/gm)].map((m) => m[1]!.toLowerCase());
    expect(alerts().map((a: any) => a.alert)).toEqual([
      'K8sWatchPolicyNoWatcher',
      'K8sWatchPolicyMultipleWatchOnlyAgents',
      'K8sWatchPolicyDeprecatedEnvPods',
      'K8sWatchPolicyNoControllerLeader',
      'K8sWatchPolicyWebhookDown',
      'K8sWatchPolicyControllerDown',
      'K8sWatchPolicyAdmissionErrors',
      'K8sWatchPolicyAdmissionDenials',
      'K8sWatchPolicyAdmissionLatencyHigh',
      'K8sWatchPolicyCertificateExpiringCritical',
      'K8sWatchPolicyCertificateExpiring',
    ]);
    for (const a of alerts()) {
      expect(['warning', 'critical']).toContain(a.labels.severity);
      expect(a.annotations.summary).toMatch(/\.$/);
      expect(a.annotations.description).toContain('deepflow-system');
      const anchor = a.annotations.runbook_url.split('#')[1];
      expect(a.annotations.runbook_url).toMatch(
        /^https:\/\/github\.com\/deepflowio\/k8s-watch-policy\/blob\/main\/docs\/runbooks\.md#/,
      );
      expect(anchors).toContain(anchor);
    }
  });

  test('thresholds, rule and alert labels are values', () => {
    const [custom] = rendered({
      prometheusRule: {
        enabled: true,
        labels: { release: 'kube-prometheus-stack' },
        alertLabels: { team: 'observability' },
        noWatcherFor: '15m',
        errorRatio: 0.2,
        latencyRatio: 0.5,
        certificateWarningDays: 30,
      },
      webhook: { timeoutSeconds: 4 },
    });
    expect(custom.metadata.labels.release).toBe('kube-prometheus-stack');
    const byName = Object.fromEntries(custom.spec.groups[0].rules.map((a: any) => [a.alert, a]));
    expect(byName.K8sWatchPolicyNoWatcher.for).toBe('15m');
    expect(byName.K8sWatchPolicyNoWatcher.labels).toEqual({ severity: 'critical', team: 'observability' });
    expect(byName.K8sWatchPolicyAdmissionErrors.expr).toMatch(/> 0\.2$/);
    expect(byName.K8sWatchPolicyAdmissionLatencyHigh.expr).toMatch(/> 2$/);
    expect(byName.K8sWatchPolicyCertificateExpiring.expr).toContain(`< ${30 * 86400}`);
  });

  test('promtool check rules accepts it', () => {
    const r = spawnSync(promtool(), ['check', 'rules', join(dir, 'rules.yaml')], { encoding: 'utf8' });
    expect(r.stdout).toContain(`SUCCESS: ${alerts().length} rules found`);
    expect(r.status).toBe(0);
  });

  test('promtool test rules: each alert fires in its scenario and not in its near miss', () => {
    const r = spawnSync(promtool(), ['test', 'rules', 'alerts_test.yaml'], { cwd: dir, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });
});
