/**
 * The image's files as tar entries, one list per layer: the Debian base (the packages' files
 * without what Node never reads, a CA bundle, the users), the Node binary, the production
 * node_modules, the app. Reads directories; what goes where is decided by the pure functions.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { DebianPackage } from './debian.ts';
import type { TarEntry } from './tar.ts';

/** The uid and gid the image runs as (distroless' nonroot; the chart's runAsUser). */
export const NONROOT = 65532;

/** Package paths Node never reads: iconv modules (19 MB of glibc), manuals, documentation but the copyrights, translations, lintian overrides. */
export function keptInBase(path: string): boolean {
  if (/^usr\/lib\/[^/]+\/gconv(\/|$)/.test(path)) return false;
  if (/^usr\/share\/doc\//.test(path)) return /^usr\/share\/doc\/[^/]+(\/copyright)?$/.test(path);
  return !/^usr\/share\/(man|info|locale|lintian|bug|gcc|gdb)(\/|$)/.test(path);
}

/**
 * The files of a directory tree as tar entries, owned by root with normalized modes (0755 for
 * directories and executables, 0644 for the rest): what an unpacking or npm ci as another user,
 * or under another umask, wrote does not change the layer. Hard links become copies.
 */
export function treeEntries(root: string, under = '', keep: (path: string) => boolean = () => true): TarEntry[] {
  const entries: TarEntry[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const path = join(under, relative(root, full));
      if (!keep(relative(root, full))) continue;
      const st = lstatSync(full);
      if (st.isSymbolicLink()) entries.push({ path, type: 'symlink', target: readlinkSync(full) });
      else if (st.isDirectory()) {
        entries.push({ path, type: 'dir', mode: 0o755 });
        walk(full);
      } else if (st.isFile())
        entries.push({ path, type: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, data: readFileSync(full) });
      else throw new Error(`${full}: neither a file, a directory nor a symlink`);
    }
  };
  walk(root);
  return entries;
}

const text = (path: string, content: string, mode = 0o644): TarEntry => ({
  path,
  type: 'file',
  mode,
  data: Buffer.from(content),
});

/** The CA bundle update-ca-certificates would write: every certificate of the package, in name order. */
export function caBundle(certificates: readonly { name: string; pem: string }[]): string {
  return [...certificates]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((c) => (c.pem.endsWith('\n') ? c.pem : `${c.pem}\n`))
    .join('');
}

/** What a base image has besides its packages: users, name service, /tmp, the home of nonroot. */
export function systemEntries(): TarEntry[] {
  return [
    text(
      'etc/passwd',
      `root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:${NONROOT}:${NONROOT}:nonroot:/home/nonroot:/usr/sbin/nologin\n`,
    ),
    text('etc/group', `root:x:0:\nnonroot:x:${NONROOT}:\n`),
    text(
      'etc/nsswitch.conf',
      'passwd: files\ngroup: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n',
    ),
    { path: 'tmp', type: 'dir', mode: 0o1777 },
    { path: 'root', type: 'dir', mode: 0o700 },
    { path: 'home/nonroot', type: 'dir', mode: 0o700, uid: NONROOT, gid: NONROOT },
  ];
}

/** The base layer: the packages' kept files, their dpkg status entries (what scanners read), a CA bundle, the system files. */
export function baseEntries(packages: readonly DebianPackage[]): TarEntry[] {
  const byPath = new Map<string, TarEntry>();
  for (const pkg of packages) {
    for (const entry of treeEntries(pkg.root, '', (p) => p !== '.done' && keptInBase(p))) {
      const existing = byPath.get(entry.path);
      // Packages share directories (usr/, usr/lib/): the first one's owner and mode stand.
      if (existing?.type === 'dir' && entry.type === 'dir') continue;
      if (existing !== undefined) throw new Error(`${entry.path} is in two packages (${pkg.name} and another)`);
      byPath.set(entry.path, entry);
    }
    byPath.set(`var/lib/dpkg/status.d/${pkg.name}`, text(`var/lib/dpkg/status.d/${pkg.name}`, pkg.control));
  }
  const caPackage = packages.find((p) => p.name === 'ca-certificates');
  if (caPackage !== undefined) {
    const dir = join(caPackage.root, 'usr', 'share', 'ca-certificates', 'mozilla');
    const certificates = readdirSync(dir).map((name) => ({ name, pem: readFileSync(join(dir, name), 'utf8') }));
    byPath.set('etc/ssl/certs/ca-certificates.crt', text('etc/ssl/certs/ca-certificates.crt', caBundle(certificates)));
  }
  for (const entry of systemEntries()) byPath.set(entry.path, entry);
  return [...byPath.values()];
}
