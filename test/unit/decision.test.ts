import { describe, expect, test } from '@jest/globals';
import { decide, type Rule } from '../../src/admission/decision.ts';
import type { NodeLookup } from '../../src/kube/node_lookup.ts';
import { targetNodeName } from '../../src/admission/target_node.ts';
import type { Config } from '../../src/config/config.ts';
import type { Pod } from '../../src/kube/objects.ts';
import type { Policy } from '../../src/policy/policy.ts';
import {
  agent,
  app,
  cfg,
  daemonSetAffinity,
  INJECTION,
  istio,
  nativeSidecar,
  nodeLookup,
  ORDINARY_NODE,
  pod,
  POLICY,
  ROLE,
  VIRTUAL_NODE,
} from '../support/fixtures.ts';

interface Row {
  name: string;
  pod: Pod;
  config?: Config;
  nodes?: NodeLookup;
  policy: Policy;
  rule: Rule;
}

const nodes = nodeLookup(VIRTUAL_NODE, ORDINARY_NODE);
const virtualToleration = { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' };
const requiredAffinity = (...terms: { key: string; operator: string; values?: string[] }[][]) => ({
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: terms.map((matchExpressions) => ({ matchExpressions })),
    },
  },
});

const rows: Row[] = [
  // 1. injection disabled
  {
    name: '1 injection=disabled',
    pod: pod({ labels: { [INJECTION]: 'disabled' } }),
    policy: 'normal',
    rule: 'disabled',
  },
  {
    name: '1 injection=disabled beats the policy label and the watcher selector',
    pod: pod({
      labels: { [INJECTION]: 'disabled', [POLICY]: 'only-watch', [ROLE]: 'k8s-watcher' },
      containers: [agent(), app()],
    }),
    policy: 'normal',
    rule: 'disabled',
  },
  {
    name: '1 injection=enabled does not disable',
    pod: pod({ labels: { [INJECTION]: 'enabled' }, containers: [agent(), app()] }),
    policy: 'watch-disabled',
    rule: 'serverless-sidecar',
  },
  // 2. no agent container
  { name: '2 no agent container', pod: pod({ containers: [app()] }), policy: 'normal', rule: 'no-agent' },
  {
    name: '2 no agent container, even with a policy label',
    pod: pod({ labels: { [POLICY]: 'only-watch' }, containers: [app()] }),
    policy: 'normal',
    rule: 'no-agent',
  },
  {
    name: '2 agent only as an ordinary init container',
    pod: pod({ initContainers: [agent()], containers: [app()] }),
    policy: 'normal',
    rule: 'no-agent',
  },
  {
    name: '2 agent only as an ephemeral container',
    pod: pod({ containers: [app()], ephemeralContainers: [agent()] }),
    policy: 'normal',
    rule: 'no-agent',
  },
  {
    name: '2 exporter image is not an agent',
    pod: pod({ containers: [{ name: 'exporter', image: 'example/deepflow-agent-exporter:v1' }] }),
    policy: 'normal',
    rule: 'no-agent',
  },
  // 3. policy label
  {
    name: '3 label only-watch',
    pod: pod({ labels: { [POLICY]: 'only-watch' }, owner: 'DaemonSet' }),
    policy: 'only-watch',
    rule: 'label',
  },
  {
    name: '3 label watch-only',
    pod: pod({ labels: { [POLICY]: 'watch-only' }, owner: 'DaemonSet' }),
    policy: 'only-watch',
    rule: 'label',
  },
  {
    name: '3 label watch-disabled beats the watcher selector',
    pod: pod({ labels: { [POLICY]: 'watch-disabled', [ROLE]: 'k8s-watcher' } }),
    policy: 'watch-disabled',
    rule: 'label',
  },
  {
    name: '3 label normal beats the sidecar rule',
    pod: pod({ labels: { [POLICY]: 'normal' }, containers: [agent(), app()] }),
    policy: 'normal',
    rule: 'label',
  },
  {
    name: '3 label only-watch on a sidecar',
    pod: pod({ labels: { [POLICY]: 'only-watch' }, containers: [app(), agent()] }),
    policy: 'only-watch',
    rule: 'label',
  },
  {
    name: '3 an invalid label falls through to the next rules',
    pod: pod({ labels: { [POLICY]: 'WATCH-ONLY' }, containers: [agent(), app()] }),
    policy: 'watch-disabled',
    rule: 'serverless-sidecar',
  },
  // 4. watcher
  {
    name: '4 watcherSelector',
    pod: pod({ labels: { [ROLE]: 'k8s-watcher' }, owner: 'DaemonSet' }),
    policy: 'only-watch',
    rule: 'watcher-selector',
  },
  {
    name: '4 watcherSelector beats the sidecar rule',
    pod: pod({ labels: { [ROLE]: 'k8s-watcher' }, containers: [agent(), app()] }),
    policy: 'only-watch',
    rule: 'watcher-selector',
  },
  {
    name: '4 custom watcherSelector with matchExpressions',
    pod: pod({ labels: { app: 'deepflow-watcher' } }),
    config: cfg({
      watcherSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['deepflow-watcher'] }] },
    }),
    policy: 'only-watch',
    rule: 'watcher-selector',
  },
  {
    name: '4 an empty watcherSelector matches nothing',
    pod: pod({ labels: { [ROLE]: 'k8s-watcher' } }),
    config: cfg({ watcherSelector: {} }),
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '4 ReplicaSet pod of only an agent',
    pod: pod({ owner: 'ReplicaSet' }),
    policy: 'only-watch',
    rule: 'watcher-deployment',
  },
  {
    name: '4 ReplicaSet pod of an agent and istio-proxy (watcher, not sidecar)',
    pod: pod({ owner: 'ReplicaSet', containers: [agent(), istio()] }),
    policy: 'only-watch',
    rule: 'watcher-deployment',
  },
  {
    name: '4 ReplicaSet pod of two agents',
    pod: pod({ owner: 'ReplicaSet', containers: [agent(), agent({ name: 'agent-2' })] }),
    policy: 'only-watch',
    rule: 'watcher-deployment',
  },
  {
    name: '4 ReplicaSet pod whose native sidecar is an app: only containers are looked at',
    pod: pod({ owner: 'ReplicaSet', initContainers: [nativeSidecar(app('log-shipper'))] }),
    policy: 'only-watch',
    rule: 'watcher-deployment',
  },
  {
    name: '4 watcher Deployment pinned to virtual-kubelet nodes stays only-watch (rule 4 before 5)',
    pod: pod({
      owner: 'ReplicaSet',
      spec: { nodeSelector: { type: 'virtual-kubelet' }, tolerations: [virtualToleration] },
    }),
    policy: 'only-watch',
    rule: 'watcher-deployment',
  },
  {
    name: '4 watcher Deployment on a known virtual node stays only-watch',
    pod: pod({ owner: 'ReplicaSet', spec: { nodeName: VIRTUAL_NODE.name } }),
    nodes,
    policy: 'only-watch',
    rule: 'watcher-deployment',
  },
  {
    name: '4 watcher Deployment with an ECI pod label stays only-watch',
    pod: pod({ owner: 'ReplicaSet', labels: { 'alibabacloud.com/eci': 'true' } }),
    policy: 'only-watch',
    rule: 'watcher-deployment',
  },
  {
    name: '4 ReplicaSet pod with an app container is a sidecar',
    pod: pod({ owner: 'ReplicaSet', containers: [agent(), app()] }),
    policy: 'watch-disabled',
    rule: 'serverless-sidecar',
  },
  {
    name: '4 ReplicaSet ownerReference that is not the controller',
    pod: {
      ...pod(),
      metadata: {
        name: 'p',
        namespace: 'deepflow',
        ownerReferences: [{ kind: 'ReplicaSet', name: 'rs', controller: false }],
      },
    },
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '4 inferWatcherFromDeployment false',
    pod: pod({ owner: 'ReplicaSet' }),
    config: cfg({ inferWatcherFromDeployment: false }),
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '4 a StatefulSet of agents is not inferred a watcher',
    pod: pod({ owner: 'StatefulSet' }),
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '4 a DaemonSet of agents is not inferred a watcher',
    pod: pod({ owner: 'DaemonSet' }),
    policy: 'normal',
    rule: 'default',
  },
  // 5. serverless: sidecar
  {
    name: '5 sidecar: agent next to an app',
    pod: pod({ containers: [app('web'), agent()] }),
    policy: 'watch-disabled',
    rule: 'serverless-sidecar',
  },
  {
    name: '5 sidecar: agent next to istio-proxy and an app',
    pod: pod({ containers: [app('web'), istio(), agent()] }),
    policy: 'watch-disabled',
    rule: 'serverless-sidecar',
  },
  {
    name: '5 not a sidecar: agent next to istio-proxy only',
    pod: pod({ containers: [agent(), istio()] }),
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '5 not a sidecar: an ordinary init container is not an app',
    pod: pod({ initContainers: [app('init-config')] }),
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '5 sidecar: a native sidecar app',
    pod: pod({ initContainers: [nativeSidecar(app('log-shipper'))] }),
    policy: 'watch-disabled',
    rule: 'serverless-sidecar',
  },
  {
    name: '5 sidecar: native sidecar agent next to an app',
    pod: pod({ initContainers: [nativeSidecar(agent())], containers: [app('web')] }),
    policy: 'watch-disabled',
    rule: 'serverless-sidecar',
  },
  {
    name: '5 sidecar: false',
    pod: pod({ containers: [agent(), app()] }),
    config: cfg({ serverless: { sidecar: false } }),
    policy: 'normal',
    rule: 'default',
  },
  // 5. serverless: pod label / annotation
  {
    name: '5 pod label alibabacloud.com/eci=true',
    pod: pod({ labels: { 'alibabacloud.com/eci': 'true' }, owner: 'Job' }),
    policy: 'watch-disabled',
    rule: 'serverless-pod-label',
  },
  {
    name: '5 pod label alibabacloud.com/eci=false',
    pod: pod({ labels: { 'alibabacloud.com/eci': 'false' } }),
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '5 pod label eks.amazonaws.com/fargate-profile=* (any value)',
    pod: pod({ labels: { 'eks.amazonaws.com/fargate-profile': 'fp-default' } }),
    policy: 'watch-disabled',
    rule: 'serverless-pod-label',
  },
  {
    name: '5 pod annotation eks.tke.cloud.tencent.com/ds-injection=true',
    pod: pod({ annotations: { 'eks.tke.cloud.tencent.com/ds-injection': 'true' }, owner: 'StatefulSet' }),
    policy: 'watch-disabled',
    rule: 'serverless-pod-annotation',
  },
  // 5. A DaemonSet pod is decided by its node alone (TKE ds-injection: its copies on ordinary nodes are the natural watchers).
  {
    name: '5 DaemonSet pod with the ds-injection annotation on an ordinary node',
    pod: pod({
      annotations: { 'eks.tke.cloud.tencent.com/ds-injection': 'true' },
      owner: 'DaemonSet',
      spec: { nodeName: ORDINARY_NODE.name },
    }),
    nodes,
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '5 DaemonSet pod with the ds-injection annotation on a virtual node',
    pod: pod({
      annotations: { 'eks.tke.cloud.tencent.com/ds-injection': 'true' },
      owner: 'DaemonSet',
      spec: { nodeName: VIRTUAL_NODE.name },
    }),
    nodes,
    policy: 'watch-disabled',
    rule: 'serverless-node-label',
  },
  {
    name: '5 DaemonSet pod with a serverless pod label, node unknown',
    pod: pod({ labels: { 'alibabacloud.com/eci': 'true' }, owner: 'DaemonSet' }),
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '5 DaemonSet pod next to an application container',
    pod: pod({ owner: 'DaemonSet', containers: [agent(), app()] }),
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '5 DaemonSet pod pinned to virtual nodes by nodeSelector',
    pod: pod({
      owner: 'DaemonSet',
      annotations: { 'eks.tke.cloud.tencent.com/ds-injection': 'true' },
      spec: { nodeSelector: { type: 'virtual-kubelet' } },
    }),
    policy: 'watch-disabled',
    rule: 'serverless-node-selector',
  },
  {
    name: '5 pod annotation ds-injection=false',
    pod: pod({ annotations: { 'eks.tke.cloud.tencent.com/ds-injection': 'false' } }),
    policy: 'normal',
    rule: 'default',
  },
  // 5. serverless: nodeSelector and required node affinity
  {
    name: '5 nodeSelector type=virtual-kubelet',
    pod: pod({ spec: { nodeSelector: { type: 'virtual-kubelet' } } }),
    policy: 'watch-disabled',
    rule: 'serverless-node-selector',
  },
  {
    name: '5 nodeSelector compute-type=fargate',
    pod: pod({ spec: { nodeSelector: { 'eks.amazonaws.com/compute-type': 'fargate' } } }),
    policy: 'watch-disabled',
    rule: 'serverless-node-selector',
  },
  {
    name: '5 nodeSelector compute-type=ec2',
    pod: pod({ spec: { nodeSelector: { 'eks.amazonaws.com/compute-type': 'ec2' } } }),
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '5 required node affinity pins to virtual-kubelet',
    pod: pod({ spec: { affinity: requiredAffinity([{ key: 'type', operator: 'In', values: ['virtual-kubelet'] }]) } }),
    policy: 'watch-disabled',
    rule: 'serverless-node-selector',
  },
  {
    name: '5 required node affinity, every term serverless',
    pod: pod({
      spec: {
        affinity: requiredAffinity(
          [
            { key: 'kubernetes.io/os', operator: 'In', values: ['linux'] },
            { key: 'type', operator: 'In', values: ['virtual-kubelet'] },
          ],
          [{ key: 'eks.amazonaws.com/compute-type', operator: 'In', values: ['fargate'] }],
        ),
      },
    }),
    policy: 'watch-disabled',
    rule: 'serverless-node-selector',
  },
  {
    name: '5 required node affinity, one term allows ordinary nodes',
    pod: pod({
      spec: {
        affinity: requiredAffinity(
          [{ key: 'type', operator: 'In', values: ['virtual-kubelet'] }],
          [{ key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }],
        ),
      },
    }),
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '5 required node affinity allowing a serverless and an ordinary value',
    pod: pod({
      spec: { affinity: requiredAffinity([{ key: 'type', operator: 'In', values: ['virtual-kubelet', 'ecs'] }]) },
    }),
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '5 required node affinity NotIn virtual-kubelet',
    pod: pod({
      spec: { affinity: requiredAffinity([{ key: 'type', operator: 'NotIn', values: ['virtual-kubelet'] }]) },
    }),
    policy: 'normal',
    rule: 'default',
  },
  // 5. serverless: the target node
  {
    name: '5 spec.nodeName is a virtual node',
    pod: pod({ spec: { nodeName: VIRTUAL_NODE.name } }),
    nodes,
    policy: 'watch-disabled',
    rule: 'serverless-node-label',
  },
  {
    name: '5 DaemonSet pod whose matchFields node is virtual',
    pod: pod({
      owner: 'DaemonSet',
      spec: { affinity: daemonSetAffinity(VIRTUAL_NODE.name), tolerations: [virtualToleration] },
    }),
    nodes,
    policy: 'watch-disabled',
    rule: 'serverless-node-label',
  },
  {
    name: '5 DaemonSet pod whose matchFields node is ordinary stays normal (toleration ignored)',
    pod: pod({
      owner: 'DaemonSet',
      spec: { affinity: daemonSetAffinity(ORDINARY_NODE.name), tolerations: [virtualToleration] },
    }),
    nodes,
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '5 DaemonSet pod tolerating virtual-kubelet.io/provider, node unknown, stays normal',
    pod: pod({
      owner: 'DaemonSet',
      spec: { affinity: daemonSetAffinity(VIRTUAL_NODE.name), tolerations: [virtualToleration] },
    }),
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '5 DaemonSet pod tolerating, node not in the cache, stays normal',
    pod: pod({
      owner: 'DaemonSet',
      spec: { affinity: daemonSetAffinity('node-new'), tolerations: [virtualToleration] },
    }),
    nodes,
    policy: 'normal',
    rule: 'default',
  },
  // 5. serverless: tolerations
  {
    name: '5 bare pod tolerating virtual-kubelet.io/provider, node unknown',
    pod: pod({ spec: { tolerations: [virtualToleration] } }),
    policy: 'watch-disabled',
    rule: 'serverless-toleration',
  },
  {
    name: '5 Job pod tolerating eks.amazonaws.com/compute-type',
    pod: pod({
      owner: 'Job',
      spec: { tolerations: [{ key: 'eks.amazonaws.com/compute-type', operator: 'Equal', value: 'fargate' }] },
    }),
    policy: 'watch-disabled',
    rule: 'serverless-toleration',
  },
  {
    name: '5 a toleration is not used when the target node is known and ordinary',
    pod: pod({ spec: { nodeName: ORDINARY_NODE.name, tolerations: [virtualToleration] } }),
    nodes,
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '5 a toleration is used when the named node is not in the cache',
    pod: pod({ spec: { nodeName: 'node-unknown', tolerations: [virtualToleration] } }),
    nodes,
    policy: 'watch-disabled',
    rule: 'serverless-toleration',
  },
  {
    name: '5 a toleration without key (tolerate everything) is not serverless',
    pod: pod({ spec: { tolerations: [{ operator: 'Exists' }] } }),
    policy: 'normal',
    rule: 'default',
  },
  {
    name: '5 an unrelated toleration',
    pod: pod({ spec: { tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' }] } }),
    policy: 'normal',
    rule: 'default',
  },
  // 6. default
  { name: '6 DaemonSet agent', pod: pod({ owner: 'DaemonSet' }), policy: 'normal', rule: 'default' },
  { name: '6 bare agent pod', pod: pod(), policy: 'normal', rule: 'default' },
  {
    name: '6 agent on a known ordinary node',
    pod: pod({ spec: { nodeName: ORDINARY_NODE.name } }),
    nodes,
    policy: 'normal',
    rule: 'default',
  },
];

describe('decide: DESIGN §5, first match wins', () => {
  test.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const decision = decide(row.pod, row.config ?? cfg(), row.nodes);
    expect({ policy: decision.policy, rule: decision.rule }).toEqual({ policy: row.policy, rule: row.rule });
    expect(decision.affirmative).toBe(!['disabled', 'no-agent', 'default'].includes(decision.rule));
    expect(decision.detail).not.toBe('');
  });
});

