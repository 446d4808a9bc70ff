/** `kubectl watch-policy ...` as an operator runs it: the local cluster's kubectl, the plugin on PATH. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readState } from '../cluster/cluster.ts';
import { KUBECONFIG } from '../cluster/paths.ts';
import { CLI } from '../support/processes.ts';

/** A directory with kubectl-watch_policy in it, as kubectl finds plugins. */
export function pluginDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  symlinkSync(CLI, join(dir, 'kubectl-watch_policy'));
  return dir;
}

export function plugin(dir: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const bin = readState()!.bin;
  const r = spawnSync(join(bin, 'kubectl'), ['watch-policy', ...args], {
    encoding: 'utf8',
    timeout: 90_000,
    env: { ...process.env, PATH: `${dir}:${bin}:${process.env.PATH}`, KUBECONFIG, NO_COLOR: '1' },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
