import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import { admissionPatch, envListPatch } from '../../src/admission/admission_patch.ts';
import type { EnvVar, Pod } from '../../src/kube/objects.ts';

const ev = (name: string, value = 'v'): EnvVar => ({ name, value });
const apply = <T>(doc: T, ops: fastJsonPatch.Operation[]): T =>
  fastJsonPatch.applyPatch(structuredClone(doc), ops, true, false).newDocument;

describe('env lists are diffed by identity: one operation per entry that changed', () => {
  const [a, b, c, d, e] = ['A', 'B', 'C', 'D', 'E'].map((n) => ev(n)) as [EnvVar, EnvVar, EnvVar, EnvVar, EnvVar];
  const x = ev('X');
  test.each([
    ['nothing changed', [a, b, c], [a, b, c], []],
    ['one removed from the middle', [a, b, c, d, e], [a, b, d, e], [{ op: 'remove', path: '/env/2' }]],
    [
      'two removed',
      [a, b, c, d, e],
      [b, d],
      [
        { op: 'remove', path: '/env/0' },
        { op: 'remove', path: '/env/1' },
        { op: 'remove', path: '/env/2' },
      ],
    ],
    ['one appended', [a, b], [a, b, x], [{ op: 'add', path: '/env/2', value: x }]],
    ['one replaced in place', [a, b, c], [a, x, c], [{ op: 'replace', path: '/env/1/name', value: 'X' }]],
    [
      'replaced, then a later one removed',
      [a, b, c, d],
      [x, b, d],
      [
        { op: 'replace', path: '/env/0/name', value: 'X' },
        { op: 'remove', path: '/env/2' },
      ],
    ],
    [
      'removed, then one appended',
      [a, b, c],
      [b, c, x],
      [
        { op: 'remove', path: '/env/0' },
        { op: 'add', path: '/env/2', value: x },
      ],
    ],
  ] as const)('%s', (_name, before, after, expected) => {
    const ops = envListPatch('/env', before, after);
    expect(ops).toEqual(expected);
    expect(apply({ env: before }, ops).env).toEqual(after);
  });

  test('entries out of their order (never produced by a review) become one exact replace of the list', () => {
    expect(envListPatch('/env', [a, b], [b, a])).toEqual([{ op: 'replace', path: '/env', value: [b, a] }]);
  });

  test('property: any removals, replacements and appends patch `before` into `after` with at most one entry-level operation each', () => {
    const edit = fc.constantFrom('keep', 'remove', 'replace');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 4 }), edit), { maxLength: 12 }),
        fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
        (entries, appended) => {
          const before = entries.map(([name], i) => ev(`${name}${i}`));
          const after: EnvVar[] = [];
          let edits = appended.length;
          entries.forEach(([, what], i) => {
            if (what === 'keep') after.push(before[i]!);
            else if (what === 'replace')
              after.push({ name: `new${i}`, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });
            if (what !== 'keep') edits++;
          });
          after.push(...appended.map((n) => ev(`add-${n}`)));
          const ops = envListPatch('/env', before, after);
          expect(apply({ env: before }, ops).env).toEqual(after);
          // A whole-entry op (/env/N) is one edit; ops inside an entry (/env/N/name) count once per entry.
          const whole = ops.filter((op) => op.path.split('/').length === 3).length;
          const inside = new Set(ops.filter((op) => op.path.split('/').length > 3).map((op) => op.path.split('/')[2]))
            .size;
          expect(whole + inside).toBeLessThanOrEqual(edits);
        },
      ),
    );
  });
});

test('admissionPatch: an identity diff for the rest of the pod, the env diff for env lists', () => {
  const [first, drop, keep, last] = [ev('A'), ev('ONLY_WATCH_K8S_RESOURCE', 'true'), ev('KEEP'), ev('B')];
  const app = { name: 'app' };
  const agentEnv = [first, drop, keep, last];
  const pod: Pod = {
    metadata: { name: 'p' },
    spec: { containers: [app, { name: 'agent', env: agentEnv }], initContainers: [{ name: 'init' }] },
  };
  const injected = ev('K8S_WATCH_POLICY', 'only-watch');
  const admitted: Pod = {
    metadata: { name: 'p', annotations: { reason: 'r' } },
    spec: {
      containers: [app, { name: 'agent', env: [first, keep, last, injected] }],
      initContainers: [{ name: 'init', env: [ev('NEW')] }],
    },
  };
  const ops = admissionPatch(pod, admitted);
  expect(ops).toEqual([
    { op: 'add', path: '/metadata/annotations', value: { reason: 'r' } },
    { op: 'add', path: '/spec/initContainers/0/env', value: [ev('NEW')] },
    { op: 'remove', path: '/spec/containers/1/env/1' },
    { op: 'add', path: '/spec/containers/1/env/3', value: injected },
  ]);
  expect(apply(pod, ops)).toEqual(admitted);
  expect(agentEnv).toEqual([first, drop, keep, last]); // the input is untouched
});

test('admissionPatch: what the review shares with the input is not walked, however deep it is nested', () => {
  let deep: unknown = 'bottom';
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const container = { name: 'agent', extra: deep };
  const pod: Pod = {
    metadata: { name: 'p', labels: { 'a/b~c': 'x' } },
    spec: { containers: [container], deep },
  };
  const admitted: Pod = {
    ...pod,
    metadata: { ...pod.metadata, annotations: { 'x/y': 'r' } },
    spec: { ...pod.spec, containers: [{ ...container, env: [ev('K8S_WATCH_POLICY', 'watch-only')] }] },
  };
  expect(admissionPatch(pod, admitted)).toEqual([
    { op: 'add', path: '/metadata/annotations', value: { 'x/y': 'r' } },
    { op: 'add', path: '/spec/containers/0/env', value: [ev('K8S_WATCH_POLICY', 'watch-only')] },
  ]);
});

test('admissionPatch: keys are escaped per RFC 6901, removed keys are removed', () => {
  const pod: Pod = { metadata: { name: 'p', annotations: { 'a~b/c': '1', gone: '2' } } };
  const admitted: Pod = { metadata: { name: 'p', annotations: { 'a~b/c': '3' } } };
  const ops = admissionPatch(pod, admitted);
  expect(ops).toEqual([
    { op: 'replace', path: '/metadata/annotations/a~0b~1c', value: '3' },
    { op: 'remove', path: '/metadata/annotations/gone' },
  ]);
  expect(apply(pod, ops)).toEqual(admitted);
});
