/**
 * One real node beside the kwok nodes (`npm run cluster -- up --node`): containerd with runc and a
 * CNI bridge, the kubelet and kube-proxy (iptables), as local processes like the control plane,
 * in a network namespace of their own (network.ts). Pods scheduled on it really run: the chart's
 * pods from the image `npm run image` built.
 *
 * `downNode` removes everything it created: its processes by pid (and the containerd shims and
 * containers left behind), its network namespace (and with it every iptables rule, the bridge, the
 * veth pair and the host's routes through it), the pods' network namespaces, cgroups and mounts,
 * and the sysctls the kubelet sets as they were.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubectl } from '../kubectl.ts';
import { STATE_DIR } from '../paths.ts';
import { SERVICE_CIDR } from '../components.ts';
import { kubeconfigYaml, nodeClientPair, type Pki } from '../pki.ts';
import { isRunning, runningPid, startProcess, stopProcess, waitFor } from '../processes.ts';
import {
  CNI_NETWORK,
  cniConflist,
  containerdConfig,
  kubeletConfig,
  kubeProxyConfig,
  nodeDirs,
  PAUSE_IMAGE,
  REAL_NODE_NAME,
  REAL_NODE_TAINT,
  type NodePorts,
} from './config.ts';
import {
  CNI_BIN_DIR,
  cgroupMounts,
  linkNames,
  mountsUnder,
  netnsNames,
  recordHost,
  removeMountedPath,
  which,
  writeSysctl,
  hostDifferences,
  iptablesTextDifferences,
  type HostBefore,
} from './host.ts';
import {
  inNodeNetns,
  NODE_LINK,
  NODE_NETNS_SYSCTLS,
  nodeNetwork,
  nodeNetworkSetup,
  type NodeNetwork,
} from './network.ts';

export const NODE_PROCESSES = ['containerd', 'kubelet', 'kube-proxy'];
const HERE = dirname(fileURLToPath(import.meta.url));
const log = (message: string) => process.stderr.write(`[node] ${message}\n`);
const dirs = () => nodeDirs(STATE_DIR);
const hostBeforeFile = () => join(dirs().base, 'host-before.json');
const network = () => nodeNetwork(STATE_DIR);

export interface RealNode {
  name: string;
  /** The node's InternalIP: its end of the veth pair. */
  internalIp: string;
  /** The node's network namespace. */
  netns: string;
  ports: NodePorts;
}

function run(command: string, args: string[], what: string, input?: string): string {
  const r = spawnSync(command, args, { encoding: 'utf8', input, timeout: 300_000, maxBuffer: 64 << 20 });
  if (r.status !== 0)
    throw new Error(
      `${what} failed (${command} ${args.join(' ')}: exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout || String(r.error ?? '')).trim().slice(-800)}`,
    );
  return r.stdout;
}

export function ctr(args: string[], input?: string): string {
  return run(
    which('ctr') ?? 'ctr',
    ['--address', dirs().containerdSocket, '--namespace', 'k8s.io', ...args],
    `ctr ${args[0] ?? ''}`,
    input,
  );
}

/**
 * The pause image as a docker-archive, built once per pause.c (a static binary in a FROM-scratch
 * image, with the system's gcc and tar): no registry is reachable to pull registry.k8s.io/pause.
 */
