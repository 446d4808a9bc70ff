/**
 * The heap settings the Helm chart runs a component with, from values.yaml `<component>.heap`
 * (templates/*-deployment.yaml render them): NODE_OPTIONS flags, and MALLOC_ARENA_MAX=2 with them.
 * The benchmarks run the built CLI the same way, so their memory figures are the chart's.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const VALUES = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'charts/k8s-watch-policy/values.yaml');

export interface ChartHeap {
  /** Node flags, e.g. --max-semi-space-size=2 --max-old-space-size=96. */
  flags: string[];
  env: Record<string, string>;
}

export function chartHeap(component: 'controller' | 'webhook'): ChartHeap {
  const values = parseYaml(readFileSync(VALUES, 'utf8')) as Record<
    string,
    { heap?: { semiSpaceMB?: number; maxOldSpaceMB?: number } | null } | undefined
  >;
  const heap = values[component]?.heap;
  const flags = [
    ...(heap?.semiSpaceMB ? [`--max-semi-space-size=${heap.semiSpaceMB}`] : []),
    ...(heap?.maxOldSpaceMB ? [`--max-old-space-size=${heap.maxOldSpaceMB}`] : []),
  ];
  return { flags, env: flags.length > 0 ? { MALLOC_ARENA_MAX: '2' } : {} };
}
