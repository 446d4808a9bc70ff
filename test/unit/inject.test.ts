/**
 * injectDocuments (src/cli/inject.ts), the pure core of `k8s-watch-policy inject`: what it
 * returns for each kind of document, beyond what the golden files show.
 */
import { describe, expect, test } from '@jest/globals';
import { parseDocuments, writeDocuments } from '../../src/cli/documents.ts';
import { injectDocuments } from '../../src/cli/inject.ts';
import type { KubeObject } from '../../src/kube/objects.ts';
import { agent, app, cfg, deepFreeze, ev, kubeNode, pod, REASON } from '../support/fixtures.ts';

const DENIAL =
  'ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); remove it and set K8S_WATCH_POLICY=watch-only (agents older than v6.6.6 read only ONLY_WATCH_K8S_RESOURCE: upgrade them first, or set deprecatedEnv: warn)';

/** The warning for a Deployment of watch-only agents without replicas (1) or strategy (rolling update, maxSurge 25% -> 1). */
const surge = (_name: string, spelling = 'watch-only') =>
  `this Deployment runs watch-only agents (K8S_WATCH_POLICY=${spelling}) and its rolling update can surge to 2 pods: the DeepFlow server hands the watch to any watch-only agent, so several of them keep taking it from each other during every rollout; set strategy.rollingUpdate.maxSurge: 0 (or strategy.type: Recreate)`;

function deployment(name: string, containers = [agent()]): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'deepflow' },
    spec: { template: { metadata: { labels: { app: name } }, spec: { containers } } },
  };
}

const service: KubeObject = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 's' },
  spec: { ports: [{ port: 80 }] },
};

