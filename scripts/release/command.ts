/** Runs a tool to completion; its standard output, or an error with its exit status and standard error. */
import { spawnSync } from 'node:child_process';

export function command(cmd: string, args: readonly string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr.trim()}`);
  return r.stdout;
}
