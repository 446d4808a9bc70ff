/**
 * OCI image and artifact documents (image-spec v1.1), built from bytes with nothing of the
 * machine in them: the same inputs give the same digests. A Blob is content plus its descriptor;
 * the layout is what `oci-archive:`/`oci:` tools (podman, skopeo, crane, cosign) read.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { tarArchive, type TarEntry } from './tar.ts';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  helmConfig: 'application/vnd.cncf.helm.config.v1+json',
  helmChart: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
} as const;

export interface Platform {
  os: 'linux';
  architecture: 'amd64' | 'arm64';
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Blob {
  descriptor: Descriptor;
  content: Buffer;
}

export const sha256 = (content: Buffer | string): string =>
  `sha256:${createHash('sha256').update(content).digest('hex')}`;

export function blob(mediaType: string, content: Buffer): Blob {
  return { descriptor: { mediaType, digest: sha256(content), size: content.length }, content };
}

export function jsonBlob(mediaType: string, document: unknown): Blob {
  return blob(mediaType, Buffer.from(JSON.stringify(document)));
}

export interface Layer {
  blob: Blob;
  /** The digest of the uncompressed tar (the config's rootfs.diff_ids). */
  diffId: string;
  /** What the layer holds, for the config's history. */
  comment: string;
}

/** A gzip-compressed layer of the entries: zlib level 9, no name and no time in the gzip header. */
export function layer(entries: readonly TarEntry[], mtime: number, comment: string): Layer {
  const tar = tarArchive(entries, mtime);
  return { blob: blob(MEDIA.layer, gzipSync(tar, { level: 9 })), diffId: sha256(tar), comment };
}

export interface ImageSettings {
  platform: Platform;
  created: string;
  user: string;
  env: string[];
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  labels: Record<string, string>;
}

/** The image's config and manifest (annotations are the labels, as `docker buildx` writes them). */
export function image(settings: ImageSettings, layers: readonly Layer[]): { config: Blob; manifest: Blob } {
  const config = jsonBlob(MEDIA.config, {
    created: settings.created,
    architecture: settings.platform.architecture,
    os: settings.platform.os,
    config: {
      User: settings.user,
      Env: settings.env,
      Entrypoint: settings.entrypoint,
      Cmd: settings.cmd,
      WorkingDir: settings.workingDir,
      Labels: settings.labels,
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created: settings.created, created_by: l.comment })),
  });
  const manifest = jsonBlob(MEDIA.manifest, {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: config.descriptor,
    layers: layers.map((l) => l.blob.descriptor),
    annotations: settings.labels,
  });
  return { config, manifest };
}

/** The image index of several platforms' manifests. */
export function imageIndex(
  manifests: readonly { manifest: Blob; platform: Platform }[],
  annotations: Record<string, string>,
): Blob {
  return jsonBlob(MEDIA.index, {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: manifests.map((m) => ({ ...m.manifest.descriptor, platform: m.platform })),
    annotations,
  });
}

/** A Helm chart as an OCI artifact, as `helm push` makes it: the Chart.yaml metadata as config, the .tgz as its layer. */
export function chartArtifact(
  metadata: Record<string, unknown>,
  chartTgz: Buffer,
  annotations: Record<string, string>,
): { config: Blob; layer: Blob; manifest: Blob } {
  const config = jsonBlob(MEDIA.helmConfig, metadata);
  const chartLayer = blob(MEDIA.helmChart, chartTgz);
  const manifest = jsonBlob(MEDIA.manifest, {
    schemaVersion: 2,
    config: config.descriptor,
    layers: [chartLayer.descriptor],
    annotations,
  });
  return { config, layer: chartLayer, manifest };
}

/**
 * An OCI image layout (oci-layout, index.json, blobs/sha256/...) as a tar archive, `ref` naming
 * the top manifest or index (org.opencontainers.image.ref.name). Blobs given twice are written once.
 */
export function layoutArchive(top: Blob, ref: string, blobs: readonly Blob[], mtime: number): Buffer {
  const entries = new Map<string, TarEntry>();
  for (const b of [top, ...blobs]) {
    const path = `blobs/sha256/${b.descriptor.digest.slice('sha256:'.length)}`;
    entries.set(path, { path, type: 'file', data: b.content });
  }
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [{ ...top.descriptor, annotations: { 'org.opencontainers.image.ref.name': ref } }],
  };
  entries.set('oci-layout', { path: 'oci-layout', type: 'file', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') });
  entries.set('index.json', { path: 'index.json', type: 'file', data: Buffer.from(JSON.stringify(index)) });
  return tarArchive([...entries.values()], mtime);
}