describe('injectDocuments', () => {
  test('one object per document, in order; non-pods are the very same objects and are not reviewed', () => {
    const docs = deepFreeze([service, deployment('w'), kubeNode('node-1')] as KubeObject[]);
    const result = injectDocuments(docs, cfg());
    expect(result.objects).toHaveLength(3);
    expect(result.objects[0]).toBe(docs[0]);
    expect(result.objects[2]).toBe(docs[2]);
    expect((result.objects[1] as any).spec.template.spec.containers[0].env).toEqual([
      ev('K8S_WATCH_POLICY', 'watch-only'),
    ]);
    expect((result.objects[1] as any).spec.template.metadata).toEqual({
      labels: { app: 'w' },
      annotations: { [REASON]: 'only-watch/watcher-deployment' },
    });
    expect(result.reviews.map((r) => r.object)).toEqual([docs[1]]);
    expect(result.reviews[0]!.review.decision).toMatchObject({ policy: 'only-watch', rule: 'watcher-deployment' });
    expect(result).toMatchObject({ messages: [`warning: Deployment/w: ${surge('Deployment/w')}`], denied: 0 });
  });

  test('a template whose env stays as it is shows the reason annotation in its metadata', () => {
    const daemonSet: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'deepflow-agent', namespace: 'deepflow' },
      spec: { template: { metadata: { labels: { app: 'deepflow-agent' } }, spec: { containers: [agent()] } } },
    };
    const result = injectDocuments(deepFreeze([daemonSet]), cfg());
    expect(result.reviews[0]!.review.decision).toMatchObject({ policy: 'normal', rule: 'default' });
    expect(result.objects).toEqual([
      {
        ...daemonSet,
        spec: {
          template: {
            metadata: { labels: { app: 'deepflow-agent' }, annotations: { [REASON]: 'normal/default' } },
            spec: { containers: [agent()] },
          },
        },
      },
    ]);
    expect(result).toMatchObject({ messages: [], denied: 0 });
  });

  test('reviews keep the input object (not the admitted one) and include List items, in order', () => {
    const sidecar = pod({ name: 'web', containers: [app(), agent()] });
    const list = { apiVersion: 'v1', kind: 'List', items: [deployment('w'), sidecar, service] } as KubeObject;
    const result = injectDocuments(deepFreeze([list, deployment('second')]), cfg());
    expect(result.reviews.map((r) => `${r.object.kind}/${r.object.metadata?.name}`)).toEqual([
      'Deployment/w',
      'Pod/web',
      'Deployment/second',
    ]);
    expect(result.reviews[1]!.object).toBe((list as any).items[1]);
    expect(result.reviews[1]!.review.pod.metadata?.annotations?.[REASON]).toBe('watch-disabled/serverless-sidecar');
    const items = (result.objects[0] as any).items;
    expect(items[1].metadata.annotations).toEqual({ [REASON]: 'watch-disabled/serverless-sidecar' });
    expect(items[2]).toBe(service);
    expect((result.objects[0] as any).apiVersion).toBe('v1');
  });

  test('non-map List items are passed through', () => {
    const list = { apiVersion: 'v1', kind: 'List', items: ['text', 7, null, deployment('w')] } as KubeObject;
    const result = injectDocuments([list], cfg());
    expect((result.objects[0] as any).items.slice(0, 3)).toEqual(['text', 7, null]);
    expect(result.reviews).toHaveLength(1);
  });

  test('a denied document is returned unchanged; warnings come before the denial; denied counts documents', () => {
    const bad = pod({
      name: 'x',
      labels: { 'deepflow.io/k8s-watch-policy': 'bogus' },
      containers: [agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', 'true')] })],
    });
    const conflicting = deployment('w', [agent({ env: [ev('K8S_WATCH_POLICY', 'watch-disabled')] })]);
    const alsoBad = deployment('old', [agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE', '')] })]);
    const docs = deepFreeze([bad, conflicting, alsoBad] as KubeObject[]);
    const result = injectDocuments(docs, cfg({ invalidPolicy: 'warn' }));
    // The allowed one keeps its explicit value and gets only the reason annotation.
    const kept = deployment('w', [agent({ env: [ev('K8S_WATCH_POLICY', 'watch-disabled')] })]);
    (kept as any).spec.template.metadata.annotations = { [REASON]: 'watch-disabled/explicit-env' };
    expect(result.objects).toEqual([docs[0], kept, docs[2]]);
    expect(result.objects[0]).toBe(docs[0]);
    expect(result.objects[2]).toBe(docs[2]);
    expect(result.denied).toBe(2);
    expect(result.messages).toEqual([
      'warning: Pod/x: label deepflow.io/k8s-watch-policy: invalid value "bogus"; use one of watch-only, only-watch, watch-disabled, normal',
      `denied: Pod/x: container "deepflow-agent": ${DENIAL}`,
      'warning: Deployment/w: container "deepflow-agent": K8S_WATCH_POLICY=watch-disabled kept (explicitEnv respect); the webhook would set only-watch (watcher-deployment)',
      `denied: Deployment/old: container "deepflow-agent": ${DENIAL}`,
    ]);
  });

  test('Nodes anywhere in the input (also in a List after the pod) are the node lookup', () => {
    const p = pod({ name: 'a', spec: { nodeName: 'vk-1' } });
    const nodes = {
      apiVersion: 'v1',
      kind: 'NodeList',
      items: [kubeNode('vk-1', 'True', { type: 'virtual-kubelet' })],
    } as KubeObject;
    const withNode = injectDocuments([p, nodes], cfg());
    expect(withNode.reviews[0]!.review.decision).toMatchObject({
      policy: 'watch-disabled',
      rule: 'serverless-node-label',
    });
    expect(withNode.objects[0]).toEqual({
      ...p,
      metadata: { ...p.metadata, annotations: { [REASON]: 'watch-disabled/serverless-node-label' } },
      spec: { ...p.spec, containers: [agent({ env: [ev('K8S_WATCH_POLICY', 'watch-disabled')] })] },
    });
    const without = injectDocuments([p], cfg());
    expect(without.reviews[0]!.review.decision).toMatchObject({ policy: 'normal', rule: 'default' });
    // Normal: no env, only the reason annotation.
    expect(without.objects[0]).toEqual({
      ...p,
      metadata: { ...p.metadata, annotations: { [REASON]: 'normal/default' } },
    });
  });

  test('objects without metadata are named <unnamed> in messages; generateName is used when there is no name', () => {
    const noMeta = {
      apiVersion: 'v1',
      kind: 'Pod',
      spec: { containers: [agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE')] })] },
    } as KubeObject;
    const generated = pod({ containers: [agent({ env: [ev('ONLY_WATCH_K8S_RESOURCE')] })] });
    generated.metadata = { generateName: 'agent-' };
    expect(injectDocuments([noMeta, generated], cfg()).messages).toEqual([
      `denied: Pod/<unnamed>: container "deepflow-agent": ${DENIAL}`,
      `denied: Pod/agent-: container "deepflow-agent": ${DENIAL}`,
    ]);
  });

  test.each(['watch-only', 'only-watch'] as const)(
    'parse, inject, write, parse, inject: the second pass is a fixed point (onlyWatchValue %s)',
    (spelling) => {
      const text = writeDocuments([
        deployment('w'),
        pod({ name: 'web', containers: [app(), agent()] }),
        pod({ name: 'ds', owner: 'DaemonSet' }),
        service,
      ]);
      const first = injectDocuments(parseDocuments(text, 'in'), cfg({ onlyWatchValue: spelling }));
      const again = injectDocuments(
        parseDocuments(writeDocuments(first.objects), 'out'),
        cfg({ onlyWatchValue: spelling }),
      );
      expect(again.objects).toEqual(first.objects);
      expect(again.reviews.every((r) => r.review.patch.length === 0)).toBe(true);
      // The only message, on both passes, is about the Deployment's rollout, which inject does not change.
      expect(first.messages).toEqual([`warning: Deployment/w: ${surge('Deployment/w', spelling)}`]);
      expect(again.messages).toEqual(first.messages);
      expect((first.objects[0] as any).spec.template.spec.containers[0].env).toEqual([
        ev('K8S_WATCH_POLICY', spelling),
      ]);
      expect((first.objects[2] as any).metadata.annotations).toEqual({ [REASON]: 'normal/default' });
    },
  );
});
