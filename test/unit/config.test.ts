import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/config.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError, configFromValue, parseConfig } from '../../src/config/parse.ts';

/** The message of the ConfigError that parsing `text` throws. */
function errorOf(text: string): string {
  try {
    parseConfig(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(text)}`);
}

describe('defaultConfig', () => {
  test('matches DESIGN §4', () => {
    expect(defaultConfig()).toEqual({
      agent: {
        containerNames: ['deepflow-agent'],
        imageNames: ['deepflow-agent'],
        infrastructureContainers: ['istio-proxy', 'linkerd-proxy'],
      },
      onlyWatchValue: 'watch-only',
      deprecatedEnv: 'reject',
      invalidPolicy: 'reject',
      explicitEnv: 'respect',
      watcherSelector: { matchLabels: { 'deepflow.io/role': 'k8s-watcher' } },
      inferWatcherFromDeployment: true,
      serverless: {
        sidecar: true,
        podLabels: { 'alibabacloud.com/eci': 'true', 'eks.amazonaws.com/fargate-profile': '*' },
        podAnnotations: { 'eks.tke.cloud.tencent.com/ds-injection': 'true' },
        nodeSelectors: { type: 'virtual-kubelet', 'eks.amazonaws.com/compute-type': 'fargate' },
        tolerationKeys: ['virtual-kubelet.io/provider', 'eks.amazonaws.com/compute-type'],
        nodeLabels: { type: 'virtual-kubelet', 'eks.amazonaws.com/compute-type': 'fargate' },
      },
      election: { namespaces: [], leaseName: 'k8s-watcher' },
    });
  });

  test('returns a fresh object each time', () => {
    const a = defaultConfig();
    a.agent.containerNames.push('x');
    a.serverless.podLabels['x'] = 'y';
    expect(defaultConfig().agent.containerNames).toEqual(['deepflow-agent']);
    expect(defaultConfig().serverless.podLabels).not.toHaveProperty('x');
  });
});

describe('parseConfig: valid documents', () => {
  test.each([
    ['an empty file', ''],
    ['a comment only', '# nothing here\n'],
    ['null', 'null'],
    ['an empty map', '{}'],
    ['an empty JSON object', '  {}  '],
  ])('%s gives the defaults', (_name, text) => {
    expect(parseConfig(text)).toEqual(defaultConfig());
  });

  test('every field, in YAML', () => {
    const text = `
agent:
  containerNames: [agent, deepflow]
  imageNames: [deepflow-agent-ee]
  infrastructureContainers: [envoy]
onlyWatchValue: only-watch
deprecatedEnv: migrate
invalidPolicy: warn
explicitEnv: override
watcherSelector:
  matchLabels: {app: deepflow-watcher}
  matchExpressions:
    - {key: tier, operator: In, values: [watch, k8s]}
    - {key: canary, operator: DoesNotExist}
inferWatcherFromDeployment: false
serverless:
  sidecar: false
  podLabels: {"serverless.example.com/kind": "*"}
  podAnnotations: {}
  nodeSelectors: {node.kubernetes.io/instance-type: virtual}
  tolerationKeys: [example.com/virtual]
  nodeLabels: {example.com/virtual: "true"}
election:
  namespaces: [deepflow, kube-system]
  leaseName: watcher
`;
    expect(parseConfig(text)).toEqual({
      agent: {
        containerNames: ['agent', 'deepflow'],
        imageNames: ['deepflow-agent-ee'],
        infrastructureContainers: ['envoy'],
      },
      onlyWatchValue: 'only-watch',
      deprecatedEnv: 'migrate',
      invalidPolicy: 'warn',
      explicitEnv: 'override',
      watcherSelector: {
        matchLabels: { app: 'deepflow-watcher' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['watch', 'k8s'] },
          { key: 'canary', operator: 'DoesNotExist' },
        ],
      },
      inferWatcherFromDeployment: false,
      serverless: {
        sidecar: false,
        podLabels: { 'serverless.example.com/kind': '*' },
        podAnnotations: {},
        nodeSelectors: { 'node.kubernetes.io/instance-type': 'virtual' },
        tolerationKeys: ['example.com/virtual'],
        nodeLabels: { 'example.com/virtual': 'true' },
      },
      election: { namespaces: ['deepflow', 'kube-system'], leaseName: 'watcher' },
    });
  });

  test('JSON is YAML', () => {
    const config = parseConfig(
      '{"onlyWatchValue": "only-watch", "serverless": {"sidecar": false}, "election": {"namespaces": ["deepflow"]}}',
    );
    expect(config.onlyWatchValue).toBe('only-watch');
    expect(config.serverless.sidecar).toBe(false);
    expect(config.election.namespaces).toEqual(['deepflow']);
  });

  test('a nested field keeps the defaults of its siblings', () => {
    const config = parseConfig('serverless:\n  sidecar: false\nagent:\n  imageNames: [agent]\n');
    const d = defaultConfig();
    expect(config.serverless).toEqual({ ...d.serverless, sidecar: false });
    expect(config.agent).toEqual({ ...d.agent, imageNames: ['agent'] });
    expect(config.election).toEqual(d.election);
  });

  test('a given list or map replaces the default as a whole', () => {
    const config = parseConfig('serverless:\n  podLabels: {example.com/serverless: "true"}\n  tolerationKeys: []\n');
    expect(config.serverless.podLabels).toEqual({ 'example.com/serverless': 'true' });
    expect(config.serverless.tolerationKeys).toEqual([]);
  });

  test('a null section keeps its defaults', () => {
    expect(parseConfig('agent:\nserverless: ~\n')).toEqual(defaultConfig());
  });

  test.each(['only-watch', 'watch-only'])('onlyWatchValue %s', (v) => {
    expect(parseConfig(`onlyWatchValue: ${v}`).onlyWatchValue).toBe(v);
  });

  test.each(['reject', 'warn', 'migrate'])('deprecatedEnv %s', (v) => {
    expect(parseConfig(`deprecatedEnv: ${v}`).deprecatedEnv).toBe(v);
  });

  test.each(['reject', 'warn'])('invalidPolicy %s', (v) => {
    expect(parseConfig(`invalidPolicy: ${v}`).invalidPolicy).toBe(v);
  });

  test.each(['respect', 'override'])('explicitEnv %s', (v) => {
    expect(parseConfig(`explicitEnv: ${v}`).explicitEnv).toBe(v);
  });

  test('configFromValue accepts an already parsed value', () => {
    expect(configFromValue({ explicitEnv: 'override' }).explicitEnv).toBe('override');
    expect(configFromValue(undefined)).toEqual(defaultConfig());
  });
});

describe('parseConfig: errors name the field', () => {
  test.each([
    // unknown fields
    [
      'foo: 1',
      'foo: unknown field (known: agent, onlyWatchValue, deprecatedEnv, invalidPolicy, explicitEnv, watcherSelector, inferWatcherFromDeployment, serverless, election)',
    ],
    ['agent: {names: [a]}', 'agent.names: unknown field (known: containerNames, imageNames, infrastructureContainers)'],
    [
      'serverless: {podLabel: {}}',
      'serverless.podLabel: unknown field (known: sidecar, podLabels, podAnnotations, nodeSelectors, tolerationKeys, nodeLabels)',
    ],
    ['election: {leaseNamespace: x}', 'election.leaseNamespace: unknown field (known: namespaces, leaseName)'],
    ['watcherSelector: {foo: 1}', 'watcherSelector.foo: unknown field (known: matchLabels, matchExpressions)'],
    [
      'watcherSelector: {matchExpressions: [{key: a, operator: In, values: [x], extra: 1}]}',
      'watcherSelector.matchExpressions[0].extra: unknown field (known: key, operator, values)',
    ],
    // wrong types
    ['3', '(top level): expected a map, got number 3'],
    ['"text"', '(top level): expected a map, got string "text"'],
    ['- a\n- b', '(top level): expected a map, got a list'],
    ['agent: 3', 'agent: expected a map, got number 3'],
    ['agent: [deepflow-agent]', 'agent: expected a map, got a list'],
    ['agent: {containerNames: deepflow-agent}', 'agent.containerNames: expected a list, got string "deepflow-agent"'],
    ['agent: {containerNames: [1]}', 'agent.containerNames[0]: expected a string, got number 1'],
    ['agent: {imageNames: [a, ""]}', 'agent.imageNames[1]: must not be empty'],
    [
      'agent: {infrastructureContainers: [{name: x}]}',
      'agent.infrastructureContainers[0]: expected a string, got a map',
    ],
    ['onlyWatchValue: 1', 'onlyWatchValue: expected a string, got number 1'],
    ['onlyWatchValue: ONLY-WATCH', 'onlyWatchValue: must be one of only-watch, watch-only, got "ONLY-WATCH"'],
    ['deprecatedEnv: allow', 'deprecatedEnv: must be one of reject, warn, migrate, got "allow"'],
    ['deprecatedEnv: null', 'deprecatedEnv: expected a string, got null'],
    ['invalidPolicy: migrate', 'invalidPolicy: must be one of reject, warn, got "migrate"'],
    ['explicitEnv: true', 'explicitEnv: expected a string, got boolean true'],
    ['explicitEnv: ignore', 'explicitEnv: must be one of respect, override, got "ignore"'],
    [
      'serverless: {podAnnotations: {deepflow.io/k8s-watch-policy-reason: "*"}}',
      'serverless.podAnnotations["deepflow.io/k8s-watch-policy-reason"]: is the annotation the webhook writes; it cannot mark serverless pods',
    ],
    ['inferWatcherFromDeployment: "yes"', 'inferWatcherFromDeployment: expected true or false, got string "yes"'],
    ['inferWatcherFromDeployment: 1', 'inferWatcherFromDeployment: expected true or false, got number 1'],
    ['serverless: {sidecar: yes}', 'serverless.sidecar: expected true or false, got string "yes"'],
    ['serverless: {podLabels: {"a/b": 5}}', 'serverless.podLabels["a/b"]: expected a string, got number 5'],
    ['serverless: {podAnnotations: [a]}', 'serverless.podAnnotations: expected a map of strings, got a list'],
    ['serverless: {nodeSelectors: {type: true}}', 'serverless.nodeSelectors.type: expected a string, got boolean true'],
    [
      'serverless: {nodeLabels: {"eks.amazonaws.com/compute-type": null}}',
      'serverless.nodeLabels["eks.amazonaws.com/compute-type"]: expected a string, got null',
    ],
    ['serverless: {tolerationKeys: null}', 'serverless.tolerationKeys: expected a list, got null'],
    ['election: {namespaces: ""}', 'election.namespaces: expected a list, got string ""'],
    ['election: {namespaces: [""]}', 'election.namespaces[0]: must not be empty'],
    ['election: {leaseName: ""}', 'election.leaseName: must not be empty'],
    ['{"election": {"leaseName": 7}}', 'election.leaseName: expected a string, got number 7'],
  ])('%j', (text, message) => {
    expect(errorOf(text)).toBe(message);
  });

  test('invalid YAML', () => {
    expect(errorOf('agent: [')).toMatch(/^invalid YAML: /);
    expect(errorOf('agent:\n  containerNames: [a\n  imageNames: b]\n')).toMatch(/^invalid YAML: /);
  });

  test('duplicate keys are invalid YAML', () => {
    expect(errorOf('deprecatedEnv: warn\ndeprecatedEnv: reject\n')).toMatch(/^invalid YAML: Map keys must be unique/);
  });

  test('invalid JSON', () => {
    expect(errorOf('{"agent": {"containerNames": ["a",]')).toMatch(/^invalid YAML: /);
  });

  test('the error is a ConfigError with that name', () => {
    try {
      parseConfig('foo: 1');
      throw new Error('unreachable');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).toBe('ConfigError');
    }
  });
});

describe('parseConfig: watcherSelector validation', () => {
  test.each([
    [
      '{matchExpressions: [{key: a, operator: In}]}',
      'watcherSelector.matchExpressions[0].values: must not be empty for operator In',
    ],
    [
      '{matchExpressions: [{key: a, operator: NotIn, values: []}]}',
      'watcherSelector.matchExpressions[0].values: must not be empty for operator NotIn',
    ],
    [
      '{matchExpressions: [{key: a, operator: Exists, values: [x]}]}',
      'watcherSelector.matchExpressions[0].values: must be empty for operator Exists',
    ],
    [
      '{matchExpressions: [{key: a, operator: DoesNotExist, values: [x]}]}',
      'watcherSelector.matchExpressions[0].values: must be empty for operator DoesNotExist',
    ],
    ['{matchExpressions: [{operator: Exists}]}', 'watcherSelector.matchExpressions[0].key: is required'],
    ['{matchExpressions: [{key: "", operator: Exists}]}', 'watcherSelector.matchExpressions[0].key: must not be empty'],
    ['{matchExpressions: [{key: a}]}', 'watcherSelector.matchExpressions[0].operator: is required'],
    [
      '{matchExpressions: [{key: a, operator: Gt, values: ["1"]}]}',
      'watcherSelector.matchExpressions[0].operator: must be one of In, NotIn, Exists, DoesNotExist, got "Gt"',
    ],
    [
      '{matchExpressions: [{key: a, operator: Exists}, x]}',
      'watcherSelector.matchExpressions[1]: expected a map, got string "x"',
    ],
    ['{matchExpressions: {key: a}}', 'watcherSelector.matchExpressions: expected a list, got a map'],
    [
      '{matchExpressions: [{key: a, operator: In, values: [1]}]}',
      'watcherSelector.matchExpressions[0].values[0]: expected a string, got number 1',
    ],
    [
      '{matchLabels: {deepflow.io/role: 1}}',
      'watcherSelector.matchLabels["deepflow.io/role"]: expected a string, got number 1',
    ],
    ['[a]', 'watcherSelector: expected a map, got a list'],
  ])('watcherSelector: %s', (selector, message) => {
    expect(errorOf(`watcherSelector: ${selector}`)).toBe(message);
  });

  test('a valid selector with every operator', () => {
    const config = parseConfig(`
watcherSelector:
  matchExpressions:
    - {key: a, operator: In, values: [x]}
    - {key: b, operator: NotIn, values: [y, z]}
    - {key: c, operator: Exists}
    - {key: d, operator: DoesNotExist, values: []}
`);
    expect(config.watcherSelector).toEqual({
      matchExpressions: [
        { key: 'a', operator: 'In', values: ['x'] },
        { key: 'b', operator: 'NotIn', values: ['y', 'z'] },
        { key: 'c', operator: 'Exists' },
        { key: 'd', operator: 'DoesNotExist', values: [] },
      ],
    });
  });

  test('a selector replaces the default selector', () => {
    expect(parseConfig('watcherSelector: {matchLabels: {app: w}}').watcherSelector).toEqual({
      matchLabels: { app: 'w' },
    });
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-watch-policy-config-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('no file: the defaults', async () => {
    await expect(loadConfig(undefined)).resolves.toEqual(defaultConfig());
  });

  test('a YAML file', async () => {
    const config = await loadConfig(file('config.yaml', 'onlyWatchValue: only-watch\nserverless:\n  sidecar: false\n'));
    expect(config).toEqual({
      ...defaultConfig(),
      onlyWatchValue: 'only-watch',
      serverless: { ...defaultConfig().serverless, sidecar: false },
    });
  });

  test('a JSON file', async () => {
    const config = await loadConfig(
      file('config.json', JSON.stringify({ deprecatedEnv: 'migrate', election: { namespaces: ['deepflow'] } })),
    );
    expect(config.deprecatedEnv).toBe('migrate');
    expect(config.election).toEqual({ namespaces: ['deepflow'], leaseName: 'k8s-watcher' });
  });

  test('an error names the file and the field', async () => {
    const path = file('bad.yaml', 'serverless:\n  sidecar: "no"\n');
    await expect(loadConfig(path)).rejects.toThrow(
      new ConfigError(`config ${path}: serverless.sidecar: expected true or false, got string "no"`),
    );
    await expect(loadConfig(path)).rejects.toBeInstanceOf(ConfigError);
  });

  test('invalid YAML names the file', async () => {
    const path = file('broken.yaml', 'agent: [\n');
    await expect(loadConfig(path)).rejects.toThrow(/^config .*broken\.yaml: invalid YAML: /);
  });

  test('a missing file', async () => {
    const path = join(dir, 'missing.yaml');
    await expect(loadConfig(path)).rejects.toThrow(new ConfigError(`cannot read config file ${path}: ENOENT`));
  });

  test('a directory', async () => {
    await expect(loadConfig(dir)).rejects.toThrow(new ConfigError(`cannot read config file ${dir}: EISDIR`));
  });
});

describe('parseConfig: field names that are also Object.prototype members', () => {
  // Finding: the reader table is a plain object, so `constructor`, `toString`, ... are found on its
  // prototype and accepted as fields, and `__proto__` crashes with a TypeError. DESIGN §4: unknown
  // fields are a startup error that names the field.
  test.each([
    ['constructor: 1', 'constructor: unknown field'],
    ['toString: 1', 'toString: unknown field'],
    ['agent: {constructor: x}', 'agent.constructor: unknown field'],
    ['__proto__: 1', '__proto__: unknown field'],
  ])('%j is an unknown field', (text, prefix) => {
    expect(errorOf(text).startsWith(prefix)).toBe(true);
  });
});