describe('decide: details', () => {
  test('the detail names the evidence', () => {
    const c = cfg();
    expect(decide(pod({ containers: [agent(), app('web')] }), c).detail).toBe(
      'agent shares the pod with container "web"',
    );
    expect(decide(pod({ labels: { 'alibabacloud.com/eci': 'true' } }), c).detail).toBe(
      'pod label alibabacloud.com/eci=true',
    );
    expect(decide(pod({ labels: { [POLICY]: 'watch-only' } }), c).detail).toBe(
      'pod label deepflow.io/k8s-watch-policy=watch-only',
    );
    expect(decide(pod({ spec: { nodeName: VIRTUAL_NODE.name } }), c, nodes).detail).toBe(
      'node virtual-kubelet-cn-beijing-a has label type=virtual-kubelet',
    );
    expect(decide(pod({ spec: { tolerations: [virtualToleration] } }), c).detail).toBe(
      'tolerates virtual-kubelet.io/provider',
    );
    expect(decide(pod({ spec: { nodeSelector: { type: 'virtual-kubelet' } } }), c).detail).toBe(
      'nodeSelector type=virtual-kubelet',
    );
  });

  test('a pod with no metadata and no spec has no agent', () => {
    expect(decide({}, cfg()).rule).toBe('no-agent');
  });

  test('custom serverless markers come from the config', () => {
    const c = cfg({
      serverless: {
        podLabels: { 'serverless.example.com/pool': '*' },
        nodeLabels: { 'node.example.com/virtual': 'true' },
      },
    });
    expect(decide(pod({ labels: { 'serverless.example.com/pool': 'a' } }), c).rule).toBe('serverless-pod-label');
    expect(decide(pod({ labels: { 'alibabacloud.com/eci': 'true' } }), c).rule).toBe('default');
    const custom = nodeLookup({ name: 'vn', labels: { 'node.example.com/virtual': 'true' } });
    expect(decide(pod({ spec: { nodeName: 'vn' } }), c, custom).rule).toBe('serverless-node-label');
  });
});

