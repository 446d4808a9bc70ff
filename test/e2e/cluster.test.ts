/** The local control plane itself: a real API server at the pinned version, with Ready kwok nodes. */
import { expect, test } from '@jest/globals';
import { moduleVersions } from '../cluster/paths.ts';
import { ORDINARY_NODES, VIRTUAL_NODES } from '../cluster/nodes.ts';
import { getJson, kubectl } from './harness.ts';

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
