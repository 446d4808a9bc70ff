import { describe, expect, test } from '@jest/globals';
import { nodeLookupOf } from '../../src/kube/node_lookup.ts';
import type { KubeObject } from '../../src/kube/objects.ts';

describe('nodeLookupOf', () => {
  const objects: KubeObject[] = [
    {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'virtual-kubelet-cn-beijing-h', labels: { type: 'virtual-kubelet' } },
      spec: { taints: [] },
    },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'bare' } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pod-named-like-a-node' } },
    { apiVersion: 'v1', kind: 'Node', metadata: {} },
  ];
  const lookup = nodeLookupOf(objects);

  test('finds Nodes by name with their labels', () => {
    expect(lookup('virtual-kubelet-cn-beijing-h')).toEqual({
      name: 'virtual-kubelet-cn-beijing-h',
      labels: { type: 'virtual-kubelet' },
    });
  });

  test('a Node without labels has none', () => {
    expect(lookup('bare')).toEqual({ name: 'bare', labels: {} });
  });

  test('other kinds and unknown names are not nodes', () => {
    expect(lookup('pod-named-like-a-node')).toBeUndefined();
    expect(lookup('node-9')).toBeUndefined();
    expect(lookup('')).toBeUndefined();
    expect(nodeLookupOf([])('bare')).toBeUndefined();
  });
});
