/**
 * promtool, from Debian's `prometheus` package: installed here the way the harness installs the
 * real node's packages (apt-get, as root) when it is missing, else an error naming the command.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export function promtool(): string {
  const path = process.env.PROMTOOL ?? '/usr/bin/promtool';
  if (existsSync(path)) return path;
  const command = 'apt-get install -y --no-install-recommends prometheus';
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get'))
    throw new Error(`promtool is missing: ${command} (Debian), or set PROMTOOL`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const installed =
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'prometheus'], { env }).status === 0 ||
    (spawnSync('apt-get', ['update', '-qq'], { env }).status === 0 &&
      spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'prometheus'], { env }).status === 0);
  if (!installed || !existsSync(path)) throw new Error(`could not install promtool (${command})`);
  return path;
}