function pauseArchive(cacheDir: string): string {
  const source = readFileSync(join(HERE, 'pause.c'));
  const key = createHash('sha256').update(source).update(PAUSE_IMAGE).digest('hex').slice(0, 12);
  const archive = join(cacheDir, `pause-${key}.tar`);
  if (existsSync(archive)) return archive;
  const work = join(cacheDir, `.pause-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'rootfs'), { recursive: true });
  try {
    run(
      'gcc',
      ['-static', '-Os', '-s', '-o', join(work, 'rootfs', 'pause'), join(HERE, 'pause.c')],
      'compiling the pause binary',
    );
    const tarFlags = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0'];
    run(
      'tar',
      [...tarFlags, '-cf', join(work, 'layer.tar'), '-C', join(work, 'rootfs'), 'pause'],
      'packing the pause layer',
    );
    const layerDigest = createHash('sha256')
      .update(readFileSync(join(work, 'layer.tar')))
      .digest('hex');
    const config = {
      architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
      os: 'linux',
      config: { Entrypoint: ['/pause'], User: '65535:65535' },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
      created: '1970-01-01T00:00:00Z',
    };
    const configJson = JSON.stringify(config);
    const configName = `${createHash('sha256').update(configJson).digest('hex')}.json`;
    writeFileSync(join(work, configName), configJson);
    writeFileSync(
      join(work, 'manifest.json'),
      JSON.stringify([{ Config: configName, RepoTags: [PAUSE_IMAGE], Layers: ['layer.tar'] }]),
    );
    run(
      'tar',
      [...tarFlags, '-cf', `${archive}.tmp`, '-C', work, 'manifest.json', configName, 'layer.tar'],
      'packing the pause image',
    );
    writeFileSync(archive, readFileSync(`${archive}.tmp`));
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(`${archive}.tmp`, { force: true });
  }
  return archive;
}

/** Imports an image archive (docker-archive or OCI) into the node's containerd, for `imagePullPolicy: Never`. */
export function importImage(archive: string): void {
  ctr(['images', 'import', '--no-unpack=false', archive]);
}

/** Makes the node's network namespace and joins it to the host (a namespace left by a crash is made anew). */
function upNodeNetwork(net: NodeNetwork): void {
  if (netnsNames().includes(net.netns)) downNodeNetwork(net);
  for (const args of nodeNetworkSetup(net, SERVICE_CIDR))
    run('ip', args, `setting up the node's network (ip ${args.join(' ')})`);
  for (const [name, value] of Object.entries(NODE_NETNS_SYSCTLS)) {
    run(
      'nsenter',
      [`--net=/run/netns/${net.netns}`, '--', 'sh', '-c', `echo ${value} > /proc/sys/${name}`],
      `setting ${name} in the node's namespace`,
    );
  }
}

/** Deletes the node's network namespace; its veth pair, bridge, iptables rules and the host's routes through it go with it. */
function downNodeNetwork(net: NodeNetwork): void {
  if (netnsNames().includes(net.netns)) spawnSync('ip', ['netns', 'delete', net.netns]);
  // The namespace dies with the last process in it (all are stopped by now); the host's end of the pair with it.
  if (linkNames().includes(net.hostDevice)) spawnSync('ip', ['link', 'delete', net.hostDevice]);
}

/** Starts what is not running of the real node and waits for the Node to be Ready. */
export async function upNode(
  bin: string,
  pki: Pki,
  server: string,
  ports: NodePorts,
  cacheDir: string,
): Promise<RealNode> {
  const d = dirs();
  for (const dir of [
    d.base,
    d.containerdRoot,
    d.containerdState,
    d.cniConf,
    d.cniIpam,
    d.kubeletRoot,
    d.kubeletCerts,
    d.podLogs,
    cacheDir,
  ])
    mkdirSync(dir, { recursive: true });
  if (!existsSync(hostBeforeFile())) writeFileSync(hostBeforeFile(), JSON.stringify(recordHost(), null, 2));
  const net = network();
  upNodeNetwork(net);
  const netns = inNodeNetns(net);
  const ip = NODE_LINK.nodeIp;
  // From the namespace, kube-apiserver is the host's end of the pair; its certificate names it `kubernetes`.
  const nodeServer = `https://${NODE_LINK.hostIp}:${new URL(server).port}`;

  const started = Date.now();
  const containerdToml = join(d.base, 'containerd.toml');
  writeFileSync(containerdToml, containerdConfig(d, CNI_BIN_DIR));
  writeFileSync(join(d.cniConf, '10-kwp.conflist'), cniConflist(d));
  if (!isRunning('containerd')) {
    startProcess('containerd', which('containerd')!, ['--config', containerdToml], process.env, netns);
    await waitFor(
      'containerd',
      () =>
        existsSync(d.containerdSocket) &&
        spawnSync(which('ctr')!, ['--address', d.containerdSocket, 'version']).status === 0,
      30_000,
      'containerd',
    );
    log(`containerd started (pid ${runningPid('containerd')})`);
  }
  if (!ctr(['images', 'ls', '-q']).split('\n').includes(PAUSE_IMAGE)) {
    importImage(pauseArchive(cacheDir));
    log(`pause image ${PAUSE_IMAGE} imported`);
  }

  const nodePair = await nodeClientPair(REAL_NODE_NAME);
  const kubeletKubeconfig = join(d.base, 'kubelet.kubeconfig');
  writeFileSync(
    kubeletKubeconfig,
    kubeconfigYaml(nodeServer, pki, { ...nodePair, user: `system:node:${REAL_NODE_NAME}` }, 'kubernetes'),
    { mode: 0o600 },
  );
  const kubeletYaml = join(d.base, 'kubelet.json');
  writeFileSync(kubeletYaml, kubeletConfig(d, ports, pki.caCertPath, ip));
  if (!isRunning('kubelet')) {
    startProcess(
      'kubelet',
      join(bin, 'kubelet'),
      [
        `--config=${kubeletYaml}`,
        `--kubeconfig=${kubeletKubeconfig}`,
        `--root-dir=${d.kubeletRoot}`,
        `--cert-dir=${d.kubeletCerts}`,
        `--hostname-override=${REAL_NODE_NAME}`,
        `--node-ip=${ip}`,
        '--node-labels=k8s-watch-policy.test/real-node=true,type=real',
        '--v=1',
      ],
      process.env,
      netns,
    );
    log(`kubelet started (pid ${runningPid('kubelet')})`);
  }
  const proxyKubeconfig = join(d.base, 'kube-proxy.kubeconfig');
  writeFileSync(proxyKubeconfig, kubeconfigYaml(nodeServer, pki, undefined, 'kubernetes'), { mode: 0o600 });
  const proxyYaml = join(d.base, 'kube-proxy.json');
  writeFileSync(proxyYaml, kubeProxyConfig(proxyKubeconfig, ports));
  if (!isRunning('kube-proxy')) {
    startProcess('kube-proxy', join(bin, 'kube-proxy'), [`--config=${proxyYaml}`, '--v=1'], process.env, netns);
    log(`kube-proxy started (pid ${runningPid('kube-proxy')})`);
  }
  await waitFor(
    `node ${REAL_NODE_NAME} Ready`,
    () => {
      const r = kubectl(bin, [
        'get',
        'node',
        REAL_NODE_NAME,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]);
      return r.status === 0 && r.stdout.trim() === 'True';
    },
    120_000,
    'kubelet',
  );
  log(
    `real node ${REAL_NODE_NAME} Ready in ${((Date.now() - started) / 1000).toFixed(1)} s (network namespace ${net.netns}, InternalIP ${ip}; taint ${REAL_NODE_TAINT.key}=${REAL_NODE_TAINT.value}:${REAL_NODE_TAINT.effect})`,
  );
  return { name: REAL_NODE_NAME, internalIp: ip, netns: net.netns, ports };
}

function rmdirTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true }))
    if (entry.isDirectory()) rmdirTree(join(dir, entry.name));
  try {
    rmdirSync(dir); // cgroup directories go with rmdir, files and all
  } catch (err) {
    log(`cannot remove ${dir}: ${(err as Error).message}`);
  }
}

