import { describe, expect, test } from '@jest/globals';
import { imageName } from '../../src/agent/image_name.ts';

describe('imageName', () => {
  test.each([
    ['deepflow-agent', 'deepflow-agent'],
    ['deepflow-agent:v6.6', 'deepflow-agent'],
    ['deepflowce/deepflow-agent:latest', 'deepflow-agent'],
    ['registry.cn-beijing.aliyuncs.com/deepflow-ce/deepflow-agent:v6.6', 'deepflow-agent'],
    ['registry.example.com:5000/deepflow-agent', 'deepflow-agent'],
    ['localhost:5000/deepflow/deepflow-agent:v6.6.9', 'deepflow-agent'],
    ['registry.example.com:5000/deepflow/deepflow-agent:v6.6@sha256:0123456789abcdef', 'deepflow-agent'],
    ['deepflow-agent@sha256:0123456789abcdef', 'deepflow-agent'],
    ['registry.example.com:5000/deepflow-agent@sha256:0123456789abcdef', 'deepflow-agent'],
    ['  deepflow-agent:v6.6  ', 'deepflow-agent'],
    ['a/b/c/deepflow-agent', 'deepflow-agent'],
    ['example/deepflow-agent-exporter', 'deepflow-agent-exporter'],
    ['example/deepflow-agent-exporter:v1', 'deepflow-agent-exporter'],
    ['deepflow-agent-ee:v6.6', 'deepflow-agent-ee'],
    ['docker.io/istio/proxyv2:1.22.0', 'proxyv2'],
    ['registry:5000/team/app', 'app'],
    ['', ''],
  ])('%j -> %j', (image, name) => {
    expect(imageName(image)).toBe(name);
  });
});
