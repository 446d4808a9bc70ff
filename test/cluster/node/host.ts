/**
 * What the real node needs of this host and what it changes on it: the Debian packages, the
 * capabilities checked before anything is started, and a record of the host as it was (sysctls,
 * iptables rules, links, routes, network namespaces, cgroups, directories) so that `down` can put
 * it back and e2e:node can prove it did.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { TOUCHED_SYSCTLS } from './config.ts';

// qemu-user-static: e2e:node runs the release's arm64 image under qemu (test/published).
export const NODE_PACKAGES = [
  'containerd',
  'runc',
  'containernetworking-plugins',
  'iptables',
  'conntrack',
  'qemu-user-static',
];
export const CNI_BIN_DIR = '/usr/lib/cni';

/** What must be on PATH (or at its path) once the packages are installed. */
const NEEDED: Record<string, string> = {
  containerd: 'containerd',
  ctr: 'containerd',
  runc: 'runc',
  iptables: 'iptables',
  'iptables-save': 'iptables',
  conntrack: 'conntrack',
  'qemu-aarch64-static': 'qemu-user-static',
  [`${CNI_BIN_DIR}/bridge`]: 'containernetworking-plugins',
  [`${CNI_BIN_DIR}/host-local`]: 'containernetworking-plugins',
  [`${CNI_BIN_DIR}/portmap`]: 'containernetworking-plugins',
  gcc: 'gcc',
  tar: 'tar',
  ip: 'iproute2',
  nsenter: 'util-linux',
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
  if (process.getuid?.() !== 0)
    return 'the real node needs root (containerd, the kubelet and kube-proxy manage mounts, cgroups and iptables)';
  if (!existsSync('/sys/fs/cgroup')) return 'the real node needs cgroups (/sys/fs/cgroup is missing)';
  if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay'))
    return "the real node needs the overlay filesystem (containerd's overlayfs snapshotter)";
  let missing = Object.entries(NEEDED).filter(([command]) => !which(command));
  if (missing.length > 0 && install && existsSync('/usr/bin/apt-get')) {
    const packages = [...new Set(missing.map(([, pkg]) => pkg))];
    log(`installing ${packages.join(', ')} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    const r =
      update.status === 0
        ? spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], {
            stdio: ['ignore', 'ignore', 'inherit'],
            env,
          })
        : update;
    if (r.status !== 0) return `apt-get could not install ${packages.join(', ')} (exit ${r.status})`;
    missing = Object.entries(NEEDED).filter(([command]) => !which(command));
  }
  if (missing.length > 0) {
    return `the real node needs ${missing.map(([c]) => c).join(', ')} (Debian: apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')})`;
  }
  return undefined;
}

export interface HostBefore {
  sysctls: Record<string, string>;
  /** iptables-save and ip6tables-save as they print (empty where a family's tool is missing). */
  iptables: Record<IptablesFamily, string>;
  /** The host's network links by name, and its IPv4 and IPv6 routes (`ip route show`). */
  links: string[];
  routes: string[];
  netns: string[];
  /** Paths that did not exist before the node was first started (removed by down). */
  absent: string[];
}

/** Paths the node's processes create outside its directory when they are missing. */
export const OUTSIDE_PATHS = [
  '/run/containerd',
  '/var/lib/cni',
  '/var/log/containers',
  '/var/log/pods',
  '/run/netns',
  '/var/run/netns',
];

export function cgroupMounts(): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'cgroup' || f[2] === 'cgroup2')
    .map((f) => f[1]!);
}

export type IptablesFamily = 'iptables' | 'ip6tables';

export function iptablesSave(family: IptablesFamily): string {
  const save = which(`${family}-save`);
  return save ? (spawnSync(save, [], { encoding: 'utf8' }).stdout ?? '') : '';
}

/** iptables-save's text without its comment lines and packet counters: what must stay byte for byte the same. */
export function iptablesRulesText(save: string): string {
  return save
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ''))
    .join('\n');
}

interface IptablesTable {
  /** Chain name to policy: ACCEPT or DROP for a built-in chain, '-' for a program's own. */
  chains: Map<string, string>;
  rules: string[];
}

/** iptables-save's text as tables of chains and rules (comments and packet counters left out). */
export function parseIptablesSave(text: string): Map<string, IptablesTable> {
  const tables = new Map<string, IptablesTable>();
  let table: IptablesTable | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) tables.set(line.slice(1), (table = { chains: new Map(), rules: [] }));
    else if (line.startsWith(':') && table) {
      const [name, policy] = line.slice(1).split(' ');
      table.chains.set(name!, policy ?? '-');
    } else if (line.startsWith('-') && table) table.rules.push(line);
  }
  return tables;
}

