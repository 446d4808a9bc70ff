/**
 * A reproducible tar writer: the same entries give the same bytes on any machine. Entries are
 * sorted by path, every directory above an entry is written before it, and nothing of the build
 * machine gets in (mtime is the release's epoch, owners are numeric, no user or group names, no
 * device numbers). Paths longer than ustar holds go into a PAX header, itself deterministic.
 */

export type TarEntry =
  | { path: string; type: 'file'; mode?: number; uid?: number; gid?: number; data: Buffer }
  | { path: string; type: 'dir'; mode?: number; uid?: number; gid?: number }
  | { path: string; type: 'symlink'; target: string };

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** A path without a leading slash or `./`, directories without a trailing slash. */
export function normalPath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new Error(`tar: ${path}: a path with ".." is not written`);
  if (parts.length === 0) throw new Error(`tar: empty path`);
  return parts.join('/');
}

function header(
  name: string,
  size: number,
  mode: number,
  uid: number,
  gid: number,
  mtime: number,
  typeflag: string,
  linkname: string,
  prefix: string,
): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, 'utf8');
  b.write(octal(mode & 0o7777, 8), 100, 'ascii');
  b.write(octal(uid, 8), 108, 'ascii');
  b.write(octal(gid, 8), 116, 'ascii');
  b.write(octal(size, 12), 124, 'ascii');
  b.write(octal(mtime, 12), 136, 'ascii');
  b.fill(' ', 148, 156); // the checksum counts its own field as spaces
  b.write(typeflag, 156, 'ascii');
  b.write(linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 'ascii');
  b.write('00', 263, 'ascii');
  b.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return b;
}

/** ustar's name/prefix split of a path, or undefined when it does not fit. */
function ustarName(path: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  return undefined;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body);
  for (;;) {
    const next = Buffer.byteLength(body) + String(length).length;
    if (next === length) return `${length}${body}`;
    length = next;
  }
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/**
 * The tar archive of the entries (with the directories above them added as 0755 root:root when not
 * given), sorted by path; a path given twice is an error.
 */
export function tarArchive(entries: readonly TarEntry[], mtime: number): Buffer {
  const byPath = new Map<string, TarEntry>();
  for (const entry of entries) {
    const path = normalPath(entry.path);
    if (byPath.has(path)) throw new Error(`tar: ${path} is given twice`);
    byPath.set(path, { ...entry, path });
  }
  for (const path of [...byPath.keys()]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const existing = byPath.get(dir);
      if (existing === undefined) byPath.set(dir, { path: dir, type: 'dir' });
      else if (existing.type !== 'dir') throw new Error(`tar: ${dir} is both a ${existing.type} and a directory`);
    }
  }
  const paths = [...byPath.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const chunks: Buffer[] = [];
  for (const path of paths) {
    const entry = byPath.get(path)!;
    const data = entry.type === 'file' ? entry.data : Buffer.alloc(0);
    const link = entry.type === 'symlink' ? entry.target : '';
    const mode = entry.type === 'symlink' ? 0o777 : (entry.mode ?? (entry.type === 'dir' ? 0o755 : 0o644));
    const uid = entry.type === 'symlink' ? 0 : (entry.uid ?? 0);
    const gid = entry.type === 'symlink' ? 0 : (entry.gid ?? 0);
    const typeflag = entry.type === 'file' ? '0' : entry.type === 'dir' ? '5' : '2';
    const tarPath = entry.type === 'dir' ? `${path}/` : path;
    let split = ustarName(tarPath);
    const longLink = Buffer.byteLength(link) > 100;
    if (split === undefined || longLink) {
      const records =
        (split === undefined ? paxRecord('path', tarPath) : '') + (longLink ? paxRecord('linkpath', link) : '');
      const body = Buffer.from(records, 'utf8');
      const paxName = `PaxHeaders/${path.split('/').pop()!.slice(0, 80)}`;
      chunks.push(header(paxName, body.length, 0o644, 0, 0, mtime, 'x', '', ''), body, padding(body.length));
      split ??= { name: tarPath.slice(-100).replace(/^[^/]*\//, ''), prefix: '' };
    }
    chunks.push(
      header(split.name, data.length, mode, uid, gid, mtime, typeflag, longLink ? '' : link, split.prefix),
      data,
      padding(data.length),
    );
  }
  chunks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(chunks);
}
