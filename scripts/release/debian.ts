/**
 * The Debian packages of the image's base, for one architecture, from the Debian mirror: apt-get
 * with a state directory of its own (the host's apt sources, architectures and dpkg database are
 * neither read nor changed; the archive's signatures are checked with the host's Debian keyring),
 * then `dpkg-deb -x` into a directory per package. Cached by package file name: a new Debian
 * update gives a new file name and is fetched; otherwise nothing is downloaded.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { command } from './command.ts';

/** What Node needs at run time (glibc, libgcc, libstdc++), CA certificates, and what scanners read (os-release, services). */
export const BASE_PACKAGES = [
  'base-files',
  'ca-certificates',
  'gcc-12-base',
  'libc6',
  'libgcc-s1',
  'libstdc++6',
  'netbase',
] as const;

const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

export interface DebianSource {
  suite: string;
  mirror: string;
  securityMirror: string;
}

export function debianSource(env: NodeJS.ProcessEnv = process.env): DebianSource {
  return {
    suite: env.KWP_DEBIAN_SUITE ?? 'bookworm',
    mirror: env.KWP_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian',
    securityMirror: env.KWP_DEBIAN_SECURITY_MIRROR ?? 'http://deb.debian.org/debian-security',
  };
}

export interface DebianPackage {
  name: string;
  version: string;
  architecture: string;
  source: string;
  /** The package's control file (DEBIAN/control), as dpkg's status.d entry for scanners. */
  control: string;
  /** The directory the package's files were extracted into. */
  root: string;
  sha256: string;
}

function field(control: string, name: string): string | undefined {
  return new RegExp(`^${name}: *(.*)$`, 'm').exec(control)?.[1]?.trim();
}

/** Downloads (or reuses) and extracts the base packages of `architecture` under `cacheDir`. */
export function debianPackages(
  architecture: 'amd64' | 'arm64',
  cacheDir: string,
  source: DebianSource = debianSource(),
): DebianPackage[] {
  const apt = join(cacheDir, `apt-${source.suite}-${architecture}`);
  const debs = join(cacheDir, 'debs');
  for (const dir of [
    join(apt, 'state', 'lists', 'partial'),
    join(apt, 'cache', 'archives', 'partial'),
    join(apt, 'parts'),
    debs,
  ])
    mkdirSync(dir, { recursive: true });
  writeFileSync(join(apt, 'status'), '');
  // Debian's keyring by name: on a Debian host it is also in apt's trusted set, on another (an
  // Ubuntu CI runner) only the debian-archive-keyring package puts it there.
  const signedBy = existsSync(DEBIAN_KEYRING) ? `[signed-by=${DEBIAN_KEYRING}] ` : '';
  writeFileSync(
    join(apt, 'sources.list'),
    [
      `deb ${signedBy}${source.mirror} ${source.suite} main`,
      `deb ${signedBy}${source.mirror} ${source.suite}-updates main`,
      `deb ${signedBy}${source.securityMirror} ${source.suite}-security main`,
      '',
    ].join('\n'),
  );
  const options = [
    `Dir::State=${join(apt, 'state')}`,
    `Dir::State::status=${join(apt, 'status')}`,
    `Dir::Cache=${join(apt, 'cache')}`,
    `Dir::Etc::SourceList=${join(apt, 'sources.list')}`,
    `Dir::Etc::SourceParts=${join(apt, 'parts')}`,
    `Dir::Etc::Preferences=/dev/null`,
    `Dir::Etc::PreferencesParts=${join(apt, 'parts')}`,
    `APT::Architecture=${architecture}`,
    `APT::Architectures::=${architecture}`,
    'APT::Sandbox::User=root',
    'Debug::NoLocking=1',
  ].flatMap((o) => ['-o', o]);
  command('apt-get', [...options, '-qq', 'update']);

  const packages: DebianPackage[] = [];
  for (const name of BASE_PACKAGES) {
    // The candidate: the newest version of the suite, its updates and security updates.
    const policy = command('apt-cache', [...options, 'policy', name]);
    const version = /Candidate: (\S+)/.exec(policy)?.[1];
    if (version === undefined || version === '(none)')
      throw new Error(`Debian ${source.suite} has no ${name} for ${architecture}`);
    const record = command('apt-cache', [...options, 'show', `${name}=${version}`])
      .split('\n\n')
      .find((r) => field(r, 'Package') === name)!;
    const filename = field(record, 'Filename')!.split('/').pop()!;
    const sha256 = field(record, 'SHA256')!;
    const deb = join(debs, filename);
    if (!existsSync(deb)) {
      const tmp = join(debs, `.download-${process.pid}`);
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp);
      command('apt-get', [...options, '-qq', 'download', `${name}=${version}`], tmp);
      const [got] = readdirSync(tmp);
      if (got === undefined) throw new Error(`apt-get download ${name}=${version} wrote nothing`);
      renameSync(join(tmp, got), deb);
      rmSync(tmp, { recursive: true, force: true });
    }
    const actual = command('sha256sum', [deb]).split(' ')[0];
    if (actual !== sha256) throw new Error(`${deb}: sha256 ${actual}, the archive says ${sha256}`);
    const root = join(cacheDir, 'extracted', filename.replace(/\.deb$/, ''));
    if (!existsSync(join(root, '.done'))) {
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root, { recursive: true });
      command('dpkg-deb', ['-x', deb, root]);
      writeFileSync(join(root, '.done'), '');
    }
    const control = command('dpkg-deb', ['-f', deb]);
    packages.push({
      name,
      version,
      architecture: field(control, 'Architecture')!,
      source: (field(control, 'Source') ?? name).split(' ')[0]!,
      control: control.endsWith('\n') ? control : `${control}\n`,
      root,
      sha256,
    });
  }
  return packages;
}
