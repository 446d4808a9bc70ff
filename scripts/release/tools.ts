/**
 * The release's Go tools, built from the Go modules of scripts/release/tools (go.mod pins them)
 * into the cache, like the local control plane: cosign (signatures, attestations, verification)
 * and distribution's registry (the OCI registry the tests push to). $COSIGN and $REGISTRY name
 * binaries to use instead.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TOOLS_MODULE_DIR = fileURLToPath(new URL('./tools', import.meta.url));

export const TOOLS = {
  cosign: 'github.com/sigstore/cosign/v2/cmd/cosign',
  registry: 'github.com/distribution/distribution/v3/cmd/registry',
} as const;

export type Tool = keyof typeof TOOLS;

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.K8S_WATCH_POLICY_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'k8s-watch-policy');
}

/** ~/.cache/k8s-watch-policy/release-tools-<hash of go.mod and go.sum>/ */
export function toolsDir(): string {
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum']) hash.update(readFileSync(join(TOOLS_MODULE_DIR, file)));
  return join(cacheRoot(), `release-tools-${hash.digest('hex').slice(0, 12)}`);
}

/** The tool's binary, built first when it is not in the cache (cosign: about 6 minutes on 2 cores, cold). */
export function tool(name: Tool, log: (line: string) => void = () => {}): string {
  const override = process.env[name.toUpperCase()];
  if (override) return override;
  const dir = toolsDir();
  const bin = join(dir, name);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  log(`building ${name} (${TOOLS[name]}) from Go modules into ${dir}`);
  const tmp = `${bin}.tmp-${process.pid}`;
  const r = spawnSync('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', tmp, TOOLS[name]], {
    cwd: TOOLS_MODULE_DIR,
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly', CGO_ENABLED: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.error) throw new Error(`go is needed to build ${name}: ${r.error.message}`);
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`go build ${TOOLS[name]} failed (exit ${r.status})`);
  }
  renameSync(tmp, bin);
  log(`built ${name} in ${Math.round((Date.now() - started) / 1000)} s`);
  return bin;
}
