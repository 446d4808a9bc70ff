/**
 * The Go baseline (bench/baseline-go/, a controller-runtime webhook with rules 1-4): built once
 * per content of go.mod, go.sum and main.go into ~/.cache/k8s-watch-policy/baseline-go-<hash>/
 * (K8S_WATCH_POLICY_CACHE or XDG_CACHE_HOME move it) with the go on PATH.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GO_DIR = join(ROOT, 'bench/baseline-go');

/** The path of the built binary (built now if needed; `progress` says so). */
export function goBinary(progress: (line: string) => void): string {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go'])
    hash
      .update(`${f}\0`)
      .update(readFileSync(join(GO_DIR, f)))
      .update('\0');
  const cache =
    process.env.K8S_WATCH_POLICY_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'k8s-watch-policy');
  const dir = join(cache, `baseline-go-${hash.digest('hex').slice(0, 16)}`);
  const binary = join(dir, 'baseline-go');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  progress(`building the Go baseline (go build in ${relative(ROOT, GO_DIR)}) into ${dir}`);
  try {
    execFileSync('go', ['build', '-trimpath', '-o', tmp, '.'], {
      cwd: GO_DIR,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new Error(
      `cannot build the Go baseline (needs go on PATH): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  renameSync(tmp, binary);
  return binary;
}