/**
 * What differs between two iptables-save outputs of one family: every rule added or removed, every
 * program's chain added or removed, every policy changed. A built-in chain that appears or goes
 * with the default policy (ACCEPT) is no change: with the nf_tables backend a table exists only
 * once something used it, and its built-in chains stay, empty, after that something is gone.
 */
export function iptablesDifferences(family: IptablesFamily, before: string, after: string): string[] {
  const was = parseIptablesSave(before);
  const now = parseIptablesSave(after);
  const out: string[] = [];
  const none: IptablesTable = { chains: new Map(), rules: [] };
  for (const name of new Set([...was.keys(), ...now.keys()])) {
    const b = was.get(name) ?? none;
    const a = now.get(name) ?? none;
    const where = `${family} table ${name}`;
    for (const [chain, policy] of a.chains) {
      const had = b.chains.get(chain);
      if (had === undefined && policy !== 'ACCEPT')
        out.push(`${where} has a new chain ${chain}${policy === '-' ? '' : ` (policy ${policy})`}`);
      else if (had !== undefined && had !== policy)
        out.push(`${where} chain ${chain} has policy ${policy}, was ${had}`);
    }
    for (const [chain, policy] of b.chains) {
      if (!a.chains.has(chain) && policy !== 'ACCEPT') out.push(`${where} lost the chain ${chain}`);
    }
    for (const rule of multisetMinus(a.rules, b.rules)) out.push(`${where} has a new rule ${rule}`);
    for (const rule of multisetMinus(b.rules, a.rules)) out.push(`${where} lost the rule ${rule}`);
  }
  return out;
}

/** The items of `a` not matched one for one by an item of `b`. */
function multisetMinus(a: readonly string[], b: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const item of b) left.set(item, (left.get(item) ?? 0) + 1);
  return a.filter((item) => {
    const n = left.get(item) ?? 0;
    if (n > 0) left.set(item, n - 1);
    return n === 0;
  });
}

function ipLines(args: string[]): string[] {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** The names of the host's network links (`ip -o link show`). */
export function linkNames(): string[] {
  return ipLines(['-o', 'link', 'show']).map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? l);
}

/** The mount points at or below `prefixes`, deepest first. */
export function mountsUnder(prefixes: string[]): string[] {
  const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => unescape(l.split(' ')[4] ?? ''))
    .filter((m) => m && prefixes.some((p) => m === p || m.startsWith(`${p}/`)))
    .sort((a, b) => b.length - a.length);
}

/** Removes a path the node made where there was none, unmounting what is mounted at or below it first (/run/netns is a mount of its own). */
export function removeMountedPath(path: string): void {
  for (const mount of mountsUnder([path])) spawnSync('umount', ['-l', mount]);
  rmSync(path, { recursive: true, force: true });
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
    iptables: { iptables: iptablesSave('iptables'), ip6tables: iptablesSave('ip6tables') },
    links: linkNames(),
    routes: [...ipLines(['-4', 'route', 'show']), ...ipLines(['-6', 'route', 'show'])],
    netns: netnsNames(),
    absent: paths.filter((p) => !existsSync(p)),
  };
}

/** What differs between two records of the host: empty when `down` left it as it was. */
export function hostDifferences(before: HostBefore, after: HostBefore): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(before.sysctls)) {
    if (after.sysctls[name] !== value)
      out.push(`sysctl ${name.replaceAll('/', '.')} is ${after.sysctls[name]}, was ${value}`);
  }
  for (const family of ['iptables', 'ip6tables'] as const)
    out.push(...iptablesDifferences(family, before.iptables[family], after.iptables[family]));
  const linksAdded = after.links.filter((l) => !before.links.includes(l));
  if (linksAdded.length > 0) out.push(`new network links ${linksAdded.join(', ')}`);
  for (const route of multisetMinus(after.routes, before.routes)) out.push(`a new route ${route}`);
  for (const route of multisetMinus(before.routes, after.routes)) out.push(`lost the route ${route}`);
  const netnsAdded = after.netns.filter((n) => !before.netns.includes(n));
  if (netnsAdded.length > 0) out.push(`new network namespaces ${netnsAdded.join(', ')}`);
  const appeared = before.absent.filter((p) => !after.absent.includes(p));
  if (appeared.length > 0) out.push(`left behind ${appeared.join(', ')}`);
  return out;
}

/**
 * The families whose iptables-save text (comments and counters aside) differs between two records:
 * stricter than {@link iptablesDifferences}, for a host the node never touches (it lives in a
 * namespace of its own), where even an empty table appearing is a change.
 */
export function iptablesTextDifferences(before: HostBefore, after: HostBefore): string[] {
  return (['iptables', 'ip6tables'] as const).flatMap((family) => {
    const [was, now] = [iptablesRulesText(before.iptables[family]), iptablesRulesText(after.iptables[family])];
    return now === was ? [] : [`${family}-save differs from before:\n--- before\n${was}\n--- after\n${now}`];
  });
}