/** The processes whose command line names our containerd: the shims of its containers. */
function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline[0]?.includes('containerd-shim') && cmdline.includes(socket)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Whether anything of the real node is there: its directory, a process, its network namespace. */
export function nodeExists(): boolean {
  return existsSync(dirs().base) || NODE_PROCESSES.some(isRunning) || netnsNames().includes(network().netns);
}

/** Stops the real node and removes what it made; safe when nothing of it runs. */
export async function downNode(bin: string, apiUp: boolean): Promise<void> {
  const d = dirs();
  if (!nodeExists()) return;
  if (apiUp && isRunning('kubelet')) {
    // The kubelet stops its pods' containers and sandboxes (and the CNI tears their network down).
    kubectl(bin, [
      'delete',
      'pods',
      '--all-namespaces',
      '--field-selector',
      `spec.nodeName=${REAL_NODE_NAME}`,
      '--grace-period=1',
      '--wait=false',
    ]);
    await waitFor(
      "the real node's containers to stop",
      () => !isRunning('containerd') || ctr(['tasks', 'ls', '-q']).trim() === '',
      60_000,
    ).catch((err: Error) => log(err.message));
  }
  if (await stopProcess('kube-proxy')) log('kube-proxy stopped');
  if (await stopProcess('kubelet')) log('kubelet stopped');
  if (isRunning('containerd')) {
    for (const id of ctr(['tasks', 'ls', '-q']).split('\n').filter(Boolean)) {
      spawnSync(which('ctr')!, ['--address', d.containerdSocket, '-n', 'k8s.io', 'tasks', 'kill', '-s', 'SIGKILL', id]);
      spawnSync(which('ctr')!, ['--address', d.containerdSocket, '-n', 'k8s.io', 'tasks', 'delete', '-f', id]);
    }
  }
  if (await stopProcess('containerd')) log('containerd stopped');
  for (const pid of shimPids(d.containerdSocket)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  downNodeNetwork(network());
  if (apiUp) kubectl(bin, ['delete', 'node', REAL_NODE_NAME, '--ignore-not-found', '--wait=false']);

  const before: HostBefore | undefined = existsSync(hostBeforeFile())
    ? JSON.parse(readFileSync(hostBeforeFile(), 'utf8'))
    : undefined;
  for (const mount of mountsUnder([d.base, '/run/containerd'])) spawnSync('umount', ['-l', mount]);
  for (const ns of netnsNames().filter((n) => n.startsWith('cni-') && !(before?.netns ?? []).includes(n))) {
    spawnSync('ip', ['netns', 'delete', ns]);
  }
  if (before) {
    for (const cgroup of cgroupMounts().map((m) => `${m}/kubepods`))
      if (before.absent.includes(cgroup)) rmdirTree(cgroup);
    for (const [name, value] of Object.entries(before.sysctls)) writeSysctl(name, value);
    for (const path of before.absent.filter((p) => !p.startsWith('/sys/'))) removeMountedPath(path);
  }
  // What the node's processes left in shared places that existed before.
  const results = '/var/lib/cni/results';
  if (existsSync(results))
    for (const f of readdirSync(results).filter((f) => f.startsWith(`${CNI_NETWORK}-`)))
      rmSync(join(results, f), { force: true });
  if (existsSync('/var/log/containers')) {
    for (const link of readdirSync('/var/log/containers')) {
      const path = join('/var/log/containers', link);
      try {
        if (readlinkSync(path).startsWith(d.podLogs)) rmSync(path, { force: true });
      } catch {
        // not a link
      }
    }
  }
  rmSync(d.base, { recursive: true, force: true });
  if (existsSync(d.base) && statSync(d.base).isDirectory()) log(`${d.base} could not be removed entirely`);
  log('real node removed');
}

/** What of the real node is still there (processes, shims, mounts, its network namespace): empty after `downNode`. */
export function nodeLeftovers(): string[] {
  const d = dirs();
  const out: string[] = [];
  for (const name of NODE_PROCESSES) if (isRunning(name)) out.push(`${name} still runs (pid ${runningPid(name)})`);
  const shims = shimPids(d.containerdSocket);
  if (shims.length > 0) out.push(`containerd shims still run (pids ${shims.join(', ')})`);
  const mounts = mountsUnder([d.base]);
  if (mounts.length > 0) out.push(`still mounted: ${mounts.join(', ')}`);
  const net = network();
  if (netnsNames().includes(net.netns)) out.push(`its network namespace ${net.netns} is still there`);
  if (linkNames().includes(net.hostDevice))
    out.push(`the host's end of its veth pair ${net.hostDevice} is still there`);
  if (existsSync(d.base)) out.push(`${d.base} is still there`);
  return out;
}

/**
 * What `down` left of the node or changed on the host since `before` (empty when nothing): its
 * processes, shims, mounts and namespace, and every sysctl, rule, link, route, network namespace
 * and path; iptables-save must be the same text.
 */
export function leftAfterDown(before: HostBefore): string[] {
  const after = recordHost();
  return [...nodeLeftovers(), ...hostDifferences(before, after), ...iptablesTextDifferences(before, after)];
}
