/**
 * What the real node needs of this host and what it changes on it: the Debian packages, the
 * capabilities checked before anything is started, and a record of the host as it was (sysctls,
 * iptables chains, network namespaces, cgroups, directories) so that `down` puts it back.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { TOUCHED_SYSCTLS } from './config.ts';

export const NODE_PACKAGES = ['containerd', 'runc', 'containernetworking-plugins', 'iptables', 'conntrack'];
export const CNI_BIN_DIR = '/usr/lib/cni';

/** What must be on PATH (or at its path) once the packages are installed. */
const NEEDED: Record<string, string> = {
  containerd: 'containerd',
  ctr: 'containerd',
  runc: 'runc',
  iptables: 'iptables',
  'iptables-save': 'iptables',
  conntrack: 'conntrack',
  [`${CNI_BIN_DIR}/bridge`]: 'containernetworking-plugins',
  [`${CNI_BIN_DIR}/host-local`]: 'containernetworking-plugins',
  [`${CNI_BIN_DIR}/portmap`]: 'containernetworking-plugins',
  gcc: 'gcc',
  tar: 'tar',
  ip: 'iproute2',
};

const log = (message: string) => process.stderr.write(`[node] ${message}\n`);

export function which(command: string): string | undefined {
  if (command.startsWith('/')) return existsSync(command) ? command : undefined;
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (dir && existsSync(`${dir}/${command}`)) return `${dir}/${command}`;
  }
  return undefined;
}

/**
 * Why this host cannot run the real node, or undefined when it can. Installs the missing Debian
 * packages first when it is root on Debian (as `npm run image` does).
 */
export function nodeHostProblem(install = true): string | undefined {
  if (process.platform !== 'linux') return `the real node needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'the real node needs root (containerd, the kubelet and kube-proxy manage mounts, cgroups and iptables)';
  if (!existsSync('/sys/fs/cgroup')) return 'the real node needs cgroups (/sys/fs/cgroup is missing)';
  if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay')) return 'the real node needs the overlay filesystem (containerd\'s overlayfs snapshotter)';
  let missing = Object.entries(NEEDED).filter(([command]) => !which(command));
  if (missing.length > 0 && install && existsSync('/usr/bin/apt-get')) {
    const packages = [...new Set(missing.map(([, pkg]) => pkg))];
    log(`installing ${packages.join(', ')} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    const r = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: ['ignore', 'ignore', 'inherit'], env }) : update;
    if (r.status !== 0) return `apt-get could not install ${packages.join(', ')} (exit ${r.status})`;
    missing = Object.entries(NEEDED).filter(([command]) => !which(command));
  }
  if (missing.length > 0) {
    return `the real node needs ${missing.map(([c]) => c).join(', ')} (Debian: apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')})`;
  }
  return undefined;
}

/** The IPv4 address the host reaches the world from: the node's InternalIP and the API server's advertised address. */
export function hostIp(): string {
  const r = spawnSync('ip', ['-4', '-o', 'route', 'get', '1.1.1.1'], { encoding: 'utf8' });
  const src = /\bsrc (\d+\.\d+\.\d+\.\d+)/.exec(r.stdout ?? '')?.[1];
  if (src && !src.startsWith('127.')) return src;
  const addrs = spawnSync('ip', ['-4', '-o', 'addr', 'show', 'scope', 'global'], { encoding: 'utf8' }).stdout ?? '';
  const first = /inet (\d+\.\d+\.\d+\.\d+)/.exec(addrs)?.[1];
  if (!first) throw new Error('the host has no global IPv4 address for the real node (ip -4 addr show scope global)');
  return first;
}

export interface HostBefore {
  sysctls: Record<string, string>;
  /** Chain names per iptables table, per family (iptables, ip6tables). */
  chains: Record<string, Record<string, string[]>>;
  netns: string[];
  /** Paths that did not exist before the node was first started (removed by down). */
  absent: string[];
}

/** Paths the node's processes create outside its directory when they are missing. */
export const OUTSIDE_PATHS = ['/run/containerd', '/var/lib/cni', '/var/log/containers', '/var/log/pods', '/run/netns', '/var/run/netns'];

export function cgroupMounts(): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'cgroup' || f[2] === 'cgroup2')
    .map((f) => f[1]!);
}

export function iptablesChains(family: 'iptables' | 'ip6tables'): Record<string, string[]> {
  const r = spawnSync(`${family}-save`, [], { encoding: 'utf8' });
  const chains: Record<string, string[]> = {};
  let table = '';
  for (const line of (r.stdout ?? '').split('\n')) {
    if (line.startsWith('*')) chains[(table = line.slice(1))] = [];
    else if (line.startsWith(':')) chains[table]!.push(line.slice(1).split(' ')[0]!);
  }
  return chains;
}

export function netnsNames(): string[] {
  return existsSync('/run/netns') ? readdirSync('/run/netns') : [];
}

export function readSysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function writeSysctl(name: string, value: string): void {
  try {
    writeFileSync(`/proc/sys/${name}`, value);
  } catch (err) {
    log(`cannot set ${name.replaceAll('/', '.')} to ${value}: ${(err as Error).message}`);
  }
}

export function recordHost(): HostBefore {
  const sysctls: Record<string, string> = {};
  for (const name of TOUCHED_SYSCTLS) {
    const value = readSysctl(name);
    if (value !== undefined) sysctls[name] = value;
  }
  const paths = [...OUTSIDE_PATHS, ...cgroupMounts().map((m) => `${m}/kubepods`)];
  return {
    sysctls,
    chains: { iptables: iptablesChains('iptables'), ip6tables: iptablesChains('ip6tables') },
    netns: netnsNames(),
    absent: paths.filter((p) => !existsSync(p)),
  };
}

/** What differs between two records of the host: empty when `down` left it as it was. */
export function hostDifferences(before: HostBefore, after: HostBefore): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(before.sysctls)) {
    if (after.sysctls[name] !== value) out.push(`sysctl ${name.replaceAll('/', '.')} is ${after.sysctls[name]}, was ${value}`);
  }
  for (const family of Object.keys(before.chains)) {
    const tables = new Set([...Object.keys(before.chains[family] ?? {}), ...Object.keys(after.chains[family] ?? {})]);
    for (const table of tables) {
      const had = new Set(before.chains[family]?.[table] ?? []);
      const added = (after.chains[family]?.[table] ?? []).filter((c) => !had.has(c));
      if (added.length > 0) out.push(`${family} table ${table} has new chains ${added.join(', ')}`);
    }
  }
  const netnsAdded = after.netns.filter((n) => !before.netns.includes(n));
  if (netnsAdded.length > 0) out.push(`new network namespaces ${netnsAdded.join(', ')}`);
  const appeared = before.absent.filter((p) => !after.absent.includes(p));
  if (appeared.length > 0) out.push(`left behind ${appeared.join(', ')}`);
  return out;
}
