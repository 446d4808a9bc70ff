/**
 * What `npm run release` published into the local registry of e2e:node (which runs this with
 * KWP_REGISTRY, KWP_REGISTRY_CA, KWP_COSIGN_PUB, KWP_RELEASE_OUT, KWP_RELEASE_VERSION): the
 * signatures verify with the release's key and fail on a changed image, even one carrying the
 * original's signature; the SBOM attestations verify and list what the image holds; the arm64
 * image runs under qemu and gives the amd64 image's answers; a second build elsewhere gives the
 * same digests.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parse } from 'yaml';
import { runCosign, type CosignEnv } from '../../scripts/release/cosign.ts';
import { blob, jsonBlob, MEDIA, sha256 } from '../../scripts/release/oci.ts';
import { RegistryClient } from '../../scripts/release/registry_push.ts';
import { tool } from '../../scripts/release/tools.ts';
import { which } from '../cluster/node/host.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const need = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: test/published runs inside npm run e2e:node`);
  return value;
};
const REGISTRY = need('KWP_REGISTRY');
const CA = need('KWP_REGISTRY_CA');
const PUB = need('KWP_COSIGN_PUB');
const OUT = need('KWP_RELEASE_OUT');
const VERSION = need('KWP_RELEASE_VERSION');
const release = JSON.parse(readFileSync(join(OUT, 'release.json'), 'utf8'));
const IMAGE = `${REGISTRY}/k8s-watch-policy`;
const cosign: CosignEnv = { cosign: tool('cosign'), caFile: CA };
const client = new RegistryClient({ host: REGISTRY, ca: readFileSync(CA, 'utf8') });

const verify = (ref: string) => runCosign(cosign, ['verify', '--key', PUB, '--insecure-ignore-tlog=true', ref]);

let layout: string;
const blobOf = (digest: string) => readFileSync(join(layout, 'blobs', 'sha256', digest.replace('sha256:', '')));
const jsonOf = (digest: string) => JSON.parse(blobOf(digest).toString());

beforeAll(() => {
  layout = mkdtempSync(join(tmpdir(), 'kwp-layout-'));
  const r = spawnSync('tar', ['-xf', join(OUT, `k8s-watch-policy-${VERSION}.oci.tar`), '-C', layout]);
  expect(r.status).toBe(0);
});

afterAll(() => rmSync(layout, { recursive: true, force: true }));

describe('the image index', () => {
  test('holds linux/amd64 and linux/arm64, each within 160 MB uncompressed and 55 MB compressed, uid 65532', () => {
    const index = jsonOf(release.image.index);
    expect(index.manifests.map((m: any) => `${m.platform.os}/${m.platform.architecture}`)).toEqual([
      'linux/amd64',
      'linux/arm64',
    ]);
    for (const platform of ['linux/amd64', 'linux/arm64']) {
      const p = release.image.platforms[platform];
      process.stderr.write(
        `[published] ${platform}: ${(p.uncompressed / 1e6).toFixed(1)} MB uncompressed, ${(p.compressed / 1e6).toFixed(1)} MB compressed\n`,
      );
      expect(p.uncompressed).toBeLessThanOrEqual(160e6);
      expect(p.compressed).toBeLessThanOrEqual(55e6);
      const config = jsonOf(jsonOf(p.manifest).config.digest);
      expect(config.config).toMatchObject({
        User: '65532:65532',
        Entrypoint: ['/usr/local/bin/node', '/app/dist/cli/main.js'],
      });
      expect(config.architecture).toBe(platform.split('/')[1]);
    }
  });

  test('cosign verify passes on the index, by digest and by tag, and on each image', () => {
    for (const ref of [
      `${IMAGE}@${release.image.index}`,
      `${IMAGE}:${VERSION}`,
      ...Object.values<any>(release.image.platforms).map((p) => `${IMAGE}@${p.manifest}`),
    ]) {
      const r = verify(ref);
      expect({ ref, status: r.status }).toEqual({ ref, status: 0 });
      expect(r.output).toContain('The signatures were verified against the specified public key');
    }
  });

  test('cosign verify fails on an image pushed with a changed layer, even with the original signature copied to it', async () => {
    const amd64 = release.image.platforms['linux/amd64'].manifest as string;
    const manifest = jsonOf(amd64);
    const config = jsonOf(manifest.config.digest);
    // The app layer with one byte of dist/cli/main.js changed: what a compromised build or mirror serves.
    const appLayer = manifest.layers.at(-1);
    const tar = gunzipSync(blobOf(appLayer.digest));
    const at = tar.indexOf('k8s-watch-policy');
    expect(at).toBeGreaterThan(0);
    tar[at] = 'K'.charCodeAt(0);
    const changed = blob(MEDIA.layer, gzipSync(tar));
    const changedConfig = jsonBlob(MEDIA.config, {
      ...config,
      rootfs: { ...config.rootfs, diff_ids: [...config.rootfs.diff_ids.slice(0, -1), sha256(tar)] },
    });
    const changedManifest = jsonBlob(MEDIA.manifest, {
      ...manifest,
      config: changedConfig.descriptor,
      layers: [...manifest.layers.slice(0, -1), changed.descriptor],
    });
    await client.pushBlob('k8s-watch-policy', changed);
    await client.pushBlob('k8s-watch-policy', changedConfig);
    await client.pushManifest('k8s-watch-policy', `${VERSION}-tampered`, changedManifest);

    const unsigned = verify(`${IMAGE}:${VERSION}-tampered`);
    expect(unsigned.status).not.toBe(0);
    expect(unsigned.output).toMatch(/no signatures found|no matching signatures/);

    const signature = await client.getManifest('k8s-watch-policy', `${amd64.replace(':', '-')}.sig`);
    expect(signature).toBeDefined();
    await client.pushManifest('k8s-watch-policy', `${changedManifest.descriptor.digest.replace(':', '-')}.sig`, {
      descriptor: {
        mediaType: signature!.mediaType,
        digest: sha256(signature!.content),
        size: signature!.content.length,
      },
      content: signature!.content,
    });
    const copied = verify(`${IMAGE}:${VERSION}-tampered`);
    expect(copied.status).not.toBe(0);
    expect(copied.output).toMatch(/no matching signatures/);
  });
});

describe('the SBOM attestations', () => {
  test.each(['linux/amd64', 'linux/arm64'])(
    '%s: verifies with the key and lists the npm and Debian packages of the image',
    (platform) => {
      const ref = `${IMAGE}@${release.image.platforms[platform].manifest}`;
      const r = runCosign(cosign, [
        'verify-attestation',
        '--key',
        PUB,
        '--insecure-ignore-tlog=true',
        '--type',
        'cyclonedx',
        ref,
      ]);
      expect(r.status).toBe(0);
      const line = r.output.split('\n').find((l) => l.startsWith('{') && l.includes('"payload"'));
      const statement = JSON.parse(Buffer.from(JSON.parse(line!).payload, 'base64').toString());
      expect(statement.subject[0].digest.sha256).toBe(
        release.image.platforms[platform].manifest.replace('sha256:', ''),
      );
      const names = statement.predicate.components.map((c: any) => c.name as string);
      // npm: the production dependencies; Debian: the base; the Node runtime.
      expect(names).toEqual(
        expect.arrayContaining(['express', 'prom-client', 'pino', 'yaml', 'libc6', 'libstdc++6', 'node']),
      );
      // The optional @kubernetes/client-node is not in the image, so not in its SBOM.
      expect(names).not.toContain('@kubernetes/client-node');
      const libc = statement.predicate.components.find((c: any) => c.name === 'libc6');
      expect(libc.purl).toMatch(
        new RegExp(`^pkg:deb/debian/libc6@.+\\?arch=${platform.split('/')[1]}&distro=debian-12$`),
      );
    },
  );
});

describe('the chart', () => {
  test('is signed, pins the image by digest and names its platforms for Artifact Hub', () => {
    expect(verify(`${REGISTRY}/charts/k8s-watch-policy@${release.chart.manifest}`).status).toBe(0);
    const show = (what: string) => {
      const r = spawnSync(
        process.env.HELM ?? 'helm',
        ['show', what, release.chart.reference, '--version', VERSION, '--ca-file', CA],
        { encoding: 'utf8' },
      );
      expect(r.status).toBe(0);
      return parse(r.stdout);
    };
    expect(show('values').image).toMatchObject({ repository: IMAGE, digest: release.image.index });
    const chart = show('chart');
    expect(chart).toMatchObject({ version: VERSION, appVersion: VERSION, kubeVersion: '>=1.30.0-0' });
    expect(parse(chart.annotations['artifacthub.io/images'])).toEqual([
      {
        name: 'k8s-watch-policy',
        image: `${IMAGE}:${VERSION}@${release.image.index}`,
        platforms: ['linux/amd64', 'linux/arm64'],
      },
    ]);
  });
});

/** The image's root filesystem: its layers unpacked in order. */
function unpack(platform: string): string {
  const dir = mkdtempSync(join(tmpdir(), `kwp-rootfs-${platform.replace('/', '-')}-`));
  chmodSync(dir, 0o755); // the image's / as uid 65532 sees it (mkdtemp makes it 0700)
  for (const l of jsonOf(release.image.platforms[platform].manifest).layers) {
    const r = spawnSync('tar', ['--numeric-owner', '-xzf', '-', '-C', dir], { input: blobOf(l.digest) });
    expect(r.status).toBe(0);
  }
  return dir;
}

