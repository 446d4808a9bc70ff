import { describe, expect, test } from '@jest/globals';
import type { LabelSelector } from '../../src/kube/objects.ts';
import { firstWildcardMatch, matchesLabelSelector, wildcardMatches } from '../../src/selector/selectors.ts';

describe('matchesLabelSelector', () => {
  const labels = { 'deepflow.io/role': 'k8s-watcher', app: 'deepflow-agent', tier: 'infra' };

  test.each<[string, LabelSelector, Record<string, string> | undefined, boolean]>([
    ['matchLabels equal', { matchLabels: { 'deepflow.io/role': 'k8s-watcher' } }, labels, true],
    [
      'matchLabels all of several',
      { matchLabels: { 'deepflow.io/role': 'k8s-watcher', app: 'deepflow-agent' } },
      labels,
      true,
    ],
    ['matchLabels one differs', { matchLabels: { 'deepflow.io/role': 'k8s-watcher', app: 'other' } }, labels, false],
    ['matchLabels value differs', { matchLabels: { 'deepflow.io/role': 'watcher' } }, labels, false],
    ['matchLabels key absent', { matchLabels: { missing: 'x' } }, labels, false],
    ['matchLabels, no labels', { matchLabels: { 'deepflow.io/role': 'k8s-watcher' } }, undefined, false],
    ['matchLabels is case-sensitive', { matchLabels: { app: 'DeepFlow-Agent' } }, labels, false],
    [
      'In: value listed',
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'infra'] }] },
      labels,
      true,
    ],
    ['In: value not listed', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] }, labels, false],
    ['In: key absent', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, labels, false],
    [
      'NotIn: value listed',
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['infra'] }] },
      labels,
      false,
    ],
    [
      'NotIn: value not listed',
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] },
      labels,
      true,
    ],
    ['NotIn: key absent', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, labels, true],
    ['Exists: present', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels, true],
    ['Exists: present with empty value', { matchExpressions: [{ key: 'x', operator: 'Exists' }] }, { x: '' }, true],
    ['Exists: absent', { matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, labels, false],
    ['DoesNotExist: absent', { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, labels, true],
    ['DoesNotExist: present', { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, labels, false],
    ['DoesNotExist, no labels', { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, undefined, true],
    [
      'matchLabels and expressions, all hold',
      {
        matchLabels: { app: 'deepflow-agent' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['infra'] },
          { key: 'zone', operator: 'DoesNotExist' },
        ],
      },
      labels,
      true,
    ],
    [
      'matchLabels hold, one expression fails',
      {
        matchLabels: { app: 'deepflow-agent' },
        matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['infra'] }],
      },
      labels,
      false,
    ],
    [
      'a key inherited from Object.prototype is not a label',
      { matchExpressions: [{ key: 'constructor', operator: 'Exists' }] },
      {},
      false,
    ],
    // A deliberate refinement: an empty selector matches nothing (Kubernetes: everything), so
    // that an empty watcherSelector does not make every agent a watcher.
    ['empty selector', {}, labels, false],
    ['empty matchLabels and expressions', { matchLabels: {}, matchExpressions: [] }, labels, false],
  ])('%s', (_name, selector, have, expected) => {
    expect(matchesLabelSelector(selector, have)).toBe(expected);
  });
});

describe('firstWildcardMatch', () => {
  const wanted = { 'alibabacloud.com/eci': 'true', 'eks.amazonaws.com/fargate-profile': '*' };

  test.each<[string, Record<string, string> | undefined, string | undefined]>([
    ['exact value', { 'alibabacloud.com/eci': 'true' }, 'alibabacloud.com/eci=true'],
    ['other value', { 'alibabacloud.com/eci': 'false' }, undefined],
    [
      '"*" matches any value',
      { 'eks.amazonaws.com/fargate-profile': 'fp-default' },
      'eks.amazonaws.com/fargate-profile=fp-default',
    ],
    ['"*" matches the empty value', { 'eks.amazonaws.com/fargate-profile': '' }, 'eks.amazonaws.com/fargate-profile='],
    ['absent key', { app: 'x' }, undefined],
    ['no map', undefined, undefined],
    ['empty map', {}, undefined],
    [
      'first wanted entry wins',
      { 'eks.amazonaws.com/fargate-profile': 'fp', 'alibabacloud.com/eci': 'true' },
      'alibabacloud.com/eci=true',
    ],
  ])('%s', (_name, have, expected) => {
    expect(firstWildcardMatch(wanted, have)).toBe(expected);
  });

  test('a literal "*" in the labels only matches "*" or a wildcard', () => {
    expect(firstWildcardMatch({ a: 'x' }, { a: '*' })).toBeUndefined();
    expect(firstWildcardMatch({ a: '*' }, { a: '*' })).toBe('a=*');
  });

  test('an empty wanted map matches nothing', () => {
    expect(firstWildcardMatch({}, { a: 'b' })).toBeUndefined();
  });

  test('keys inherited from Object.prototype are not matched', () => {
    expect(firstWildcardMatch({ constructor: '*' }, {})).toBeUndefined();
  });
});

describe('wildcardMatches', () => {
  const wanted = { type: 'virtual-kubelet', 'eks.amazonaws.com/compute-type': '*' };
  test.each<[string, string, boolean]>([
    ['type', 'virtual-kubelet', true],
    ['type', 'Virtual-Kubelet', false],
    ['type', 'ecs', false],
    ['eks.amazonaws.com/compute-type', 'fargate', true],
    ['eks.amazonaws.com/compute-type', 'ec2', true],
    ['zone', 'virtual-kubelet', false],
    ['toString', 'x', false],
  ])('%s=%s -> %s', (k, v, expected) => {
    expect(wildcardMatches(wanted, k, v)).toBe(expected);
  });
});
