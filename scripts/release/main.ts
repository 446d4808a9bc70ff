/**
 * `npm run release -- --version V [--registry HOST:PORT/PATH] [--key cosign.key | --keyless]`
 * (docs/release.md): the image for linux/amd64 and linux/arm64 as one OCI index, an SBOM of each,
 * the chart with the image pinned by digest; pushed and signed when a registry is given, else
 * written to dist/release/ as OCI layout archives. The same commit gives the same image digests on
 * any machine (the commit's time, sorted tar entries, no build tool's metadata).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appTree } from './app_tree.ts';
import { chartArtifact, imageIndex, layoutArchive, type Blob } from './oci.ts';
import { packageChart } from './chart.ts';
import { attest, login, sign, signBlob, type CosignEnv, type Signer } from './cosign.ts';
import { debianPackages, debianSource } from './debian.ts';
import { buildImage, labelsOf, type BuiltImage } from './image_build.ts';
import { nodeRuntime, pinnedNodeVersion } from './node_runtime.ts';
import { parseRegistry, RegistryClient } from './registry_push.ts';
import { cycloneDx } from './sbom.ts';
import { cacheRoot, tool } from './tools.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE = 'https://github.com/deepflowio/k8s-watch-policy';

const USAGE = `usage: npm run release -- --version V [options]

  --version V            the release's version (semver: 0.2.0, 0.2.0-rc.1)
  --registry H[:P][/PATH] push the image to H/PATH/k8s-watch-policy and the chart to
                         H/PATH/charts/k8s-watch-policy (credentials: REGISTRY_USERNAME, REGISTRY_PASSWORD)
  --registry-ca FILE     a CA bundle the registry's certificate chains to (besides the system's)
  --key FILE             sign with this cosign key (COSIGN_PASSWORD) and no transparency log
  --keyless              sign with the CI's OIDC identity (Fulcio, Rekor)
  --image-repository R   the image's name in the chart without --registry (ghcr.io/deepflowio/k8s-watch-policy)
  --platforms LIST       linux/amd64,linux/arm64 (the default) or one of them
  --out DIR              where the files go (dist/release)
  -h, --help`;

export interface Options {
  version: string;
  registry?: string;
  registryCa?: string;
  signer?: Signer;
  imageRepository: string;
  architectures: ('amd64' | 'arm64')[];
  out: string;
}

export function parseOptions(argv: readonly string[]): Options {
  const o: Partial<Options> & { architectures: ('amd64' | 'arm64')[] } = {
    imageRepository: 'ghcr.io/deepflowio/k8s-watch-policy',
    architectures: ['amd64', 'arm64'],
    out: join(ROOT, 'dist', 'release'),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--version') o.version = value().replace(/^v/, '');
    else if (arg === '--registry') o.registry = value();
    else if (arg === '--registry-ca') o.registryCa = resolve(value());
    else if (arg === '--key') o.signer = { key: resolve(value()) };
    else if (arg === '--keyless') o.signer = { keyless: true };
    else if (arg === '--image-repository') o.imageRepository = value();
    else if (arg === '--out') o.out = resolve(value());
    else if (arg === '--platforms')
      o.architectures = value()
        .split(',')
        .map((p) => {
          const arch = p.trim().replace(/^linux\//, '');
          if (arch !== 'amd64' && arch !== 'arm64')
            throw new Error(`--platforms: ${p} is not linux/amd64 or linux/arm64`);
          return arch;
        });
    else throw new Error(`unknown argument ${arg}`);
  }
  if (o.version === undefined) throw new Error('--version is required');
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(o.version))
    throw new Error(`--version ${o.version}: not a semantic version`);
  if (o.registry !== undefined) {
    const { host, path } = parseRegistry(o.registry);
    o.imageRepository = [host, path, 'k8s-watch-policy'].filter(Boolean).join('/');
  }
  return o as Options;
}

const say = (line: string) => process.stderr.write(`[release] ${line}\n`);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function git(args: string[]): string {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** The commit's time (or SOURCE_DATE_EPOCH): every timestamp of the release. */
export function releaseEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) return Number(fromEnv);
  const commit = git(['log', '-1', '--format=%ct']);
  if (!/^\d+$/.test(commit)) throw new Error('no git commit to take the release time from: set SOURCE_DATE_EPOCH');
  return Number(commit);
}

/** The subjects of the commits since the previous version tag (at most 20), for Artifact Hub's changes. */
function changes(): string[] {
  const previous = git(['describe', '--tags', '--abbrev=0', '--match', 'v*', 'HEAD^']);
  const range = previous ? `${previous}..HEAD` : 'HEAD';
  const subjects = git(['log', '--format=%s', '-n', '20', range]).split('\n').filter(Boolean);
  return subjects.length > 0 ? subjects : ['First release'];
}

