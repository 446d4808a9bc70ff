/**
 * The app as the image holds it, under /app: the production dependencies and the compiled CLI.
 * `npm ci --omit=dev` in a directory of its own, then without @kubernetes/client-node and what
 * only it needs (loaded only for exec/auth-provider/proxy kubeconfigs, which a pod never has:
 * 65 MB), and without what Node never loads (type declarations, source maps, sources in
 * TypeScript, markdown); `tsc` into it afresh. Reused while package.json and the lock are.
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

/** The dependencies the image leaves out, with whatever only they need. */
export const LEFT_OUT = ['@kubernetes/client-node'] as const;

type LockPackages = Record<
  string,
  {
    dev?: boolean;
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  }
>;

/** Where Node finds `name` from the package at `from` (a lock path; '' is the root): the nearest node_modules up the tree. */
function resolveIn(packages: LockPackages, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (packages[candidate] !== undefined) return candidate;
    if (base === '') return undefined;
    const at = base.lastIndexOf('node_modules/');
    base = at <= 0 ? '' : base.slice(0, at - 1);
  }
}

/**
 * The lock paths of the production packages nothing needs once `leftOut` are gone: walks the
 * dependencies (and optional and peer ones) from the root's, without `leftOut`, the way Node
 * resolves them; what it never reaches goes.
 */
export function unreachablePackages(lock: { packages?: LockPackages }, leftOut: readonly string[]): string[] {
  const packages = lock.packages ?? {};
  const root = packages[''] ?? {};
  const keep = new Set<string>();
  const queue: [string, string][] = Object.keys(root.dependencies ?? {})
    .filter((name) => !leftOut.includes(name))
    .map((name) => ['', name]);
  while (queue.length > 0) {
    const [from, name] = queue.pop()!;
    const path = resolveIn(packages, from, name);
    if (path === undefined || keep.has(path)) continue;
    keep.add(path);
    const entry = packages[path]!;
    for (const deps of [entry.dependencies, entry.optionalDependencies, entry.peerDependencies])
      for (const dep of Object.keys(deps ?? {})) queue.push([path, dep]);
  }
  return Object.keys(packages)
    .filter((path) => path.startsWith('node_modules/') && !packages[path]!.dev && !keep.has(path))
    .sort();
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
    command('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], dir);
    for (const path of unreachablePackages(JSON.parse(lock.toString()), LEFT_OUT))
      rmSync(join(dir, path), { recursive: true, force: true });
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
