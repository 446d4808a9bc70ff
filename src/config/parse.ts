/**
 * Turns a YAML (or JSON) config document into a validated {@link Config}.
 *
 * Every field is optional and falls back to its default; a given list or map replaces the
 * default as a whole. Unknown fields and wrong types are errors that name the field, e.g.
 * `serverless.podLabels["a/b"]: expected a string, got number`.
 */
import { REASON_ANNOTATION } from '../policy/labels.ts';
import { parseDocument } from 'yaml';
import { isRecord, type LabelSelector, type LabelSelectorRequirement } from '../kube/objects.ts';
import { defaultConfig, type Config, type WildcardMap } from './config.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function fail(path: string, message: string): never {
  throw new ConfigError(`${path}: ${message}`);
}

function keyPath(path: string, key: string): string {
  const plain = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key);
  if (path === '') return plain ? key : JSON.stringify(key);
  return plain ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

type Reader<T> = (value: unknown, path: string) => T;

const str: Reader<string> = (v, path) =>
  typeof v === 'string' ? v : fail(path, `expected a string, got ${describe(v)}`);

const nonEmptyStr: Reader<string> = (v, path) => {
  const s = str(v, path);
  return s === '' ? fail(path, 'must not be empty') : s;
};

const bool: Reader<boolean> = (v, path) =>
  typeof v === 'boolean' ? v : fail(path, `expected true or false, got ${describe(v)}`);

function oneOf<T extends string>(...allowed: T[]): Reader<T> {
  return (v, path) => {
    const s = str(v, path);
    return (allowed as string[]).includes(s)
      ? (s as T)
      : fail(path, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(s)}`);
  };
}

function list<T>(item: Reader<T>): Reader<T[]> {
  return (v, path) => {
    if (!Array.isArray(v)) fail(path, `expected a list, got ${describe(v)}`);
    return v.map((x, i) => item(x, `${path}[${i}]`));
  };
}

const stringMap: Reader<WildcardMap> = (v, path) => {
  if (!isRecord(v)) fail(path, `expected a map of strings, got ${describe(v)}`);
  // fromEntries defines own properties, so a key like "__proto__" is kept as a key.
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, str(x, keyPath(path, k))]));
};

/** Reads a map with known fields; each field present is read, the others keep their default. */
function fields<T extends object>(readers: { [K in keyof T]: Reader<T[K]> }): (
  v: unknown,
  path: string,
  defaults: T,
) => T {
  return (v, path, defaults) => {
    if (v === null || v === undefined) return defaults;
    if (!isRecord(v)) fail(path || '(top level)', `expected a map, got ${describe(v)}`);
    const out = { ...defaults };
    for (const [k, x] of Object.entries(v)) {
      const where = keyPath(path, k);
      if (!Object.hasOwn(readers, k)) fail(where, `unknown field (known: ${Object.keys(readers).join(', ')})`);
      const reader = (readers as Record<string, Reader<unknown>>)[k]!;
      Object.defineProperty(out, k, { value: reader(x, where), enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
}

const labelSelector: Reader<LabelSelector> = (v, path) => {
  const selector = fields<LabelSelector>({
    matchLabels: stringMap,
    matchExpressions: list((e, p) => {
      const req = fields<{ key: string; operator: string; values?: string[] }>({
        key: nonEmptyStr,
        operator: oneOf('In', 'NotIn', 'Exists', 'DoesNotExist'),
        values: list(str),
      })(e, p, { key: '', operator: '' });
      if (req.key === '') fail(`${p}.key`, 'is required');
      if (req.operator === '') fail(`${p}.operator`, 'is required');
      const wantsValues = req.operator === 'In' || req.operator === 'NotIn';
      if (wantsValues && !req.values?.length) fail(`${p}.values`, `must not be empty for operator ${req.operator}`);
      if (!wantsValues && req.values?.length) fail(`${p}.values`, `must be empty for operator ${req.operator}`);
      return req as LabelSelectorRequirement;
    }),
  })(v, path, {});
  return selector;
};

/** Validates an already parsed config value (a map, or null/undefined for all defaults). */
export function configFromValue(value: unknown): Config {
  const d = defaultConfig();
  return fields<Config>({
    agent: (v, p) =>
      fields({
        containerNames: list(nonEmptyStr),
        imageNames: list(nonEmptyStr),
        infrastructureContainers: list(nonEmptyStr),
      })(v, p, d.agent),
    onlyWatchValue: oneOf('only-watch', 'watch-only'),
    deprecatedEnv: oneOf('reject', 'warn', 'migrate'),
    invalidPolicy: oneOf('reject', 'warn'),
    explicitEnv: oneOf('respect', 'override'),
    watcherSelector: labelSelector,
    inferWatcherFromDeployment: bool,
    serverless: (v, p) =>
      fields({
        sidecar: bool,
        podLabels: stringMap,
        podAnnotations: (v, p) => {
          const map = stringMap(v, p);
          // The webhook writes this annotation itself: matching on it would change its own decision on the next review.
          if (Object.hasOwn(map, REASON_ANNOTATION))
            fail(keyPath(p, REASON_ANNOTATION), 'is the annotation the webhook writes; it cannot mark serverless pods');
          return map;
        },
        nodeSelectors: stringMap,
        tolerationKeys: list(nonEmptyStr),
        nodeLabels: stringMap,
      })(v, p, d.serverless),
    election: (v, p) => fields({ namespaces: list(nonEmptyStr), leaseName: nonEmptyStr })(v, p, d.election),
  })(value, '', d);
}

/** Parses the text of a config file (YAML 1.2, so JSON too). */
export function parseConfig(text: string): Config {
  const doc = parseDocument(text, { uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) throw new ConfigError(`invalid YAML: ${problem.message.split('\n')[0]}`);
  return configFromValue(doc.toJS());
}
