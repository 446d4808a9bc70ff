/** kubectl of the binary cache against the local cluster (admin credentials). */
import { spawnSync } from 'node:child_process';
import { KUBECONFIG } from './paths.ts';

export function kubectl(
  bin: string,
  args: string[],
  input?: string,
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(`${bin}/kubectl`, ['--kubeconfig', KUBECONFIG, ...args], {
    input,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}
