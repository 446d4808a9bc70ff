/**
 * The local control plane of test/cluster as the benchmarks drive it: `node test/cluster/main.ts
 * up|status|down` with a state directory, and whether it is running.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function clusterCommand(
  dir: string,
  command: 'up' | 'status' | 'down',
  nodeLeaseSeconds?: number,
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'test/cluster/main.ts'), command], {
    cwd: ROOT,
    env: {
      ...process.env,
      K8S_WATCH_POLICY_CLUSTER_DIR: dir,
      ...(nodeLeaseSeconds === undefined ? {} : { K8S_WATCH_POLICY_NODE_LEASE_SECONDS: String(nodeLeaseSeconds) }),
    },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 15 * 60_000,
  });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/**
 * Whether every component of the cluster in `dir` runs. `status` exits 3 when /readyz does not
 * answer within 5 s, which a cluster busy with thousands of kwok nodes may do; `up` would then
 * restart it. Running components mean up.
 */
export function clusterRunning(dir: string): boolean {
  const status = clusterCommand(dir, 'status');
  try {
    return Object.values((JSON.parse(status.stdout) as { components: Record<string, number | null> }).components).every(
      (pid) => pid !== null,
    );
  } catch {
    return false; // never up
  }
}
