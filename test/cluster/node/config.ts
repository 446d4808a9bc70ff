/**
 * The real node's configuration files, as pure functions of where it lives and its ports:
 * containerd's config.toml, the CNI network, the KubeletConfiguration and the
 * KubeProxyConfiguration. Each setting that departs from a default says why (the host: no
 * systemd, hybrid cgroups v1, root without CAP_SYS_RESOURCE, a machine to leave as it was).
 */
import { join } from 'node:path';

/** The node's name; its client certificate is system:node:<name>. */
export const REAL_NODE_NAME = 'kwp-real-node';
/** Keeps every pod off the real node but those that tolerate it (the chart's, in the node suite). */
export const REAL_NODE_TAINT = { key: 'k8s-watch-policy.test/real-node', value: 'true', effect: 'NoSchedule' } as const;
/** The pods' network on the node's bridge (clear of the service range 10.96.0.0/12 and of podman's 10.88.0.0/16). */
export const POD_CIDR = '10.244.0.0/24';
export const CLUSTER_CIDR = '10.244.0.0/16';
export const BRIDGE = 'kwp0';
export const CNI_NETWORK = 'kwp';
/** The sandbox image, built here (pause.c) and imported into containerd. */
export const PAUSE_IMAGE = 'localhost/kwp-pause:1';

export interface NodeDirs {
  /** Everything of the node: configs, containerd's root and state, the kubelet's root, logs of pods. */
  base: string;
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  cniConf: string;
  cniIpam: string;
  kubeletRoot: string;
  kubeletCerts: string;
  podLogs: string;
  /** containerd's registry hosts (certs.d/<host>/hosts.toml): where e2e:node says how to reach its registry. */
  registryHosts: string;
}

export function nodeDirs(stateDir: string): NodeDirs {
  const base = join(stateDir, 'node');
  return {
    base,
    containerdRoot: join(base, 'containerd', 'root'),
    containerdState: join(base, 'containerd', 'state'),
    containerdSocket: join(base, 'containerd', 'containerd.sock'),
    cniConf: join(base, 'cni', 'net.d'),
    cniIpam: join(base, 'cni', 'ipam'),
    kubeletRoot: join(base, 'kubelet'),
    registryHosts: join(base, 'containerd', 'certs.d'),
    kubeletCerts: join(base, 'kubelet', 'pki'),
    podLogs: join(base, 'pod-logs'),
  };
}

export interface NodePorts {
  kubelet: number;
  kubeletHealthz: number;
  proxyMetrics: number;
  proxyHealthz: number;
}

export function containerdConfig(dirs: NodeDirs, cniBinDir: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `# containerd for the local cluster's real node (test/cluster/node). Written by the harness.
version = 2
root = ${JSON.stringify(dirs.containerdRoot)}
state = ${JSON.stringify(dirs.containerdState)}
# Snapshotters this host cannot use, off so that they do not log errors at every start.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = ${JSON.stringify(dirs.containerdSocket)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${JSON.stringify(join(dirs.base, 'containerd', 'opt'))}

[${cri}]
  sandbox_image = ${JSON.stringify(PAUSE_IMAGE)}
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails with
  # "can't get final child's PID from pipe: EOF" (runc cannot lower oom_score_adj).
  restrict_oom_score_adj = true
  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.containerd.runtimes.runc.options]
        # No systemd here: the kubelet's cgroupfs driver.
        SystemdCgroup = false
  [${cri}.registry]
    config_path = ${JSON.stringify(dirs.registryHosts)}
  [${cri}.cni]
    bin_dir = ${JSON.stringify(cniBinDir)}
    conf_dir = ${JSON.stringify(dirs.cniConf)}
    max_conf_num = 1
`;
}

/** A bridge with the node's pod range, masquerading traffic that leaves it (not podman's network). */
export function cniConflist(dirs: NodeDirs): string {
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: CNI_NETWORK,
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: POD_CIDR }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: dirs.cniIpam,
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

export function kubeletConfig(dirs: NodeDirs, ports: NodePorts, caCertPath: string, hostIp: string): string {
  return JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      containerRuntimeEndpoint: `unix://${dirs.containerdSocket}`,
      // No systemd, and a hybrid cgroup v1 host: the kubelet refuses cgroup v1 unless told not to.
      cgroupDriver: 'cgroupfs',
      failCgroupV1: false,
      failSwapOn: false,
      address: hostIp,
      port: ports.kubelet,
      healthzBindAddress: '127.0.0.1',
      healthzPort: ports.kubeletHealthz,
      readOnlyPort: 0,
      // The API server authenticates with the cluster's client certificate; no anonymous access.
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: false },
        x509: { clientCAFile: caCertPath },
      },
      authorization: { mode: 'AlwaysAllow' },
      podLogsDir: dirs.podLogs,
      registerWithTaints: [REAL_NODE_TAINT],
      // A shared development machine: evict only when it is really short.
      evictionHard: {
        'memory.available': '100Mi',
        'nodefs.available': '1%',
        'imagefs.available': '1%',
        'nodefs.inodesFree': '1%',
      },
      // The locally built images (the chart's, the pause image) have no registry to come back from.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      clusterDomain: 'cluster.local',
      resolvConf: '/etc/resolv.conf',
      maxPods: 50,
      nodeStatusReportFrequency: '10s',
      shutdownGracePeriod: '0s',
    },
    null,
    2,
  );
}

export function kubeProxyConfig(kubeconfig: string, ports: NodePorts): string {
  return JSON.stringify(
    {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig },
      hostnameOverride: REAL_NODE_NAME,
      mode: 'iptables',
      clusterCIDR: CLUSTER_CIDR,
      // Leave the host's sysctls alone: no conntrack table sizing or timeouts, no route_localnet
      // (NodePorts on 127.0.0.1), no oom_score_adj (root lacks CAP_SYS_RESOURCE).
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      iptables: { localhostNodePorts: false },
      oomScoreAdj: 0,
      metricsBindAddress: `127.0.0.1:${ports.proxyMetrics}`,
      healthzBindAddress: `127.0.0.1:${ports.proxyHealthz}`,
    },
    null,
    2,
  );
}

/** The sysctls the kubelet and the node's network set; recorded before and put back after. */
export const TOUCHED_SYSCTLS = [
  'net/ipv4/ip_forward',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
] as const;
