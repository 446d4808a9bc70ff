/**
 * The chart as `npm run release` packages it: version and appVersion set, the image pinned by
 * digest, Artifact Hub's annotations valid YAML, comments kept, `helm lint --strict` clean (the
 * packaging fails otherwise), and what it renders runs the pinned image.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { artifactHubAnnotations, packageChart, type ChartRelease } from '../../scripts/release/chart.ts';
import { defaultMinor, moduleVersions, REPO_ROOT } from '../cluster/paths.ts';
import { helmBinary } from '../support/helm.ts';

const DIGEST = `sha256:${'5e'.repeat(32)}`;
const release: ChartRelease = {
  version: '0.2.0',
  imageRepository: 'registry.example:5000/deepflow/k8s-watch-policy',
  imageDigest: DIGEST,
  platforms: ['linux/amd64', 'linux/arm64'],
  source: 'https://github.com/deepflowio/k8s-watch-policy',
  signKey: { url: 'https://example.invalid/cosign.pub', fingerprint: 'ab'.repeat(32) },
  changes: ['release: the first release "with quotes"'],
};

let work: string;
let packaged: ReturnType<typeof packageChart>;

beforeAll(() => {
  process.env.HELM = helmBinary();
  work = mkdtempSync(join(tmpdir(), 'kwp-chart-release-'));
  packaged = packageChart(REPO_ROOT, release, work);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the released chart', () => {
  test('Chart.yaml: version, appVersion, kubeVersion, and the annotations Artifact Hub parses', () => {
    const chart = parse(readFileSync(join(work, 'k8s-watch-policy', 'Chart.yaml'), 'utf8'));
    expect(chart).toMatchObject({ version: '0.2.0', appVersion: '0.2.0', kubeVersion: '>=1.30.0-0' });
    expect(packaged.metadata).toMatchObject({ name: 'k8s-watch-policy', version: '0.2.0' });
    const a = chart.annotations;
    expect(parse(a['artifacthub.io/images'])).toEqual([
      {
        name: 'k8s-watch-policy',
        image: `registry.example:5000/deepflow/k8s-watch-policy:0.2.0@${DIGEST}`,
        platforms: ['linux/amd64', 'linux/arm64'],
      },
    ]);
    expect(parse(a['artifacthub.io/links'])).toEqual([
      { name: 'source', url: release.source },
      { name: 'documentation', url: `${release.source}#readme` },
    ]);
    expect(parse(a['artifacthub.io/signKey'])).toEqual(release.signKey);
    expect(parse(a['artifacthub.io/changes'])).toEqual([{ kind: 'changed', description: release.changes[0] }]);
    expect(a['artifacthub.io/license']).toBe('Apache-2.0');
    expect(a['artifacthub.io/prerelease']).toBe('false');
    expect(artifactHubAnnotations({ ...release, version: '0.2.0-rc.1' })['artifacthub.io/prerelease']).toBe('true');
  });

  test('values.yaml pins the image by digest and keeps its comments', () => {
    const text = readFileSync(join(work, 'k8s-watch-policy', 'values.yaml'), 'utf8');
    expect(parse(text).image).toMatchObject({ repository: release.imageRepository, tag: '0.2.0', digest: DIGEST });
    expect(text).toContain('# When set (sha256:...), the image is pulled by digest');
  });

  test('the package renders pods that run the image by digest', () => {
    const r = spawnSync(
      helmBinary(),
      ['template', 'k8s-watch-policy', packaged.tgz, '--kube-version', moduleVersions(defaultMinor()).kubernetes],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    const images = parseAllDocuments(r.stdout)
      .map((d) => d.toJSON())
      .filter((o) => o?.kind === 'Deployment')
      .flatMap((o) => o.spec.template.spec.containers.map((c: { image: string }) => c.image));
    expect(images.length).toBeGreaterThanOrEqual(2);
    expect(new Set(images)).toEqual(new Set([`${release.imageRepository}@${DIGEST}`]));
  });
});
