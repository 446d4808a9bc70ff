/**
 * The release's OCI documents: what registries, containerd and cosign read of them, and digests
 * that depend on the inputs only.
 */
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { chartArtifact, image, imageIndex, layer, layoutArchive, MEDIA, sha256 } from '../../scripts/release/oci.ts';

const EPOCH = 1_765_000_000;
const settings = (architecture: 'amd64' | 'arm64') => ({
  platform: { os: 'linux' as const, architecture },
  created: '2025-12-06T05:46:40Z',
  user: '65532:65532',
  env: ['PATH=/usr/local/bin:/usr/bin:/bin'],
  entrypoint: ['/usr/local/bin/node', '/app/dist/cli/main.js'],
  cmd: ['--help'],
  workingDir: '/app',
  labels: { 'org.opencontainers.image.version': '0.2.0' },
});
const appLayer = () => layer([{ path: 'app/a.js', type: 'file', data: Buffer.from('1') }], EPOCH, 'app');

describe('layers and images', () => {
  test('a layer is gzip of the tar; its diff id is the tar digest; the same entries give the same digests', () => {
    const a = appLayer();
    expect(a.blob.descriptor.mediaType).toBe(MEDIA.layer);
    expect(a.diffId).toBe(sha256(gunzipSync(a.blob.content)));
    expect(a.blob.descriptor.digest).toBe(sha256(a.blob.content));
    expect(appLayer().blob.descriptor).toEqual(a.blob.descriptor);
    // No file name and no time in the gzip header (bytes 4-7 are MTIME).
    expect(a.blob.content.readUInt32LE(4)).toBe(0);
    expect(a.blob.content[3]! & 0x08).toBe(0);
  });

  test('the config runs the entrypoint as the given user and lists the layers; the manifest names config and layers', () => {
    const l = appLayer();
    const { config, manifest } = image(settings('arm64'), [l]);
    const c = JSON.parse(config.content.toString());
    expect(c).toMatchObject({
      architecture: 'arm64',
      os: 'linux',
      created: '2025-12-06T05:46:40Z',
      config: { User: '65532:65532', Entrypoint: ['/usr/local/bin/node', '/app/dist/cli/main.js'], WorkingDir: '/app' },
      rootfs: { type: 'layers', diff_ids: [l.diffId] },
    });
    const m = JSON.parse(manifest.content.toString());
    expect(m).toEqual({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: config.descriptor,
      layers: [l.blob.descriptor],
      annotations: { 'org.opencontainers.image.version': '0.2.0' },
    });
  });

  test('the index names each manifest with its platform', () => {
    const amd = image(settings('amd64'), [appLayer()]).manifest;
    const arm = image(settings('arm64'), [appLayer()]).manifest;
    const index = JSON.parse(
      imageIndex(
        [
          { manifest: amd, platform: { os: 'linux', architecture: 'amd64' } },
          { manifest: arm, platform: { os: 'linux', architecture: 'arm64' } },
        ],
        {},
      ).content.toString(),
    );
    expect(index.mediaType).toBe(MEDIA.index);
    expect(index.manifests).toEqual([
      { ...amd.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
      { ...arm.descriptor, platform: { os: 'linux', architecture: 'arm64' } },
    ]);
  });

  test('a chart artifact has the media types helm pull checks', () => {
    const chart = chartArtifact({ name: 'k8s-watch-policy', version: '0.2.0' }, Buffer.from('tgz'), {});
    const m = JSON.parse(chart.manifest.content.toString());
    expect(m.config.mediaType).toBe('application/vnd.cncf.helm.config.v1+json');
    expect(m.layers).toEqual([chart.layer.descriptor]);
    expect(chart.layer.descriptor.mediaType).toBe('application/vnd.cncf.helm.chart.content.v1.tar+gzip');
  });
});

describe('layoutArchive', () => {
  test('an OCI layout: oci-layout, index.json naming the top blob by ref, every blob once under its digest', () => {
    const l = appLayer();
    const { config, manifest } = image(settings('amd64'), [l]);
    const archive = layoutArchive(manifest, '0.2.0', [config, l.blob, l.blob], EPOCH);
    const dir = mkdtempSync(join(tmpdir(), 'kwp-layout-'));
    try {
      writeFileSync(join(dir, 'a.tar'), archive);
      const listed = spawnSync('tar', ['-tf', join(dir, 'a.tar')], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n');
      const hex = (d: string) => d.replace('sha256:', '');
      expect(listed.sort()).toEqual(
        [
          'blobs/',
          'blobs/sha256/',
          ...[manifest, config, l.blob].map((b) => `blobs/sha256/${hex(b.descriptor.digest)}`),
          'index.json',
          'oci-layout',
        ].sort(),
      );
      expect(spawnSync('tar', ['-xf', join(dir, 'a.tar'), '-C', dir]).status).toBe(0);
      expect(JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).manifests).toEqual([
        { ...manifest.descriptor, annotations: { 'org.opencontainers.image.ref.name': '0.2.0' } },
      ]);
      expect(readFileSync(join(dir, 'oci-layout'), 'utf8')).toBe('{"imageLayoutVersion":"1.0.0"}');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