export interface ReleaseResult {
  version: string;
  revision: string;
  created: string;
  image: {
    repository: string;
    index: string;
    platforms: Record<string, { manifest: string; uncompressed: number; compressed: number }>;
  };
  chart: { reference: string; manifest: string; package: string };
  files: string[];
}

export async function release(o: Options): Promise<ReleaseResult> {
  const started = Date.now();
  const epoch = releaseEpoch();
  const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
  const revision = git(['rev-parse', 'HEAD']) || 'unknown';
  const cache = join(cacheRoot(), 'release');
  const labels = { version: o.version, revision, created, source: SOURCE };
  say(
    `k8s-watch-policy ${o.version} (commit ${revision.slice(0, 12)}, ${created}) for ${o.architectures.map((a) => `linux/${a}`).join(', ')}`,
  );

  let t = Date.now();
  const app = appTree(ROOT, cache);
  say(`app: ${app.packages.length} npm packages, dist/ compiled (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  const nodeVersion = pinnedNodeVersion(ROOT);
  const source = debianSource();
  const images: BuiltImage[] = [];
  const sboms: { arch: string; file: string; manifest: Blob }[] = [];
  rmSync(o.out, { recursive: true, force: true });
  mkdirSync(o.out, { recursive: true });
  for (const arch of o.architectures) {
    t = Date.now();
    const debian = debianPackages(arch, join(cache, 'debian'), source);
    const node = nodeRuntime(arch, nodeVersion, join(cache, 'node'));
    const built = buildImage(arch, debian, node, app, labels, epoch);
    images.push(built);
    const debianVersion =
      /^(\d+)/.exec(
        readFileSync(join(debian.find((p) => p.name === 'base-files')!.root, 'etc', 'debian_version'), 'utf8'),
      )?.[1] ?? '12';
    const sbom = cycloneDx({
      name: o.imageRepository,
      version: o.version,
      architecture: arch,
      digest: built.manifest.descriptor.digest,
      created,
      debianVersion,
      debian,
      node,
      npm: app.packages,
    });
    const file = join(o.out, `sbom-linux-${arch}.cdx.json`);
    writeFileSync(file, `${JSON.stringify(sbom, null, 2)}\n`);
    sboms.push({ arch, file, manifest: built.manifest });
    say(
      `linux/${arch}: ${built.manifest.descriptor.digest} ${mb(built.size.uncompressed)} uncompressed, ${mb(built.size.compressed)} compressed (Debian ${debian.length} packages, Node ${node.version}; ${((Date.now() - t) / 1000).toFixed(1)} s)`,
    );
  }
  const index = imageIndex(
    images.map((i) => ({ manifest: i.manifest, platform: i.platform })),
    labelsOf(labels),
  );
  say(`image index ${index.descriptor.digest}`);
  const imageBlobs = images.flatMap((i) => [i.manifest, i.config, ...i.layers.map((l) => l.blob)]);
  const imageArchive = join(o.out, `k8s-watch-policy-${o.version}.oci.tar`);
  writeFileSync(imageArchive, layoutArchive(index, o.version, imageBlobs, epoch));

  const signKey = o.signer && 'key' in o.signer ? publicKeyOf(o.signer.key) : undefined;
  const chartPackage = packageChart(
    ROOT,
    {
      version: o.version,
      imageRepository: o.imageRepository,
      imageDigest: index.descriptor.digest,
      platforms: images.map((i) => `linux/${i.platform.architecture}`),
      source: SOURCE,
      ...(signKey
        ? { signKey: { url: `${SOURCE}/releases/download/v${o.version}/cosign.pub`, fingerprint: signKey.fingerprint } }
        : {}),
      changes: changes(),
    },
    join(cache, 'chart'),
  );
  const chartTgz = readFileSync(chartPackage.tgz);
  const chartFile = join(o.out, `k8s-watch-policy-${o.version}.tgz`);
  writeFileSync(chartFile, chartTgz);
  const chart = chartArtifact(chartPackage.metadata, chartTgz, {
    'org.opencontainers.image.created': created,
    'org.opencontainers.image.description': String(chartPackage.metadata.description ?? ''),
    'org.opencontainers.image.title': 'k8s-watch-policy',
    'org.opencontainers.image.version': o.version,
  });
  const chartArchive = join(o.out, `k8s-watch-policy-${o.version}-chart.oci.tar`);
  writeFileSync(chartArchive, layoutArchive(chart.manifest, o.version, [chart.config, chart.layer], epoch));
  say(`chart ${o.version}: helm lint --strict clean, ${chart.manifest.descriptor.digest}`);

  const files = [imageArchive, chartArchive, chartFile, ...sboms.map((s) => s.file)];
  let chartReference = `${chartFile}`;
  if (o.registry !== undefined) {
    const { host, path } = parseRegistry(o.registry);
    const client = new RegistryClient({
      host,
      ...(o.registryCa ? { ca: readFileSync(o.registryCa, 'utf8') } : {}),
      ...(process.env.REGISTRY_USERNAME
        ? { username: process.env.REGISTRY_USERNAME, password: process.env.REGISTRY_PASSWORD ?? '' }
        : {}),
    });
    const imageRepo = [path, 'k8s-watch-policy'].filter(Boolean).join('/');
    const chartRepo = [path, 'charts', 'k8s-watch-policy'].filter(Boolean).join('/');
    t = Date.now();
    let uploaded = 0;
    for (const b of imageBlobs.filter((b) => !b.descriptor.mediaType.endsWith('manifest.v1+json')))
      if (await client.pushBlob(imageRepo, b)) uploaded += b.descriptor.size;
    for (const i of images) await client.pushManifest(imageRepo, i.manifest.descriptor.digest, i.manifest);
    await client.pushManifest(imageRepo, o.version, index);
    for (const b of [chart.config, chart.layer]) await client.pushBlob(chartRepo, b);
    await client.pushManifest(chartRepo, o.version, chart.manifest);
    chartReference = `oci://${[host, path, 'charts'].filter(Boolean).join('/')}/k8s-watch-policy`;
    say(
      `pushed ${host}/${imageRepo}:${o.version} and ${host}/${chartRepo}:${o.version} (${mb(uploaded)} uploaded, ${((Date.now() - t) / 1000).toFixed(1)} s)`,
    );
    if (o.signer) {
      t = Date.now();
      const env: CosignEnv = { cosign: tool('cosign', say), ...(o.registryCa ? { caFile: o.registryCa } : {}) };
      // cosign pushes its signatures with the credentials of the docker config it reads.
      if (process.env.REGISTRY_USERNAME)
        login(env, host, process.env.REGISTRY_USERNAME, process.env.REGISTRY_PASSWORD ?? '');
      const imageRef = `${host}/${imageRepo}@${index.descriptor.digest}`;
      sign(env, o.signer, imageRef, { version: o.version });
      for (const i of images)
        sign(env, o.signer, `${host}/${imageRepo}@${i.manifest.descriptor.digest}`, { version: o.version });
      for (const s of sboms) attest(env, o.signer, `${host}/${imageRepo}@${s.manifest.descriptor.digest}`, s.file);
      sign(env, o.signer, `${host}/${chartRepo}@${chart.manifest.descriptor.digest}`, { version: o.version });
      say(
        `signed the index, ${images.length} images and the chart; ${sboms.length} SBOM attestations (${((Date.now() - t) / 1000).toFixed(1)} s)`,
      );
    }
  } else if (o.signer && 'key' in o.signer) {
    const env: CosignEnv = { cosign: tool('cosign', say) };
    const indexFile = join(o.out, `k8s-watch-policy-${o.version}.index.json`);
    writeFileSync(indexFile, index.content);
    for (const file of [indexFile, chartFile]) {
      signBlob(env, o.signer.key, file, `${file}.sig`);
      files.push(`${file}.sig`);
    }
    files.push(indexFile);
  }
  const result: ReleaseResult = {
    version: o.version,
    revision,
    created,
    image: {
      repository: o.imageRepository,
      index: index.descriptor.digest,
      platforms: Object.fromEntries(
        images.map((i) => [
          `linux/${i.platform.architecture}`,
          { manifest: i.manifest.descriptor.digest, uncompressed: i.size.uncompressed, compressed: i.size.compressed },
        ]),
      ),
    },
    chart: { reference: chartReference, manifest: chart.manifest.descriptor.digest, package: chartFile },
    files: files.map((f) => f.replace(`${o.out}/`, '')),
  };
  writeFileSync(join(o.out, 'release.json'), `${JSON.stringify(result, null, 2)}\n`);
  say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${join(o.out, 'release.json')}`);
  return result;
}

/** The public key of a cosign key pair (KEY.pub beside KEY) and its fingerprint (sha256 of the PEM). */
function publicKeyOf(key: string): { fingerprint: string } | undefined {
  try {
    const pem = readFileSync(key.replace(/\.key$/, '.pub'), 'utf8');
    return { fingerprint: createHash('sha256').update(pem).digest('hex') };
  } catch {
    return undefined;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  try {
    const result = await release(parseOptions(argv));
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } catch (error) {
    process.stderr.write(`release: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
