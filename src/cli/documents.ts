/**
 * Reading and writing the manifests the offline CLI works on: multi-document YAML or JSON, from
 * a file or standard input, with `List` documents opened into their items.
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments, stringify } from 'yaml';
import { isRecord, type KubeObject } from '../kube/objects.ts';
import { CliError, EXIT_DATA, EXIT_NO_INPUT } from './exit_codes.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads `-f FILE` (or `-` for standard input). */
export async function readInput(file: string): Promise<string> {
  if (file === '-') return readStdin();
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? String(err))}`,
      EXIT_NO_INPUT,
    );
  }
}

/** Parses every document; empty documents are dropped, anything but a map is an error. */
export function parseDocuments(text: string, source: string): KubeObject[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) return []; // an empty stream
  const out: KubeObject[] = [];
  for (const [i, doc] of docs.entries()) {
    const problem = doc.errors[0];
    if (problem) {
      const line = problem.linePos?.[0]?.line;
      const what = problem.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      throw new CliError(`${source}: invalid YAML${line ? ` at line ${line}` : ''}: ${what}`, EXIT_DATA);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isRecord(value))
      throw new CliError(`${source}: document ${i + 1} is not a Kubernetes object (a map)`, EXIT_DATA);
    out.push(value);
  }
  return out;
}

export function isList(object: KubeObject): object is KubeObject & { items: unknown[] } {
  return typeof object.kind === 'string' && object.kind.endsWith('List') && Array.isArray(object.items);
}

/** Every object, with the items of `List` documents in place of the list. */
export function flattenLists(objects: readonly KubeObject[]): KubeObject[] {
  return objects.flatMap((o) => (isList(o) ? o.items.filter(isRecord).map((i) => i as KubeObject) : [o]));
}

/** `Kind/name` for messages. */
export function objectName(object: KubeObject): string {
  const name = object.metadata?.name ?? object.metadata?.generateName ?? '<unnamed>';
  return `${object.kind ?? '<no kind>'}/${name}`;
}

/**
 * YAML for kubectl: written as YAML 1.1, so that strings YAML 1.1 would read as booleans or
 * numbers (`"yes"`, `"on"`, `"N"`, `"0755"`) stay quoted strings for kubectl and other 1.1 readers.
 */
export function writeDocuments(objects: readonly KubeObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0, version: '1.1' })).join('---\n');
}
