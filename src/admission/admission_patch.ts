/**
 * The JSON Patch from the pod as sent to the pod as admitted. fast-json-patch compares arrays
 * index by index, so removing an entry from the middle of an `env` list would come out as a
 * replace of every later entry. The review never edits env entries in place: the entries it kept
 * are the input's own objects, so env lists are diffed by identity (remove, add, or replace one
 * entry) and everything else by fast-json-patch.
 */
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import type { Container, EnvVar, Pod } from '../kube/objects.js';

export function admissionPatch(pod: Pod, admitted: Pod): Operation[] {
  const envOps: Operation[] = [];
  const spec = { ...admitted.spec };
  for (const field of ['containers', 'initContainers'] as const) {
    const before = pod.spec?.[field];
    const after = admitted.spec?.[field];
    if (!Array.isArray(before) || !Array.isArray(after) || before === after) continue;
    spec[field] = after.map((container: Container, i) => {
      const oldEnv = before[i]?.env;
      if (container === before[i] || !Array.isArray(oldEnv) || !Array.isArray(container.env) || container.env === oldEnv) return container;
      envOps.push(...envListPatch(`/spec/${field}/${i}/env`, oldEnv, container.env));
      return { ...container, env: oldEnv };
    });
  }
  return [...fastJsonPatch.compare(pod, { ...admitted, spec }), ...envOps];
}

/** `after` is `before` with entries removed, added or replaced, the kept ones in their order. */
export function envListPatch(path: string, before: readonly EnvVar[], after: readonly EnvVar[]): Operation[] {
  const kept = new Set(after);
  const old = new Set(before);
  const ops: Operation[] = [];
  let i = 0;
  let j = 0;
  let at = 0; // the index in the list as patched so far
  while (i < before.length || j < after.length) {
    const a = before[i];
    const b = after[j];
    if (i < before.length && j < after.length && a === b) {
      i++, j++, at++;
    } else if (i < before.length && !kept.has(a!)) {
      if (j < after.length && !old.has(b!)) {
        for (const op of fastJsonPatch.compare(a!, b!)) ops.push({ ...op, path: `${path}/${at}${op.path}` });
        i++, j++, at++;
      } else {
        ops.push({ op: 'remove', path: `${path}/${at}` });
        i++;
      }
    } else if (j < after.length && !old.has(b!)) {
      ops.push({ op: 'add', path: `${path}/${at}`, value: structuredClone(b!) });
      j++, at++;
    } else {
      // Kept entries out of their order: not something a review produces; a whole replace is exact.
      return [{ op: 'replace', path, value: structuredClone(after) }];
    }
  }
  return ops;
}
