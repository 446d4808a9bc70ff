/**
 * `k8s-watch-policy inject` through the built binary (DESIGN §7): documents in, every document
 * back as YAML in order, warnings and denials on stderr, exit 0 / 1 / 78.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { stringify } from 'yaml';
import { json, killAll, lines, requireBuild, run, tempDir, yamlDocs } from '../support/cli.ts';
import { agentContainer } from '../support/objects.ts';

// Every call of the CLI starts a Node process (about 1 s on a busy 2-core machine); each call has
// its own shorter timeout (helpers.ts), so a hang fails with the command line rather than here.
jest.setTimeout(60_000);

const AGENT_IMAGE = 'registry.cn-beijing.aliyuncs.com/deepflow-ce/deepflow-agent:v6.6';
const REASON = 'deepflow.io/k8s-watch-policy-reason';
const DEPRECATED_DENIAL =
  'ONLY_WATCH_K8S_RESOURCE is no longer supported (agents from v6.6.6 on exit when they find it); remove it and set K8S_WATCH_POLICY=watch-only (agents older than v6.6.6 read only ONLY_WATCH_K8S_RESOURCE: upgrade them first, or set deprecatedEnv: warn)';

/** The warning for the watcher Deployment below (replicas: 1, no strategy: a rolling update with maxSurge 25% -> 1). */
const SURGE = (spelling = 'watch-only'): string =>
  `warning: Deployment/deepflow-watcher: this Deployment runs watch-only agents (K8S_WATCH_POLICY=${spelling}) and its rolling update can surge to 2 pods: the DeepFlow server hands the watch to any watch-only agent, so several of them keep taking it from each other during every rollout; set strategy.rollingUpdate.maxSurge: 0 (or strategy.type: Recreate)`;

type Obj = Record<string, any>;

const agent = (env?: Obj[]): Obj => agentContainer(AGENT_IMAGE, env);
const policyEnv = (value: string): Obj => ({ name: 'K8S_WATCH_POLICY', value });

const configMap: Obj = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'deepflow-agent', namespace: 'deepflow' },
  data: { 'deepflow-agent.yaml': 'vtap-group-id-request: g-1\n' },
};
const service: Obj = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'deepflow-agent', namespace: 'deepflow' },
  spec: { selector: { app: 'deepflow-agent' }, ports: [{ port: 30035 }] },
};

function watcherDeployment(containers: Obj[] = [agent()]): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'deepflow-watcher', namespace: 'deepflow' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'deepflow-watcher' } },
      template: { metadata: { labels: { app: 'deepflow-watcher' } }, spec: { containers } },
    },
  };
}

function daemonSet(): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'deepflow-agent', namespace: 'deepflow' },
    spec: {
      selector: { matchLabels: { app: 'deepflow-agent' } },
      template: {
        metadata: { labels: { app: 'deepflow-agent' } },
        spec: { hostNetwork: true, containers: [agent([{ name: 'CTRL_NETWORK_INTERFACE', value: 'eth0' }])] },
      },
    },
  };
}

function pod(name: string, spec: Obj, metadata: Obj = {}): Obj {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop', ...metadata }, spec };
}

const sidecarPod = (): Obj =>
  pod('web-0', { containers: [{ name: 'web', image: 'registry.example.com/shop/web:5.0.0' }, agent()] });

/** The Deployment as inject writes it: the template mutated as its ReplicaSet's pods would be. */
function mutatedWatcher(value = 'watch-only', reason = 'only-watch/watcher-deployment', env: Obj[] = []): Obj {
  const d = structuredClone(watcherDeployment());
  d.spec.template.metadata.annotations = { [REASON]: reason };
  d.spec.template.spec.containers[0].env = [...env, policyEnv(value)];
  return d;
}

/** The DaemonSet as inject writes it: its pods stay normal, the template gets only the reason. */
function annotatedDaemonSet(): Obj {
  const d = daemonSet();
  d.spec.template.metadata.annotations = { [REASON]: 'normal/default' };
  return d;
}

