import { describe, expect, test } from '@jest/globals';
import {
  agentContainers,
  allContainers,
  applicationContainers,
  describeContainer,
  isAgentContainer,
  isInfrastructureContainer,
  isNativeSidecar,
} from '../../src/agent/agent_containers.ts';
import type { Container, PodSpec } from '../../src/kube/objects.ts';
import { agent, AGENT_IMAGE, app, cfg, istio, nativeSidecar } from '../support/fixtures.ts';

const A = cfg().agent;

describe('isAgentContainer', () => {
  test.each<[string, Container, boolean]>([
    ['by name, no image', { name: 'deepflow-agent' }, true],
    ['by name, other image', { name: 'deepflow-agent', image: 'busybox' }, true],
    ['by image, other name', { name: 'agent', image: AGENT_IMAGE }, true],
    ['by image with registry port', { name: 'x', image: 'registry.example.com:5000/deepflow/deepflow-agent' }, true],
    ['by image with tag and digest', { name: 'x', image: 'deepflowce/deepflow-agent:v6.6@sha256:abcd' }, true],
    ['by image with digest only', { name: 'x', image: 'deepflowce/deepflow-agent@sha256:abcd' }, true],
    ['exporter image is not an agent', { name: 'exporter', image: 'example/deepflow-agent-exporter' }, false],
    ['exporter image with tag', { name: 'exporter', image: 'example/deepflow-agent-exporter:v1.0' }, false],
    ['name differing in case', { name: 'DeepFlow-Agent', image: 'busybox' }, false],
    ['image differing in case', { name: 'x', image: 'deepflowce/DEEPFLOW-AGENT:v6.6' }, false],
    ['image whose namespace is deepflow-agent', { name: 'x', image: 'deepflow-agent/server:v6.6' }, false],
    ['application', { name: 'app', image: 'nginx:1.27' }, false],
    ['no image', { name: 'app' }, false],
  ])('%s', (_name, container, expected) => {
    expect(isAgentContainer(container, A)).toBe(expected);
  });

  test('containerNames and imageNames come from the config', () => {
    const custom = cfg({
      agent: { containerNames: ['df'], imageNames: ['deepflow-agent-ee'], infrastructureContainers: [] },
    }).agent;
    expect(isAgentContainer({ name: 'df', image: 'busybox' }, custom)).toBe(true);
    expect(isAgentContainer({ name: 'x', image: 'corp/deepflow-agent-ee:v6.6' }, custom)).toBe(true);
    expect(isAgentContainer({ name: 'deepflow-agent', image: AGENT_IMAGE }, custom)).toBe(false);
  });
});

describe('isInfrastructureContainer / isNativeSidecar', () => {
  test('mesh proxies are infrastructure by name', () => {
    expect(isInfrastructureContainer(istio(), A)).toBe(true);
    expect(isInfrastructureContainer({ name: 'linkerd-proxy' }, A)).toBe(true);
    expect(isInfrastructureContainer({ name: 'envoy', image: 'docker.io/istio/proxyv2:1.22.0' }, A)).toBe(false);
  });

  test('restartPolicy Always makes a native sidecar', () => {
    expect(isNativeSidecar({ name: 'x', restartPolicy: 'Always' })).toBe(true);
    expect(isNativeSidecar({ name: 'x', restartPolicy: 'OnFailure' })).toBe(false);
    expect(isNativeSidecar({ name: 'x' })).toBe(false);
  });
});

describe('agentContainers', () => {
  const where = (spec: PodSpec) => agentContainers(spec, A).map((c) => `${c.field}/${c.index}/${c.container.name}`);

  test('an agent in containers', () => {
    expect(where({ containers: [app(), agent()] })).toEqual(['containers/1/deepflow-agent']);
  });

  test('a native sidecar agent counts', () => {
    expect(where({ initContainers: [{ name: 'init' }, nativeSidecar(agent())], containers: [app()] })).toEqual([
      'initContainers/1/deepflow-agent',
    ]);
  });

  test('an ordinary init container named like the agent does not count', () => {
    expect(where({ initContainers: [agent()], containers: [app()] })).toEqual([]);
    expect(where({ initContainers: [agent({ restartPolicy: 'OnFailure' })], containers: [app()] })).toEqual([]);
  });

  test('an ephemeral container does not count', () => {
    expect(where({ containers: [app()], ephemeralContainers: [agent({ name: 'debugger' })] })).toEqual([]);
  });

  test('containers come before native sidecars, in spec order', () => {
    expect(
      where({
        initContainers: [nativeSidecar(agent({ name: 'sidecar-agent' }))],
        containers: [agent({ name: 'a1' }), app(), agent({ name: 'a2' })],
      }),
    ).toEqual(['containers/0/a1', 'containers/2/a2', 'initContainers/0/sidecar-agent']);
  });

  test('no spec, no containers', () => {
    expect(agentContainers(undefined, A)).toEqual([]);
    expect(agentContainers({}, A)).toEqual([]);
  });
});

describe('applicationContainers', () => {
  const names = (spec: PodSpec) => applicationContainers(spec, A).map((c) => c.container.name);

  test('neither agents nor infrastructure', () => {
    expect(names({ containers: [agent(), istio(), app('web')] })).toEqual(['web']);
    expect(names({ containers: [agent(), istio(), { name: 'linkerd-proxy' }] })).toEqual([]);
  });

  test('native sidecars count, ordinary and ephemeral containers do not', () => {
    expect(
      names({
        initContainers: [app('migrate-db'), nativeSidecar(app('log-shipper'))],
        containers: [agent()],
        ephemeralContainers: [app('debug')],
      }),
    ).toEqual(['log-shipper']);
  });
});

describe('allContainers / describeContainer', () => {
  test('every container with its location', () => {
    const spec: PodSpec = { containers: [agent()], initContainers: [app('init')], ephemeralContainers: [app('debug')] };
    expect(allContainers(spec).map(describeContainer)).toEqual([
      'container "deepflow-agent"',
      'init container "init"',
      'ephemeral container "debug"',
    ]);
  });

  test('names are JSON-quoted', () => {
    expect(describeContainer({ field: 'containers', index: 0, container: { name: 'a"b' } })).toBe('container "a\\"b"');
  });
});
