/**
 * A total check, at the boundary, of every field of a reviewed object that the rules read: after
 * it the pure core never meets a value of the wrong type (an `env` entry that is null, containers
 * that are a string, ownerReferences that are a map...). Fields the rules do not read are not
 * checked: the API server has validated them, and a caller that is not the API server gets its
 * answer about what matters here. A wrong shape throws {@link ShapeError} naming the field.
 */
import { isRecord } from '../kube/objects.ts';

export class ShapeError extends Error {
  override name = 'ShapeError';
}

/** Throws a ShapeError when `value` is not of the shape; `optional` checks pass an absent value without being called. */
interface Check {
  (value: unknown, path: string): void;
  optional?: boolean;
}

const describe = (value: unknown): string =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : typeof value === 'object'
        ? 'an object'
        : `${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`;

function fail(path: string, expected: string, value: unknown): never {
  throw new ShapeError(`${path} must be ${expected}, got ${describe(value)}`);
}

export const optional = (check: Check): Check =>
  Object.assign(
    (value: unknown, path: string) => {
      if (value !== undefined && value !== null) check(value, path);
    },
    { optional: true },
  );

export const string: Check = (value, path) => {
  if (typeof value !== 'string') fail(path, 'a string', value);
};

export const boolean: Check = (value, path) => {
  if (typeof value !== 'boolean') fail(path, 'a boolean', value);
};

const intOrString: Check = (value, path) => {
  if (typeof value !== 'string' && typeof value !== 'number') fail(path, 'an integer or a string', value);
};

const number: Check = (value, path) => {
  if (typeof value !== 'number') fail(path, 'a number', value);
};

const stringMap: Check = (value, path) => {
  if (!isRecord(value)) fail(path, 'a map of strings', value);
  for (const key in value)
    if (typeof value[key] !== 'string') fail(`${path}[${JSON.stringify(key)}]`, 'a string', value[key]);
};

/** The field list is fixed once; an absent optional field costs neither a call nor a path. */
export const object = (fields: Record<string, Check>): Check => {
  const entries = Object.entries(fields);
  return (value, path) => {
    if (!isRecord(value)) fail(path, 'an object', value);
    for (const [field, check] of entries) {
      const v = value[field];
      if (v === undefined && check.optional) continue;
      check(v, `${path}.${field}`);
    }
  };
};

const list =
  (item: Check): Check =>
  (value, path) => {
    if (!Array.isArray(value)) fail(path, 'a list', value);
    for (let i = 0; i < value.length; i++) item(value[i], `${path}[${i}]`);
  };

const requirement = object({ key: optional(string), operator: optional(string), values: optional(list(string)) });

const env = object({ name: string, value: optional(string), valueFrom: optional(object({})) });
const container = object({
  name: optional(string),
  image: optional(string),
  restartPolicy: optional(string),
  env: optional(list(env)),
});

const metadata = object({
  name: optional(string),
  generateName: optional(string),
  namespace: optional(string),
  uid: optional(string),
  labels: optional(stringMap),
  annotations: optional(stringMap),
  deletionTimestamp: optional(string),
  ownerReferences: optional(
    list(object({ kind: optional(string), name: optional(string), controller: optional(boolean) })),
  ),
});

const podSpec = object({
  nodeName: optional(string),
  nodeSelector: optional(stringMap),
  containers: optional(list(container)),
  initContainers: optional(list(container)),
  ephemeralContainers: optional(list(container)),
  tolerations: optional(list(object({ key: optional(string), operator: optional(string) }))),
  affinity: optional(
    object({
      nodeAffinity: optional(
        object({
          requiredDuringSchedulingIgnoredDuringExecution: optional(
            object({
              nodeSelectorTerms: optional(
                list(
                  object({ matchExpressions: optional(list(requirement)), matchFields: optional(list(requirement)) }),
                ),
              ),
            }),
          ),
        }),
      ),
    }),
  ),
});

/** A Pod, or a pod template (`{metadata, spec}`). */
export const checkPod: Check = object({ metadata: optional(metadata), spec: optional(podSpec) });

/** What the webhook reads of any object: its metadata. */
export const checkObject: Check = object({ metadata: optional(metadata) });

/** The fields of a pod controller's own spec that the watcher-replicas warning reads. */
export const checkControllerSpec: Check = optional(
  object({
    replicas: optional(number),
    strategy: optional(
      object({ type: optional(string), rollingUpdate: optional(object({ maxSurge: optional(intOrString) })) }),
    ),
  }),
);
