/**
 * One architecture's image, from its inputs to its manifest: four layers from the least to the
 * most often changed (the Debian base, Node, the production node_modules, the app), a config that
 * runs the CLI as uid 65532 from /app, labels naming the version and the commit. No build tool
 * runs: the layers are tar archives written here, so nothing of the machine gets into them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppTree } from './app_tree.ts';
import { keptInNodeModules, LEFT_OUT } from './app_tree.ts';
import type { DebianPackage } from './debian.ts';
import type { NodeRuntime } from './node_runtime.ts';
import { image, layer, type Blob, type Layer, type Platform } from './oci.ts';
import { baseEntries, NONROOT, treeEntries } from './rootfs.ts';

export interface BuiltImage {
  platform: Platform;
  layers: Layer[];
  config: Blob;
  manifest: Blob;
  /** Bytes of the layers uncompressed and compressed. */
  size: { uncompressed: number; compressed: number };
}

export interface ImageLabels {
  version: string;
  revision: string;
  created: string;
  source: string;
}

export function labelsOf(l: ImageLabels): Record<string, string> {
  return {
    'org.opencontainers.image.created': l.created,
    'org.opencontainers.image.description':
      'k8s-watch-policy: the admission webhook, watcher-election controller and CLI for DeepFlow agents',
    'org.opencontainers.image.licenses': 'Apache-2.0',
    'org.opencontainers.image.revision': l.revision,
    'org.opencontainers.image.source': l.source,
    'org.opencontainers.image.title': 'k8s-watch-policy',
    'org.opencontainers.image.version': l.version,
  };
}

export function buildImage(
  architecture: 'amd64' | 'arm64',
  debian: readonly DebianPackage[],
  node: NodeRuntime,
  app: AppTree,
  labels: ImageLabels,
  epoch: number,
): BuiltImage {
  const platform: Platform = { os: 'linux', architecture };
  const layers = [
    layer(baseEntries(debian), epoch, `debian ${debian.map((p) => `${p.name}=${p.version}`).join(' ')}`),
    layer(
      [
        { path: 'usr/local/bin/node', type: 'file', mode: 0o755, data: node.binary },
        { path: 'usr/local/share/doc/node/LICENSE', type: 'file', data: node.license },
      ],
      epoch,
      `node ${node.version} (npm ${node.packageName}@${node.version})`,
    ),
    layer(
      treeEntries(join(app.dir, 'node_modules'), 'app/node_modules', (p) => keptInNodeModules(p) && !p.startsWith('.')),
      epoch,
      `npm ci --omit=dev, without ${LEFT_OUT.join(', ')}`,
    ),
    layer(
      [
        ...treeEntries(join(app.dir, 'dist'), 'app/dist'),
        { path: 'app/package.json', type: 'file', data: Buffer.from(appManifest(app.dir, labels.version)) },
      ],
      epoch,
      'tsc -p tsconfig.build.json',
    ),
  ];
  const { config, manifest } = image(
    {
      platform,
      created: labels.created,
      user: `${NONROOT}:${NONROOT}`,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_ENV=production'],
      entrypoint: ['/usr/local/bin/node', '/app/dist/cli/main.js'],
      cmd: ['--help'],
      workingDir: '/app',
      labels: labelsOf(labels),
    },
    layers,
  );
  return {
    platform,
    layers,
    config,
    manifest,
    size: {
      uncompressed: layers.reduce((n, l) => n + uncompressedSize(l), 0),
      compressed: layers.reduce((n, l) => n + l.blob.descriptor.size, 0),
    },
  };
}

const sizes = new WeakMap<Layer, number>();
/** The uncompressed size, as gunzip reports it (ISIZE: the last 4 bytes, modulo 2^32). */
function uncompressedSize(l: Layer): number {
  const cached = sizes.get(l);
  if (cached !== undefined) return cached;
  const c = l.blob.content;
  const size = c.readUInt32LE(c.length - 4);
  sizes.set(l, size);
  return size;
}

/** The package.json the app runs with: what it reads of it (name, the release's version, type, bin), nothing else. */
function appManifest(dir: string, version: string): string {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const kept = { name: pkg.name, version, license: pkg.license, type: pkg.type, bin: pkg.bin };
  return `${JSON.stringify(kept, null, 2)}\n`;
}