describe('the arm64 image under qemu', () => {
  let amd64: string;
  let arm64: string;
  beforeAll(() => {
    amd64 = unpack('linux/amd64');
    arm64 = unpack('linux/arm64');
    const qemu = which('qemu-aarch64-static');
    if (qemu === undefined) throw new Error('qemu-aarch64-static is missing: e2e:node installs qemu-user-static');
    copyFileSync(qemu, join(arm64, 'qemu-aarch64-static'));
  });
  afterAll(() => {
    for (const dir of [amd64, arm64]) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The image's entrypoint in its root filesystem as uid 65532 (chroot): natively for amd64; for
   * arm64 through qemu-aarch64-static, a static binary copied into the unpacked tree (not the
   * image), so that every path the program opens is the image's.
   */
  const runIn = (rootfs: string, arch: string, args: string[], input?: string) => {
    const emulator = arch === 'amd64' ? [] : ['/qemu-aarch64-static'];
    const command = [
      'chroot',
      '--userspec=65532:65532',
      rootfs,
      ...emulator,
      '/usr/local/bin/node',
      '/app/dist/cli/main.js',
      ...args,
    ];
    const r = spawnSync(command[0]!, command.slice(1), {
      encoding: 'utf8',
      input,
      cwd: rootfs,
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', NODE_ENV: 'production' },
      timeout: 120_000,
    });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test('the binary is an aarch64 executable, and --version prints the release on both', () => {
    // ELF e_machine: 62 is x86-64, 183 is AArch64.
    const machine = (rootfs: string) => readFileSync(join(rootfs, 'usr/local/bin/node')).readUInt16LE(18);
    expect([machine(amd64), machine(arm64)]).toEqual([62, 183]);
    for (const [dir, arch] of [
      [amd64, 'amd64'],
      [arm64, 'arm64'],
    ] as const) {
      const r = runIn(dir, arch, ['--version']);
      expect({ arch, status: r.status, stdout: r.stdout.trim() }).toEqual({ arch, status: 0, stdout: VERSION });
    }
  });

  test('inject on the serverless example gives the same output on arm64 as on amd64', () => {
    const fixture = readFileSync(join(ROOT, 'examples', 'serverless-sidecar.yaml'), 'utf8');
    const x86 = runIn(amd64, 'amd64', ['inject', '-f', '-'], fixture);
    const arm = runIn(arm64, 'arm64', ['inject', '-f', '-'], fixture);
    expect(x86.status).toBe(0);
    expect(x86.stdout).toContain('K8S_WATCH_POLICY');
    expect(arm).toEqual(x86);
  });
});

describe('reproducible, and signed offline without a registry', () => {
  test('a second release of this commit, with a cache of its own (another machine), gives the same digests; its archives are signed with the key', () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'kwp-release-elsewhere-'));
    const out = join(elsewhere, 'out');
    try {
      const r = spawnSync(
        process.execPath,
        [
          join(ROOT, 'scripts', 'release', 'main.ts'),
          ...['--version', VERSION, '--image-repository', IMAGE, '--out', out],
          ...['--key', PUB.replace(/\.pub$/, '.key')],
        ],
        {
          encoding: 'utf8',
          env: { ...process.env, K8S_WATCH_POLICY_CACHE: join(elsewhere, 'cache'), COSIGN: tool('cosign') },
          stdio: ['ignore', 'pipe', 'inherit'],
          timeout: 15 * 60_000,
        },
      );
      expect(r.status).toBe(0);
      const again = JSON.parse(readFileSync(join(out, 'release.json'), 'utf8'));
      expect(again.image).toEqual(release.image);
      expect(readdirSync(out)).toContain(`k8s-watch-policy-${VERSION}.oci.tar`);
      // Without a registry, --key signs the index document and the chart package as blobs.
      for (const file of [`k8s-watch-policy-${VERSION}.index.json`, `k8s-watch-policy-${VERSION}.tgz`]) {
        const verified = runCosign(cosign, [
          'verify-blob',
          '--key',
          PUB,
          '--insecure-ignore-tlog=true',
          '--signature',
          join(out, `${file}.sig`),
          join(out, file),
        ]);
        expect({ file, status: verified.status }).toEqual({ file, status: 0 });
        expect(verified.output).toMatch(/^Verified OK$/m);
      }
      expect(sha256(readFileSync(join(out, `k8s-watch-policy-${VERSION}.index.json`)))).toBe(release.image.index);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  }, 900_000);
});
