/** The local control plane itself: a real API server at the pinned version, with Ready kwok nodes. */
import { expect, test } from '@jest/globals';
import { components, nodeLeaseSeconds } from '../cluster/components.ts';
import { moduleVersions } from '../cluster/paths.ts';
import { ORDINARY_NODES, VIRTUAL_NODES } from '../cluster/nodes.ts';
import { getJson, kubectl } from '../support/cluster_harness.ts';

test('kube-apiserver reports the release it was built from', () => {
  const version = getJson(['version']);
  expect(version.serverVersion.gitVersion).toBe(moduleVersions().kubernetes);
});

test('every kwok node is Ready, the virtual ones labelled and tainted like virtual-kubelet', () => {
  const nodes = getJson(['get', 'nodes']).items as any[];
  expect(nodes.map((n) => n.metadata.name).sort()).toEqual([...ORDINARY_NODES, ...VIRTUAL_NODES].sort());
  for (const node of nodes) {
    expect(node.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
    const virtual = VIRTUAL_NODES.includes(node.metadata.name);
    expect(node.metadata.labels.type).toBe(virtual ? 'virtual-kubelet' : 'kwok');
    expect((node.spec.taints ?? []).some((t: any) => t.key === 'virtual-kubelet.io/provider')).toBe(virtual);
  }
});

test('RBAC is on: an unprivileged service account cannot list secrets', () => {
  const r = kubectl(['auth', 'can-i', 'list', 'secrets', '--as', 'system:serviceaccount:default:default']);
  expect([r.status, r.stdout.trim()]).toEqual([1, 'no']);
  expect(kubectl(['auth', 'can-i', 'list', 'secrets']).stdout.trim()).toBe('yes');
});

test("the node Lease setting: kwok's Lease duration and the controller-manager's grace period follow it; a bad value is named", () => {
  const args = (env: NodeJS.ProcessEnv) => {
    const ports = { etcd: 1, etcdPeer: 2, apiserver: 3, controllerManager: 4, scheduler: 5, kwok: 6 };
    const pki = {
      caCert: '',
      adminCert: '',
      adminKey: '',
      caCertPath: 'ca.crt',
      adminCertPath: 'admin.crt',
      adminKeyPath: 'admin.key',
      serviceAccountPublicKeyPath: 'sa.pub',
    };
    const all = components('/bin', ports, pki, nodeLeaseSeconds(env));
    const of = (name: string, flag: string) =>
      all.find((c) => c.name === name)!.args.find((a) => a.startsWith(`--${flag}=`));
    return [of('kwok', 'node-lease-duration-seconds'), of('kube-controller-manager', 'node-monitor-grace-period')];
  };
  expect(args({})).toEqual(['--node-lease-duration-seconds=40', '--node-monitor-grace-period=20s']);
  expect(args({ K8S_WATCH_POLICY_NODE_LEASE_SECONDS: '300' })).toEqual([
    '--node-lease-duration-seconds=300',
    '--node-monitor-grace-period=280s',
  ]);
  expect(() => nodeLeaseSeconds({ K8S_WATCH_POLICY_NODE_LEASE_SECONDS: '10' })).toThrow(
    'K8S_WATCH_POLICY_NODE_LEASE_SECONDS must be a whole number of seconds from 40 to 3600, got "10"',
  );
  expect(() => nodeLeaseSeconds({ K8S_WATCH_POLICY_NODE_LEASE_SECONDS: '1m' })).toThrow('got "1m"');
});
