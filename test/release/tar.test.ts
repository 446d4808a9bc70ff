/**
 * The release's tar writer: GNU tar reads what it writes (modes, owners, symlinks, long paths), and
 * the bytes depend on the entries only, never on their order or the machine.
 */
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { normalPath, tarArchive, type TarEntry } from '../../scripts/release/tar.ts';

const EPOCH = 1_765_000_000;

function gnuTarList(archive: Buffer): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kwp-tar-'));
  try {
    writeFileSync(join(dir, 'a.tar'), archive);
    const r = spawnSync('tar', ['--numeric-owner', '--full-time', '-tvf', join(dir, 'a.tar')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout.trim().split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const long = `app/node_modules/${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(120)}.js`;
const entries: TarEntry[] = [
  { path: 'usr/local/bin/node', type: 'file', mode: 0o755, data: Buffer.from('#!node\n') },
  { path: '/etc/passwd', type: 'file', data: Buffer.from('root:x:0:0::/root:/sbin/nologin\n') },
  { path: 'lib64/ld-linux-x86-64.so.2', type: 'symlink', target: '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' },
  { path: 'home/nonroot', type: 'dir', mode: 0o700, uid: 65532, gid: 65532 },
  { path: 'tmp', type: 'dir', mode: 0o1777 },
  { path: long, type: 'file', data: Buffer.from('x') },
];

describe('tarArchive', () => {
  test('GNU tar lists every entry, its parents, modes, numeric owners and the epoch, sorted by path', () => {
    const lines = gnuTarList(tarArchive(entries, EPOCH));
    const names = lines.map((l) => l.split(/\s+/).slice(5).join(' '));
    expect(names).toEqual([
      'app/',
      'app/node_modules/',
      `app/node_modules/${'a'.repeat(60)}/`,
      `app/node_modules/${'a'.repeat(60)}/${'b'.repeat(60)}/`,
      long,
      'etc/',
      'etc/passwd',
      'home/',
      'home/nonroot/',
      'lib64/',
      'lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
      'tmp/',
      'usr/',
      'usr/local/',
      'usr/local/bin/',
      'usr/local/bin/node',
    ]);
    const line = (name: string) => lines.find((l) => l.endsWith(` ${name}`))!;
    expect(line('usr/local/bin/node')).toMatch(/^-rwxr-xr-x 0\/0 +7 2025-12-0\d \d\d:\d\d:\d\d /);
    expect(line('home/nonroot/')).toMatch(/^drwx------ 65532\/65532 /);
    expect(line('tmp/')).toMatch(/^drwxrwxrwt 0\/0 /);
    expect(line('etc/passwd')).toMatch(/^-rw-r--r-- 0\/0 /);
  });

  test('the same entries in any order give the same bytes', () => {
    const expected = tarArchive(entries, EPOCH);
    fc.assert(
      fc.property(fc.shuffledSubarray(entries, { minLength: entries.length }), (shuffled) =>
        tarArchive(shuffled, EPOCH).equals(expected),
      ),
    );
  });

  test('a path given twice, a path through a file and ".." are refused', () => {
    const file: TarEntry = { path: 'a/b', type: 'file', data: Buffer.alloc(0) };
    expect(() => tarArchive([file, { ...file, path: '/a/b' }], EPOCH)).toThrow('tar: a/b is given twice');
    expect(() => tarArchive([file, { path: 'a/b/c', type: 'file', data: Buffer.alloc(0) }], EPOCH)).toThrow(
      'tar: a/b is both a file and a directory',
    );
    expect(() => normalPath('a/../etc')).toThrow('a path with ".."');
  });
});