/** An agent pod that stays normal: its env as it is, only the reason annotation. */
function normalDefault(p: Obj): Obj {
  const out = structuredClone(p);
  out.metadata.annotations = { [REASON]: 'normal/default' };
  return out;
}

function mutatedSidecarPod(): Obj {
  const p = sidecarPod();
  p.metadata.annotations = { [REASON]: 'watch-disabled/serverless-sidecar' };
  p.spec.containers[1].env = [policyEnv('watch-disabled')];
  return p;
}

const yamlOf = (docs: Obj[]): string => docs.map((d) => stringify(d)).join('---\n');

let tmp: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  requireBuild();
  tmp = await tempDir('inject');
});

afterAll(async () => {
  await killAll();
  await tmp?.cleanup();
});

describe('inject: documents in, documents out', () => {
  test('a multi-document YAML file: every document back in order, the watcher template mutated, the DaemonSet template given only its reason, non-pods unchanged', async () => {
    const file = await tmp.file(
      'manifest.yaml',
      '# the agent manifests\n' + yamlOf([configMap, watcherDeployment(), daemonSet(), service, sidecarPod()]),
    );
    const r = await run(['inject', '-f', file]);
    expect(lines(r.stderr)).toEqual([SURGE()]);
    expect(r.code).toBe(0);
    expect(yamlDocs(r.stdout)).toEqual([
      configMap,
      mutatedWatcher(),
      annotatedDaemonSet(),
      service,
      mutatedSidecarPod(),
    ]);
    // YAML documents separated by ---, none before the first.
    expect(r.stdout.startsWith('apiVersion: v1\nkind: ConfigMap\n')).toBe(true);
    expect(r.stdout.match(/^---$/gm)).toHaveLength(4);
  });

  test('the mutated watcher template, exactly as written', async () => {
    const file = await tmp.file('watcher.yaml', yamlOf([watcherDeployment()]));
    const r = await run(['inject', '-f', file]);
    expect(lines(r.stderr)).toEqual([SURGE()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        '  name: deepflow-watcher',
        '  namespace: deepflow',
        'spec:',
        '  replicas: 1',
        '  selector:',
        '    matchLabels:',
        '      app: deepflow-watcher',
        '  template:',
        '    metadata:',
        '      labels:',
        '        app: deepflow-watcher',
        '      annotations:',
        `        ${REASON}: only-watch/watcher-deployment`,
        '    spec:',
        '      containers:',
        '        - name: deepflow-agent',
        `          image: ${AGENT_IMAGE}`,
        '          env:',
        '            - name: K8S_WATCH_POLICY',
        '              value: watch-only',
        '',
      ].join('\n'),
    );
  });

  test('JSON input (a file) is written back as YAML', async () => {
    const file = await tmp.file('pod.json', json(sidecarPod()));
    const r = await run(['inject', '-f', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(() => JSON.parse(r.stdout)).toThrow();
    expect(yamlDocs(r.stdout)).toEqual([mutatedSidecarPod()]);
  });

  test('-f - reads YAML from standard input', async () => {
    const r = await run(['inject', '-f', '-'], { stdin: yamlOf([daemonSet(), watcherDeployment()]) });
    expect(lines(r.stderr)).toEqual([SURGE()]);
    expect(r.code).toBe(0);
    expect(yamlDocs(r.stdout)).toEqual([annotatedDaemonSet(), mutatedWatcher()]);
  });

  test('-f - reads a JSON List from standard input; the List is written back with its items mutated in order', async () => {
    const eci = pod('eci-job', { containers: [agent()] }, { labels: { 'alibabacloud.com/eci': 'true' } });
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      metadata: { resourceVersion: '' },
      items: [watcherDeployment(), daemonSet(), eci, service],
    };
    const r = await run(['inject', '-f', '-'], { stdin: JSON.stringify(list) });
    expect(lines(r.stderr)).toEqual([SURGE()]);
    expect(r.code).toBe(0);
    const eciOut = structuredClone(eci);
    eciOut.metadata.annotations = { [REASON]: 'watch-disabled/serverless-pod-label' };
    eciOut.spec.containers[0].env = [policyEnv('watch-disabled')];
    expect(yamlDocs(r.stdout)).toEqual([{ ...list, items: [mutatedWatcher(), annotatedDaemonSet(), eciOut, service] }]);
  });

  test('a document labelled injection=disabled is left alone (every other document is treated as opted in)', async () => {
    const optedOut = pod('web-1', sidecarPod().spec, {
      labels: { 'deepflow.io/k8s-watch-policy-injection': 'disabled' },
    });
    const r = await run(['inject', '-f', '-'], { stdin: yamlOf([optedOut, sidecarPod()]) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(yamlDocs(r.stdout)).toEqual([optedOut, mutatedSidecarPod()]);
  });

  test('empty documents are dropped; an empty stream writes nothing and exits 0', async () => {
    const r = await run(['inject', '-f', '-'], { stdin: '---\n# nothing\n---\n' + yamlOf([service]) + '---\n' });
    expect(r.code).toBe(0);
    expect(yamlDocs(r.stdout)).toEqual([service]);
    const empty = await run(['inject', '-f', '-'], { stdin: '' });
    expect(empty).toEqual({ code: 0, signal: null, stdout: '', stderr: '' });
  });
});

describe('inject: denials and warnings', () => {
  test('a denied Pod: one `denied:` line, exit 1, the document written back unchanged, the others still mutated', async () => {
    const x = pod('x', { containers: [agent([{ name: 'ONLY_WATCH_K8S_RESOURCE', value: 'true' }])] });
    const r = await run(['inject', '-f', '-'], { stdin: yamlOf([x, watcherDeployment()]) });
    expect(lines(r.stderr)).toEqual([`denied: Pod/x: container "deepflow-agent": ${DEPRECATED_DENIAL}`, SURGE()]);
    expect(r.code).toBe(1);
    expect(yamlDocs(r.stdout)).toEqual([x, mutatedWatcher()]);
  });

  test('denials of a Deployment template and of a List item (an init container), each on its own line', async () => {
    const bad = watcherDeployment([agent([{ name: 'ONLY_WATCH_K8S_RESOURCE', value: '' }])]);
    const init = pod('migrate-0', {
      initContainers: [{ name: 'setup', image: 'busybox', env: [{ name: 'ONLY_WATCH_K8S_RESOURCE', value: '1' }] }],
      containers: [agent()],
    });
    const list = { apiVersion: 'v1', kind: 'PodList', items: [init] };
    const r = await run(['inject', '-f', '-'], { stdin: yamlOf([bad, list]) });
    expect(lines(r.stderr)).toEqual([
      `denied: Deployment/deepflow-watcher: container "deepflow-agent": ${DEPRECATED_DENIAL}`,
      `denied: Pod/migrate-0: init container "setup": ${DEPRECATED_DENIAL}`,
    ]);
    expect(r.code).toBe(1);
    expect(yamlDocs(r.stdout)).toEqual([bad, list]);
  });

  test('an invalid policy label is denied with the allowed values', async () => {
    const p = pod('typo', { containers: [agent()] }, { labels: { 'deepflow.io/k8s-watch-policy': 'WATCH-ONLY' } });
    const r = await run(['inject', '-f', '-'], { stdin: yamlOf([p]) });
    expect(lines(r.stderr)).toEqual([
      'denied: Pod/typo: label deepflow.io/k8s-watch-policy: invalid value "WATCH-ONLY"; use one of watch-only, only-watch, watch-disabled, normal',
    ]);
    expect(r.code).toBe(1);
    expect(yamlDocs(r.stdout)).toEqual([p]);
  });

  test('warnings go to stderr prefixed `warning: Kind/name: `, exit 0, the explicit values kept as they are (only the reason annotation added)', async () => {
    const conflicting = watcherDeployment([agent([policyEnv('watch-disabled')])]);
    const fromConfigMap = pod(
      '',
      {
        containers: [
          { name: 'app', image: 'nginx' },
          agent([{ name: 'K8S_WATCH_POLICY', valueFrom: { configMapKeyRef: { name: 'deepflow', key: 'policy' } } }]),
        ],
      },
      { generateName: 'web-' },
    );
    delete fromConfigMap.metadata.name;
    const r = await run(['inject', '-f', '-'], { stdin: yamlOf([conflicting, fromConfigMap]) });
    expect(lines(r.stderr)).toEqual([
      'warning: Deployment/deepflow-watcher: container "deepflow-agent": K8S_WATCH_POLICY=watch-disabled kept (explicitEnv respect); the webhook would set only-watch (watcher-deployment)',
      'warning: Pod/web-: container "deepflow-agent": K8S_WATCH_POLICY comes from valueFrom and is kept; the webhook would set watch-disabled (serverless-sidecar)',
    ]);
    expect(r.code).toBe(0);
    const conflictingOut = structuredClone(conflicting);
    conflictingOut.spec.template.metadata.annotations = { [REASON]: 'watch-disabled/explicit-env' };
    const fromConfigMapOut = structuredClone(fromConfigMap);
    fromConfigMapOut.metadata.annotations = { [REASON]: 'unknown/value-from' };
    expect(yamlDocs(r.stdout)).toEqual([conflictingOut, fromConfigMapOut]);
  });

  test('a watcher Deployment that can run two agent pods at once is warned about; one with maxSurge: 0 or Recreate is not', async () => {
    const noSurge = watcherDeployment();
    noSurge.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } };
    const recreate = watcherDeployment();
    recreate.metadata.name = 'deepflow-watcher-recreate';
    recreate.spec.strategy = { type: 'Recreate' };
    const two = watcherDeployment();
    two.metadata.name = 'deepflow-watcher-two';
    two.spec.replicas = 2;
    const r = await run(['inject', '-f', '-'], { stdin: yamlOf([noSurge, recreate, two]) });
    expect(lines(r.stderr)).toEqual([
      'warning: Deployment/deepflow-watcher-two: this Deployment runs watch-only agents (K8S_WATCH_POLICY=watch-only) with replicas: 2: the DeepFlow server hands the watch to any watch-only agent, so several of them keep taking it from each other; use replicas: 1',
    ]);
    expect(r.code).toBe(0);
    const mutated = (d: Obj): Obj => ({
      ...mutatedWatcher(),
      metadata: d.metadata,
      spec: { ...mutatedWatcher().spec, replicas: d.spec.replicas, strategy: d.spec.strategy },
    });
    expect(yamlDocs(r.stdout)).toEqual([mutated(noSurge), mutated(recreate), mutated(two)]);
  });

  test('the other only-watch spelling in K8S_WATCH_POLICY is respelled the configured way, with a warning', async () => {
    const respelled = (from: string, to: string) =>
      `warning: Deployment/deepflow-watcher: container "deepflow-agent": K8S_WATCH_POLICY=${from} respelled ${to}: the agent reads only ${to} and would run as normal with ${from} (onlyWatchValue)`;
    const r = await run(['inject', '-f', '-'], {
      stdin: yamlOf([watcherDeployment([agent([policyEnv('only-watch')])])]),
    });
    expect(lines(r.stderr)).toEqual([respelled('only-watch', 'watch-only'), SURGE()]);
    expect(r.code).toBe(0);
    expect(yamlDocs(r.stdout)).toEqual([mutatedWatcher()]);

    const config = await tmp.file('design-spelling.yaml', 'onlyWatchValue: only-watch\n');
    const back = await run(['inject', '-f', '-', '--config', config], {
      stdin: yamlOf([watcherDeployment([agent([policyEnv('watch-only')])])]),
    });
    expect(lines(back.stderr)).toEqual([respelled('watch-only', 'only-watch'), SURGE('only-watch')]);
    expect(back.code).toBe(0);
    expect(yamlDocs(back.stdout)).toEqual([mutatedWatcher('only-watch')]);
  });

  test('K8S_WATCH_POLICY set more than once: the earlier entries removed with a warning, the last one (the one the agent reads) kept', async () => {
    const twice = pod('twice', {
      containers: [
        { name: 'web', image: 'registry.example.com/shop/web:5.0.0' },
        agent([policyEnv('watch-only'), { name: 'A', value: '1' }, policyEnv('watch-disabled')]),
      ],
    });
    const r = await run(['inject', '-f', '-'], { stdin: yamlOf([twice]) });
    expect(lines(r.stderr)).toEqual([
      'warning: Pod/twice: container "deepflow-agent": K8S_WATCH_POLICY was set 2 times; the earlier entries are removed, the last one (the one the agent reads) is kept',
    ]);
    expect(r.code).toBe(0);
    const out = structuredClone(twice);
    out.metadata.annotations = { [REASON]: 'watch-disabled/serverless-sidecar' };
    out.spec.containers[1].env = [{ name: 'A', value: '1' }, policyEnv('watch-disabled')];
    expect(yamlDocs(r.stdout)).toEqual([out]);
  });
});

describe('inject --config', () => {
  const deprecated = () =>
    watcherDeployment([
      agent([
        { name: 'A', value: '1' },
        { name: 'ONLY_WATCH_K8S_RESOURCE', value: 'true' },
      ]),
    ]);

  test('deprecatedEnv: migrate and onlyWatchValue: only-watch turn a denial into a migration to the configured spelling, with a warning', async () => {
    const input = await tmp.file('deprecated.yaml', yamlOf([deprecated()]));
    const without = await run(['inject', '-f', input]);
    expect(without.code).toBe(1);
    expect(lines(without.stderr)).toEqual([
      `denied: Deployment/deepflow-watcher: container "deepflow-agent": ${DEPRECATED_DENIAL}`,
    ]);

    const config = await tmp.file('migrate.yaml', 'deprecatedEnv: migrate\nonlyWatchValue: only-watch\n');
    const r = await run(['inject', '-f', input, '--config', config]);
    expect(lines(r.stderr)).toEqual([
      'warning: Deployment/deepflow-watcher: container "deepflow-agent": ONLY_WATCH_K8S_RESOURCE replaced by K8S_WATCH_POLICY=only-watch',
      SURGE('only-watch'),
    ]);
    expect(r.code).toBe(0);
    // The migrated value is what the watcher Deployment rule decides anyway: the reason is the rule.
    expect(yamlDocs(r.stdout)).toEqual([
      mutatedWatcher('only-watch', 'only-watch/watcher-deployment', [{ name: 'A', value: '1' }]),
    ]);
  });

  test("onlyWatchValue: only-watch spells the injected value the design's way (the default is watch-only, as released agents parse it)", async () => {
    const config = await tmp.file('only-watch.yaml', 'onlyWatchValue: only-watch\n');
    const r = await run(['inject', '-f', '-', '--config', config], { stdin: yamlOf([watcherDeployment()]) });
    expect(lines(r.stderr)).toEqual([SURGE('only-watch')]);
    expect(r.code).toBe(0);
    expect(yamlDocs(r.stdout)).toEqual([mutatedWatcher('only-watch')]);
  });

  test('explicitEnv: override replaces a conflicting value (respect keeps it: see the warnings test)', async () => {
    const config = await tmp.file('override.json', JSON.stringify({ explicitEnv: 'override' }));
    const r = await run(['inject', '-f', '-', '--config', config], {
      stdin: yamlOf([watcherDeployment([agent([policyEnv('watch-disabled')])])]),
    });
    expect(lines(r.stderr)).toEqual([
      'warning: Deployment/deepflow-watcher: container "deepflow-agent": K8S_WATCH_POLICY=watch-disabled replaced by watch-only: only-watch (watcher-deployment), explicitEnv override',
      SURGE(),
    ]);
    expect(r.code).toBe(0);
    expect(yamlDocs(r.stdout)).toEqual([mutatedWatcher()]);
  });

  test.each([
    ['a bad value', 'deprecatedEnv: bogus\n', 'deprecatedEnv: must be one of reject, warn, migrate, got "bogus"'],
    [
      'an unknown nested field',
      'agent:\n  containerName: [x]\n',
      'agent.containerName: unknown field (known: containerNames, imageNames, infrastructureContainers)',
    ],
    ['a wrong type', 'serverless:\n  sidecar: "yes"\n', 'serverless.sidecar: expected true or false, got string "yes"'],
  ])(
    'a bad config file (%s): one line naming the field, exit 78, nothing on stdout',
    async (_name, content, message) => {
      const config = await tmp.file('bad-config.yaml', content);
      const r = await run(['inject', '-f', '-', '--config', config], { stdin: yamlOf([watcherDeployment()]) });
      expect(lines(r.stderr)).toEqual([`k8s-watch-policy: config ${config}: ${message}`]);
      expect(r.code).toBe(78);
      expect(r.stdout).toBe('');
    },
  );
});

describe('inject: Nodes in the input are the node cache', () => {
  const virtualNode = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'virtual-kubelet-cn-beijing-a', labels: { type: 'virtual-kubelet' } },
  };
  const ordinaryNode = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node-1', labels: { 'kubernetes.io/os': 'linux' } },
  };
  const onNode = (name: string, node: string) => pod(name, { nodeName: node, containers: [agent()] });

  function watchDisabled(p: Obj): Obj {
    const out = structuredClone(p);
    out.metadata.annotations = { [REASON]: 'watch-disabled/serverless-node-label' };
    out.spec.containers[0].env = [policyEnv('watch-disabled')];
    return out;
  }

  test('a Pod bound (spec.nodeName) to a Node labelled type=virtual-kubelet gets watch-disabled; one on an ordinary node stays normal (only the reason annotation)', async () => {
    const vk = onNode('agent-vk', 'virtual-kubelet-cn-beijing-a');
    const ordinary = onNode('agent-1', 'node-1');
    const r = await run(['inject', '-f', '-'], { stdin: yamlOf([vk, virtualNode, ordinary, ordinaryNode]) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(yamlDocs(r.stdout)).toEqual([watchDisabled(vk), virtualNode, normalDefault(ordinary), ordinaryNode]);
  });

  test('without the Node in the input the same Pod stays normal (only the reason annotation)', async () => {
    const vk = onNode('agent-vk', 'virtual-kubelet-cn-beijing-a');
    const r = await run(['inject', '-f', '-'], { stdin: yamlOf([vk]) });
    expect(r.code).toBe(0);
    expect(yamlDocs(r.stdout)).toEqual([normalDefault(vk)]);
  });

  test('Nodes inside a List count too, and a DaemonSet pod is placed by its matchFields affinity', async () => {
    const dsPod = pod(
      'deepflow-agent-x7k2p',
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['virtual-kubelet-cn-beijing-a'] }] },
              ],
            },
          },
        },
        tolerations: [{ operator: 'Exists' }],
        containers: [agent()],
      },
      {
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'deepflow-agent', uid: 'ds-uid', controller: true },
        ],
      },
    );
    const nodes = { apiVersion: 'v1', kind: 'NodeList', items: [ordinaryNode, virtualNode] };
    const r = await run(['inject', '-f', '-'], { stdin: yamlOf([nodes, dsPod]) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(yamlDocs(r.stdout)).toEqual([nodes, watchDisabled(dsPod)]);
  });
});
