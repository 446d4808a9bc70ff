/**
 * The fake nodes of the local cluster (run by kwok): ordinary nodes, and nodes labelled and
 * tainted like serverless virtual nodes (virtual-kubelet: `type: virtual-kubelet`, taint
 * `virtual-kubelet.io/provider`), so that DaemonSets, Deployments and rollouts behave as in a
 * cluster with both.
 */
export const ORDINARY_NODES = ['kwok-node-0', 'kwok-node-1', 'kwok-node-2'];
export const VIRTUAL_NODES = ['vk-node-0', 'vk-node-1'];

function node(name: string, virtual: boolean): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/agent': '',
        type: virtual ? 'virtual-kubelet' : 'kwok',
      },
    },
    spec: virtual ? { taints: [{ key: 'virtual-kubelet.io/provider', value: 'kwok', effect: 'NoSchedule' }] } : {},
  };
}

/** A List of every node, for `kubectl apply -f -`. */
export function nodeList(): string {
  const items = [...ORDINARY_NODES.map((n) => node(n, false)), ...VIRTUAL_NODES.map((n) => node(n, true))];
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}
