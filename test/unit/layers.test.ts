/**
 * The layer order of src/, stated here and nowhere else (docs/architecture.md links to it):
 * a module may import from its own layer and from the layers before it, never from a later one.
 * Layers on one line are peers that must not import each other.
 */
import { expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const LAYERS: readonly (readonly string[])[] = [
  ['log.ts', 'metric_prefix.ts'], // logging and the metric name prefix
  ['http', 'kube'], // plain HTTP serving, the Kubernetes API types and transport (client-go's place)
  ['policy'], // the policy values, labels and annotations
  ['config'], // the configuration of DESIGN §4
  ['selector', 'agent'], // label selectors; which containers are agents
  ['admission'], // the admission decision and patch (pure)
  ['watcher_election'], // the watcher election (pure)
  ['certs'], // certificates and their self-management
  ['webhook', 'controller'], // the two processes' shells
  ['report'], // status and audit of a live cluster
  ['cli'], // the command line
];

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The layer of a path under src/: its top-level folder, or the file itself at the top. */
function groupOf(path: string): string {
  return relative(SRC, path).split('/')[0]!;
}

const levelOf = new Map(LAYERS.flatMap((groups, level) => groups.map((g) => [g, level] as const)));

/** Every relative import and re-export, static or dynamic, of every file under src/. */
function imports(): { from: string; to: string }[] {
  const out: { from: string; to: string }[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\(\s*)'(\.{1,2}\/[^']+)'/g))
      out.push({ from: file, to: normalize(join(dirname(file), m[1]!)) });
  }
  return out;
}

test('every folder and top-level file of src/ has a layer', () => {
  const groups = new Set(sourceFiles(SRC).map(groupOf));
  expect([...groups].filter((g) => !levelOf.has(g)).sort()).toEqual([]);
});

test('imports point down the layers (or stay in their own folder)', () => {
  const found = imports();
  expect(found.length).toBeGreaterThan(100); // the scan sees the imports at all
  const upward = found
    .filter(({ from, to }) => groupOf(from) !== groupOf(to) && levelOf.get(groupOf(to))! >= levelOf.get(groupOf(from))!)
    .map(({ from, to }) => `${relative(SRC, from)} -> ${relative(SRC, to)}`);
  expect(upward).toEqual([]);
});
