/**
 * The app as the image holds it, under /app: the production dependencies and the compiled CLI.
 * `npm ci --omit=dev --omit=optional` in a directory of its own (the optional dependency
 * @kubernetes/client-node, loaded only for exec/auth-provider/proxy kubeconfigs that a pod never
 * has, stays out: 65 MB), without what Node never loads (type declarations, source maps, sources
 * in TypeScript, markdown); `tsc` into it afresh. Reused while package.json and the lock are.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { command } from './command.ts';

export interface NpmPackage {
  name: string;
  version: string;
  license?: string;
  integrity?: string;
}

export interface AppTree {
  dir: string;
  packages: NpmPackage[];
}

/** Files of node_modules the runtime never reads. */
export function keptInNodeModules(path: string): boolean {
  return !/\.([mc]?ts|map|md|markdown)$/i.test(path);
}

/** The installed packages (name, version, license, the lock's integrity), sorted by name and version. */
export function installedPackages(dir: string): NpmPackage[] {
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
  const seen = new Map<string, NpmPackage>();
  for (const [path, entry] of Object.entries<Record<string, unknown>>(lock.packages ?? {})) {
    if (!path.startsWith('node_modules/') || !existsSync(join(dir, path, 'package.json'))) continue;
    const manifest = JSON.parse(readFileSync(join(dir, path, 'package.json'), 'utf8'));
    const pkg: NpmPackage = { name: manifest.name, version: manifest.version };
    if (typeof manifest.license === 'string') pkg.license = manifest.license;
    if (typeof entry.integrity === 'string') pkg.integrity = entry.integrity;
    seen.set(`${pkg.name}@${pkg.version}`, pkg);
  }
  return [...seen.values()].sort((a, b) =>
    a.name === b.name ? (a.version < b.version ? -1 : 1) : a.name < b.name ? -1 : 1,
  );
}

export function appTree(repoRoot: string, cacheDir: string): AppTree {
  const dir = join(cacheDir, 'app');
  const manifest = readFileSync(join(repoRoot, 'package.json'));
  const lock = readFileSync(join(repoRoot, 'package-lock.json'));
  const key = createHash('sha256').update(manifest).update('\0').update(lock).digest('hex');
  const keyFile = join(dir, '.dependencies');
  if (!existsSync(keyFile) || readFileSync(keyFile, 'utf8') !== key) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), manifest);
    writeFileSync(join(dir, 'package-lock.json'), lock);
    command('npm', ['ci', '--omit=dev', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund'], dir);
    writeFileSync(keyFile, key);
  }
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  command(
    process.execPath,
    [
      join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(repoRoot, 'tsconfig.build.json'),
      '--outDir',
      join(dir, 'dist'),
      '--sourceMap',
      'false',
    ],
    repoRoot,
  );
  if (!readdirSync(join(dir, 'dist')).includes('cli')) throw new Error(`tsc wrote no dist/cli into ${dir}`);
  return { dir, packages: installedPackages(dir) };
}