describe('targetNodeName', () => {
  test.each<[string, Pod, string | undefined]>([
    ['spec.nodeName', pod({ spec: { nodeName: 'node-1' } }), 'node-1'],
    ['empty spec.nodeName', pod({ spec: { nodeName: '' } }), undefined],
    ['DaemonSet matchFields', pod({ spec: { affinity: daemonSetAffinity('node-2') } }), 'node-2'],
    [
      'spec.nodeName wins over affinity',
      pod({ spec: { nodeName: 'node-1', affinity: daemonSetAffinity('node-2') } }),
      'node-1',
    ],
    ['no spec', { metadata: {} }, undefined],
    ['no affinity', pod(), undefined],
    [
      'two terms naming the same node',
      pod({
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-3'] }] },
                  {
                    matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-3'] }],
                    matchExpressions: [{ key: 'a', operator: 'Exists' }],
                  },
                ],
              },
            },
          },
        },
      }),
      'node-3',
    ],
    [
      'two terms naming different nodes',
      pod({
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-3'] }] },
                  { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-4'] }] },
                ],
              },
            },
          },
        },
      }),
      undefined,
    ],
    [
      'one term allowing two nodes',
      pod({
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-3', 'node-4'] }] },
                ],
              },
            },
          },
        },
      }),
      undefined,
    ],
    [
      'a term without matchFields',
      pod({
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-3'] }] },
                  { matchExpressions: [{ key: 'type', operator: 'In', values: ['virtual-kubelet'] }] },
                ],
              },
            },
          },
        },
      }),
      undefined,
    ],
    [
      'NotIn metadata.name',
      pod({
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['node-3'] }] }],
              },
            },
          },
        },
      }),
      undefined,
    ],
  ])('%s', (_name, p, expected) => {
    expect(targetNodeName(p)).toBe(expected);
  });
});
