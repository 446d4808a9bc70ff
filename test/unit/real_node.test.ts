/**
 * The real node's pure parts (test/cluster/node): its configuration files keep the settings this
 * host needs, and the host comparison that makes `down` prove it left the machine as it was.
 */
import { describe, expect, test } from '@jest/globals';
import { SERVICE_CIDR } from '../cluster/components.ts';
import { CLUSTER_CIDR, cniConflist, containerdConfig, kubeletConfig, kubeProxyConfig, nodeDirs, POD_CIDR, REAL_NODE_TAINT } from '../cluster/node/config.ts';
import { hostDifferences, type HostBefore } from '../cluster/node/host.ts';

const dirs = nodeDirs('/state');
const ports = { kubelet: 1, kubeletHealthz: 2, proxyMetrics: 3, proxyHealthz: 4 };

function ipv4Range(cidr: string): [number, number] {
  const [ip, bits] = cidr.split('/');
  const n = ip!.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  return [n, n + size - 1];
}

describe('the real node\'s configuration', () => {
  test('everything it writes lives under the cluster\'s state directory', () => {
    for (const path of Object.values(dirs)) expect(path.startsWith('/state/node')).toBe(true);
    expect(containerdConfig(dirs, '/usr/lib/cni')).not.toMatch(/"\/(var|run|etc)\//);
    expect(JSON.parse(cniConflist(dirs)).plugins[0].ipam.dataDir).toBe(dirs.cniIpam);
  });

  test('containerd: runc without systemd cgroups, no oom_score_adj below its own, the local pause image', () => {
    const toml = containerdConfig(dirs, '/usr/lib/cni');
    expect(toml).toContain('SystemdCgroup = false');
    expect(toml).toContain('restrict_oom_score_adj = true');
    expect(toml).toContain('sandbox_image = "localhost/kwp-pause:1"');
    expect(toml).toContain(`conf_dir = "${dirs.cniConf}"`);
  });

  test('the kubelet: cgroupfs on cgroup v1, tainted, authenticating the API server by the cluster CA', () => {
    const config = JSON.parse(kubeletConfig(dirs, ports, '/state/pki/ca.crt', '192.0.2.2'));
    expect(config).toMatchObject({ cgroupDriver: 'cgroupfs', failCgroupV1: false, failSwapOn: false, address: '192.0.2.2', port: 1, readOnlyPort: 0, registerWithTaints: [REAL_NODE_TAINT] });
    expect(config.authentication).toEqual({ anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: '/state/pki/ca.crt' } });
    expect(config.containerRuntimeEndpoint).toBe(`unix://${dirs.containerdSocket}`);
  });

  test('kube-proxy leaves the host\'s conntrack and route_localnet sysctls alone', () => {
    const config = JSON.parse(kubeProxyConfig('/state/kubeconfig', ports));
    expect(config).toMatchObject({ mode: 'iptables', clusterCIDR: CLUSTER_CIDR, oomScoreAdj: 0, iptables: { localhostNodePorts: false } });
    expect(config.conntrack).toEqual({ maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' });
  });

  test('the pod range is inside the cluster range and clear of the services and podman\'s network', () => {
    const [podLo, podHi] = ipv4Range(POD_CIDR);
    const [clusterLo, clusterHi] = ipv4Range(CLUSTER_CIDR);
    expect(podLo >= clusterLo && podHi <= clusterHi).toBe(true);
    for (const other of [SERVICE_CIDR, '10.88.0.0/16']) {
      const [lo, hi] = ipv4Range(other);
      expect(clusterHi < lo || clusterLo > hi).toBe(true);
    }
  });
});

describe('hostDifferences', () => {
  const before: HostBefore = {
    sysctls: { 'net/ipv4/ip_forward': '0', 'vm/overcommit_memory': '0' },
    chains: { iptables: { nat: ['PREROUTING', 'POSTROUTING'], filter: ['INPUT'] }, ip6tables: { filter: ['INPUT'] } },
    netns: ['podman-1'],
    absent: ['/run/containerd', '/sys/fs/cgroup/cpu/kubepods'],
  };

  test('nothing when the host is as it was', () => {
    expect(hostDifferences(before, structuredClone(before))).toEqual([]);
  });

  test('names every sysctl, chain, network namespace and path left changed', () => {
    const after: HostBefore = {
      sysctls: { 'net/ipv4/ip_forward': '1', 'vm/overcommit_memory': '0' },
      chains: { iptables: { nat: ['PREROUTING', 'POSTROUTING', 'KUBE-SERVICES'], filter: ['INPUT'], mangle: ['KUBE-KUBELET-CANARY'] }, ip6tables: { filter: ['INPUT'] } },
      netns: ['podman-1', 'cni-1234'],
      absent: ['/run/containerd'],
    };
    expect(hostDifferences(before, after)).toEqual([
      'sysctl net.ipv4.ip_forward is 1, was 0',
      'iptables table nat has new chains KUBE-SERVICES',
      'iptables table mangle has new chains KUBE-KUBELET-CANARY',
      'new network namespaces cni-1234',
      'left behind /sys/fs/cgroup/cpu/kubepods',
    ]);
  });
});
