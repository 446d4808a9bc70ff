/**
 * The Node binary of an architecture: the npm package `node-linux-<arch>` of the version the
 * project pins (its devDependency `node`, whose install script fetches the same package for the
 * host), from the npm registry with npm's integrity check. Cached by version and architecture.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { command } from './command.ts';

export interface NodeRuntime {
  version: string;
  /** The npm package the binary comes from (the SBOM's component). */
  packageName: string;
  integrity: string;
  binary: Buffer;
  license: Buffer;
}

const NPM_ARCH = { amd64: 'x64', arm64: 'arm64' } as const;

/** The version of the devDependency `node` (package-lock.json's, so the one `npm ci` installs). */
export function pinnedNodeVersion(repoRoot: string): string {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8'));
  const version = lock.packages?.['node_modules/node']?.version;
  if (typeof version !== 'string')
    throw new Error('package-lock.json has no node_modules/node: the Node version is unknown');
  return version;
}

export function nodeRuntime(architecture: 'amd64' | 'arm64', version: string, cacheDir: string): NodeRuntime {
  const packageName = `node-linux-${NPM_ARCH[architecture]}`;
  const dir = join(cacheDir, `${packageName}-${version}`);
  if (!existsSync(join(dir, 'package', 'bin', 'node'))) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    // npm pack checks the tarball against the registry's integrity; --json says which it was.
    const packed = JSON.parse(command('npm', ['pack', '--json', '--silent', `${packageName}@${version}`], tmp));
    const file = packed[0].filename as string;
    command('tar', ['-xzf', file, 'package/bin/node', 'package/LICENSE', 'package/package.json'], tmp);
    rmSync(join(tmp, file));
    writeFileSync(join(tmp, 'integrity'), String(packed[0].integrity));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  return {
    version,
    packageName,
    integrity: readFileSync(join(dir, 'integrity'), 'utf8').trim(),
    binary: readFileSync(join(dir, 'package', 'bin', 'node')),
    license: readFileSync(join(dir, 'package', 'LICENSE')),
  };
}
