/**
 * Golden files, in the style of Istio's injector tests: each test/golden/<case>.in.yaml (one or
 * more documents) is run through the pure core (Pods through reviewPod, pod controllers through
 * reviewTemplate, a `List` item by item; Nodes become the node lookup) and compared with
 *   <case>.out.yaml     the admitted objects, one document per input document, in order;
 *   <case>.report.yaml  per reviewed object: kind, name, allowed, policy, rule, warnings, denial.
 * An optional <case>.config.yaml is the config (DESIGN §4); otherwise the defaults apply.
 *
 * Regenerate with: UPDATE_GOLDEN=1 NODE_OPTIONS=--experimental-vm-modules npx jest --selectProjects unit test/unit/golden
 */
import { describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { reviewTemplate } from '../../src/admission/pod_template.js';
import { reviewPod, type PodReview } from '../../src/admission/review_pod.js';
import type { NodeLookup } from '../../src/admission/serverless_rule.js';
import { defaultConfig, type Config } from '../../src/config/config.js';
import { parseConfig } from '../../src/config/parse.js';
import { nodeLookupOf } from '../../src/kube/node_lookup.js';
import { isRecord, type KubeObject, type Pod } from '../../src/kube/objects.js';
import { applyTo, clone, deepFreeze } from './fixtures.js';

const GOLDEN_DIR = fileURLToPath(new URL('../golden/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const REQUIRED_CASES = [
  'daemonset-normal',
  'watcher-deployment',
  'watcher-deployment-virtual-kubelet',
  'sidecar-with-istio',
  'native-sidecar',
  'serverless-eci-label',
  'fargate-profile',
  'cronjob-template',
  'deprecated-env-init-container',
  'valueFrom',
  'watch-only-spelling',
  'list-document',
  'explicit-env-conflict',
];

interface ReportEntry {
  kind: string;
  name: string;
  allowed: boolean;
  policy: string;
  rule: string;
  warnings: string[];
  denial: string | null;
}

function entry(object: KubeObject, review: PodReview): ReportEntry {
  return {
    kind: object.kind ?? '',
    name: object.metadata?.name ?? object.metadata?.generateName ?? '',
    allowed: review.allowed,
    policy: review.decision.policy,
    rule: review.decision.rule,
    warnings: review.warnings,
    denial: review.denial ?? null,
  };
}

/** Every Node of the input (at top level or in a List) as the node lookup. */
function nodesOf(docs: unknown[]): NodeLookup {
  const flat = docs.flatMap((d) => (isRecord(d) && d.kind === 'List' && Array.isArray(d.items) ? d.items : [d]));
  return nodeLookupOf(flat.filter(isRecord) as KubeObject[]);
}

/** Reviews one document; returns the admitted object and appends to the report. */
function admit(doc: unknown, config: Config, nodes: NodeLookup, report: ReportEntry[]): unknown {
  if (!isRecord(doc)) return doc;
  const object = doc as KubeObject;
  if (object.kind === 'List' && Array.isArray(object.items)) {
    return { ...object, items: object.items.map((item: unknown) => admit(item, config, nodes, report)) };
  }
  if (object.kind === 'Pod') {
    const input = deepFreeze(clone(object as Pod));
    const review = reviewPod(input, { config, nodes });
    // The invariants of every review hold on the golden inputs too.
    expect(applyTo(input, review.patch)).toEqual(review.pod);
    if (review.allowed) expect(reviewPod(clone(review.pod), { config, nodes }).patch).toEqual([]);
    report.push(entry(object, review));
    return review.pod;
  }
  const reviewed = reviewTemplate(deepFreeze(clone(object)), { config, nodes });
  if (!reviewed) return object;
  if (reviewed.review.allowed) expect(reviewTemplate(clone(reviewed.object), { config, nodes })!.review.patch).toEqual([]);
  report.push(entry(object, reviewed.review));
  return reviewed.object;
}

function render(values: unknown[]): string {
  return values.map((v) => stringify(v, { lineWidth: 0 })).join('---\n');
}

function compare(file: string, actual: string): void {
  if (UPDATE) {
    writeFileSync(file, actual);
    return;
  }
  expect(existsSync(file)).toBe(true);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

const cases = readdirSync(GOLDEN_DIR)
  .filter((f) => f.endsWith('.in.yaml'))
  .map((f) => f.slice(0, -'.in.yaml'.length))
  .sort();

describe('golden files', () => {
  test('every required case is present', () => {
    for (const name of REQUIRED_CASES) expect(cases).toContain(name);
  });

  test.each(cases)('%s', (name) => {
    const base = join(GOLDEN_DIR, name);
    const configFile = `${base}.config.yaml`;
    const config = existsSync(configFile) ? parseConfig(readFileSync(configFile, 'utf8')) : defaultConfig();
    const parsed = parseAllDocuments(readFileSync(`${base}.in.yaml`, 'utf8'));
    if (!Array.isArray(parsed)) throw new Error(`${name}.in.yaml: empty`);
    for (const d of parsed) expect(d.errors).toEqual([]);
    const docs = parsed.map((d) => d.toJS() as unknown);
    expect(docs.length).toBeGreaterThan(0);

    const nodes = nodesOf(docs);
    const report: ReportEntry[] = [];
    const out = docs.map((doc) => admit(doc, config, nodes, report));
    expect(report.length).toBeGreaterThan(0);

    compare(`${base}.out.yaml`, render(out));
    compare(`${base}.report.yaml`, render([report]));
  });
});
