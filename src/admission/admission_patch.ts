/**
 * The JSON Patch from the pod as sent to the pod as admitted. The review never edits the input:
 * the admitted pod is a copy of only the objects on the path of a change, and the env entries it
 * kept are the input's own objects. So the diff goes by identity: env lists entry by entry (remove,
 * add, or replace one entry, where an index-by-index diff would replace every later entry), and
 * everything else object by object, skipping what is shared.
 */
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import type { Container, EnvVar, Pod } from '../kube/objects.ts';

export function admissionPatch(pod: Pod, admitted: Pod): Operation[] {
  const envOps: Operation[] = [];
  const spec = { ...admitted.spec };
  for (const field of ['containers', 'initContainers'] as const) {
    const before = pod.spec?.[field];
    const after = admitted.spec?.[field];
    if (!Array.isArray(before) || !Array.isArray(after) || before === after) continue;
    spec[field] = after.map((container: Container, i) => {
      const oldEnv = before[i]?.env;
      if (
        container === before[i] ||
        !Array.isArray(oldEnv) ||
        !Array.isArray(container.env) ||
        container.env === oldEnv
      )
        return container;
      envOps.push(...envListPatch(`/spec/${field}/${i}/env`, oldEnv, container.env));
      return { ...container, env: oldEnv };
    });
  }
  const ops: Operation[] = [];
  identityDiff(pod, admitted.spec === undefined ? admitted : { ...admitted, spec }, '', ops);
  return [...ops, ...envOps];
}

/** A copy of JSON data (what a patch value is): cheaper than structuredClone for the small values here. */
const copyJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The operations from `before` to `after`, where `after` shares every unchanged subtree with
 * `before` (the review copies only the objects on the path of a change): an identical reference
 * is skipped without being walked, so the cost follows the change, not the size of the pod, and
 * no depth of nesting the caller sent is ever recursed into.
 */
function identityDiff(before: unknown, after: unknown, path: string, ops: Operation[]): void {
  if (before === after) return;
  if (isPlainObject(before) && isPlainObject(after)) {
    for (const key of Object.keys(before)) {
      const from = before[key];
      const to = after[key];
      if (from === to) continue; // shared (or both absent): nothing to walk, no path to build
      if (to === undefined || !Object.hasOwn(after, key)) ops.push({ op: 'remove', path: `${path}/${escape(key)}` });
      else identityDiff(from, to, `${path}/${escape(key)}`, ops);
    }
    for (const key of Object.keys(after)) {
      if ((!Object.hasOwn(before, key) || before[key] === undefined) && after[key] !== undefined)
        ops.push({ op: 'add', path: `${path}/${escape(key)}`, value: after[key] });
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    before.forEach((item, i) => item === after[i] || identityDiff(item, after[i], `${path}/${i}`, ops));
    return;
  }
  ops.push({ op: 'replace', path, value: after });
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
      i++;
      j++;
      at++;
    } else if (i < before.length && !kept.has(a!)) {
      if (j < after.length && !old.has(b!)) {
        for (const op of fastJsonPatch.compare(a!, b!)) ops.push({ ...op, path: `${path}/${at}${op.path}` });
        i++;
        j++;
        at++;
      } else {
        ops.push({ op: 'remove', path: `${path}/${at}` });
        i++;
      }
    } else if (j < after.length && !old.has(b!)) {
      ops.push({ op: 'add', path: `${path}/${at}`, value: copyJson(b!) });
      j++;
      at++;
    } else {
      // Kept entries out of their order: not something a review produces; a whole replace is exact.
      return [{ op: 'replace', path, value: copyJson(after) }];
    }
  }
  return ops;
}
