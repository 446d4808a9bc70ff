/**
 * webhook/ (the install without Helm, `kubectl apply -k webhook/`) is generated from the chart by
 * webhook/generate.mjs; these tests fail when the two drift apart.
 */
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { helmBinary, parseManifests, ROOT, template } from '../support/helm.ts';

const GENERATE = join(ROOT, 'webhook', 'generate.mjs');
const generate = (args: string[]) => {
  const r = spawnSync(process.execPath, [GENERATE, ...args], {
    encoding: 'utf8',
    env: { ...process.env, HELM: helmBinary() },
    timeout: 60_000,
  });
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
};

describe('webhook/', () => {
  test('is what the chart renders now (else run: node webhook/generate.mjs)', () => {
    const r = generate(['--check']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test('the check fails on a hand edit, and regenerating repairs it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kwp-manifests-'));
    try {
      cpSync(join(ROOT, 'webhook'), dir, { recursive: true });
      const file = join(dir, 'k8s-watch-policy.yaml');
      writeFileSync(file, readFileSync(file, 'utf8').replace('failurePolicy: Fail', 'failurePolicy: Ignore'));
      const stale = generate(['--check', '--dir', dir]);
      expect(stale.status).toBe(1);
      expect(stale.stderr).toMatch(
        /webhook\/k8s-watch-policy.yaml differs from the chart: run node webhook\/generate.mjs/,
      );
      expect(generate(['--dir', dir]).status).toBe(0);
      expect(generate(['--check', '--dir', dir]).status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('holds the default install in namespace deepflow-system, plus the namespace, in a kustomization', () => {
    const kustomization = parse(readFileSync(join(ROOT, 'webhook', 'kustomization.yaml'), 'utf8'));
    expect(kustomization).toEqual({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: ['namespace.yaml', 'k8s-watch-policy.yaml'],
    });
    const namespace = parse(readFileSync(join(ROOT, 'webhook', 'namespace.yaml'), 'utf8'));
    expect(namespace).toMatchObject({
      kind: 'Namespace',
      metadata: { name: 'deepflow-system', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    });
    const plain = parseManifests(readFileSync(join(ROOT, 'webhook', 'k8s-watch-policy.yaml'), 'utf8'));
    const chart = template({ release: 'k8s-watch-policy', namespace: 'deepflow-system' });
    const id = (o: any) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    expect(plain.map(id)).toEqual(chart.map(id));
    for (const o of plain) expect(o.metadata.labels['app.kubernetes.io/managed-by']).toBe('kubectl');
    const deployment = plain.find((o) => o.kind === 'Deployment' && o.metadata.name === 'k8s-watch-policy-webhook');
    expect(deployment.spec.template.spec.containers[0].args).toContain(
      'k8s-watch-policy-webhook.deepflow-system.svc,k8s-watch-policy-webhook.deepflow-system.svc.cluster.local',
    );
  });
});
