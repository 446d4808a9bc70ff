/**
 * The reports as JSON or YAML, written a piece at a time: byte for byte what
 * `JSON.stringify(report, null, 2)` and yaml's `stringify(report, { lineWidth: 0 })` write, but a
 * top-level list (status's agents, audit's rows: 100,000 of them in a serverless cluster) goes
 * out a batch of items at a time, never as one string, nor for YAML as one document tree (which
 * costs some 6 KB of heap and 100 µs per row). A YAML item whose values are all plain scalars
 * (names, policies, booleans, lists of such) is written here directly; any other goes through the
 * yaml library, in the same place of the same document, so its output is the library's.
 */
import { stringify } from 'yaml';

export const BATCH = 500;
const YAML_OPTIONS = { lineWidth: 0 } as const;

type Report = object;

const skipped = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';
const indented = (text: string, pad: string) => text.replaceAll('\n', `\n${pad}`);

/** The report as JSON, as `JSON.stringify(report, null, 2) + '\n'`, in pieces. */
export function* jsonChunks(report: Report): Generator<string> {
  const entries = Object.entries(report as Record<string, unknown>).filter(([, v]) => !skipped(v));
  let first = true;
  for (const [key, value] of entries) {
    yield `${first ? '{' : ','}\n  ${JSON.stringify(key)}: `;
    first = false;
    if (Array.isArray(value) && value.length > 0) yield* jsonItems(value);
    else yield indented(JSON.stringify(value, null, 2), '  ');
  }
  yield entries.length === 0 ? '{}\n' : '\n}\n';
}

function* jsonItems(items: readonly unknown[]): Generator<string> {
  for (let at = 0; at < items.length; at += BATCH) {
    let out = at === 0 ? '[' : '';
    for (let i = at; i < Math.min(items.length, at + BATCH); i++) {
      const item = items[i];
      const text = skipped(item) ? 'null' : indented(JSON.stringify(item, null, 2), '    ');
      out += `${i === 0 ? '' : ','}\n    ${text}`;
    }
    yield out;
  }
  yield '\n  ]';
}

/** The report as YAML, as yaml's `stringify(report, { lineWidth: 0 })`, in pieces. */
export function* yamlChunks(report: Report): Generator<string> {
  for (const [key, value] of Object.entries(report as Record<string, unknown>)) {
    if (!Array.isArray(value) || value.length === 0) {
      if (value !== undefined) yield stringify({ [key]: value }, YAML_OPTIONS);
      continue;
    }
    const header = stringify({ [key]: [0] }, YAML_OPTIONS).split('\n', 1)[0]!;
    yield `${header}\n`;
    for (let at = 0; at < value.length; at += BATCH) yield yamlItems(key, header, value.slice(at, at + BATCH));
  }
}

/** Items of the list `key`, as they are in the whole document: by hand when plain, else by the library. */
function yamlItems(key: string, header: string, items: unknown[]): string {
  let out = '';
  for (const item of items) {
    const text = plainItem(item);
    if (text === undefined) return stringify({ [key]: items }, YAML_OPTIONS).slice(header.length + 1);
    out += text;
  }
  return out;
}

/** Strings YAML writes as they are: no indicator, no space, not a number, boolean or null. */
const PLAIN = /^[A-Za-z(][\w./()-]*$/;
const RESERVED = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE|[Nn]ull|NULL)$/;

function plainScalar(value: unknown): string | undefined {
  if (typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (value === '') return '""';
  if (typeof value === 'string' && PLAIN.test(value) && !RESERVED.test(value)) return value;
  return undefined;
}

/** A list item at the second level (`  - `), when every part of it is a plain scalar; else undefined. */
function plainItem(item: unknown): string | undefined {
  const scalar = plainScalar(item);
  if (scalar !== undefined) return `  - ${scalar}\n`;
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return undefined;
  const entries = Object.entries(item);
  if (entries.length === 0) return undefined;
  let out = '';
  for (const [key, value] of entries) {
    const text = plainPair(key, value);
    if (text === undefined) return undefined;
    out += `${out === '' ? '  - ' : '    '}${text}`;
  }
  return out;
}

function plainPair(key: string, value: unknown): string | undefined {
  if (plainScalar(key) !== key) return undefined;
  if (!Array.isArray(value)) {
    const scalar = plainScalar(value);
    return scalar === undefined ? undefined : `${key}: ${scalar}\n`;
  }
  if (value.length === 0) return `${key}: []\n`;
  let out = `${key}:\n`;
  for (const v of value as unknown[]) {
    const scalar = plainScalar(v);
    if (scalar === undefined) return undefined;
    out += `      - ${scalar}\n`;
  }
  return out;
}
