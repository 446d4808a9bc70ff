/**
 * Golden files, in the style of Istio's injector tests: each test/golden/<case>.in.yaml (one or
 * more documents) is run through exactly what `k8s-watch-policy inject` runs (parseDocuments,
 * injectDocuments, writeDocuments from src/cli/), and through the webhook's /mutate and /validate
 * endpoints (which must agree with it), and compared with
 *   <case>.out.yaml     what `inject` writes on stdout: one document per input document, in order;
 *   <case>.report.yaml  per reviewed object (List items included): kind, name, allowed, policy,
 *                       rule, warnings, denial.
 * An optional <case>.config.yaml is the config (DESIGN §4); otherwise the defaults apply.
 *
 * Regenerate with (the path goes before --selectProjects, which takes several names):
 *   UPDATE_GOLDEN=1 NODE_OPTIONS=--experimental-vm-modules npx jest test/unit/golden --selectProjects unit
 */
import { describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { PodReview } from '../../src/admission/review_pod.ts';
import { flattenLists, parseDocuments, writeDocuments } from '../../src/cli/documents.ts';
import { nodeLookupOf } from '../../src/kube/node_lookup.ts';
import type { AdmissionRequest } from '../../src/webhook/admission_review.ts';
import { mutatePod } from '../../src/webhook/mutate.ts';
import { validateController } from '../../src/webhook/validate.ts';
import { injectDocuments, type ReviewedObject } from '../../src/cli/inject.ts';
import { defaultConfig } from '../../src/config/config.ts';
import { parseConfig } from '../../src/config/parse.ts';
import type { KubeObject, Pod } from '../../src/kube/objects.ts';
import { applyTo, clone, deepFreeze } from '../support/fixtures.ts';

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
  'upstream-agent-7.1',
  'upstream-agent-7.1-watch-disabled',
  'upstream-agent-7.1-tke-sidecar',
  'upstream-agent-6.6.010',
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

function entry({ object, review }: ReviewedObject): ReportEntry {
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

  test('every golden file belongs to a case with an input', () => {
    const orphans = readdirSync(GOLDEN_DIR)
      .filter((f) => !f.endsWith('.in.yaml'))
      .filter(
        (f) =>
          !cases.includes(f.replace(/\.(out|report|config)\.yaml$/, '')) || !/\.(out|report|config)\.yaml$/.test(f),
      );
    expect(orphans).toEqual([]);
  });

  test.each(cases)('%s', (name) => {
    const base = join(GOLDEN_DIR, name);
    const configFile = `${base}.config.yaml`;
    const config = existsSync(configFile) ? parseConfig(readFileSync(configFile, 'utf8')) : defaultConfig();
    // Frozen: injectDocuments must not modify its input.
    const docs = deepFreeze(parseDocuments(readFileSync(`${base}.in.yaml`, 'utf8'), `${name}.in.yaml`));
    expect(docs.length).toBeGreaterThan(0);

    const result = injectDocuments(docs, config);
    expect(result.objects).toHaveLength(docs.length);
    expect(result.reviews.length).toBeGreaterThan(0);
    expect(result.denied).toBe(result.reviews.filter((r) => !r.review.allowed).length);

    // The invariants of every review hold on the golden inputs too: a Pod's patch turns the pod as
    // sent into the pod as admitted.
    for (const { object, review } of result.reviews) {
      if (object.kind === 'Pod') expect(applyTo(object as Pod, review.patch)).toEqual(review.pod);
    }

    // The webhook's endpoints give the same answers: /mutate admits each Pod as the output shows it,
    // /validate answers each pod controller with the report's verdict and warnings.
    const nodes = nodeLookupOf(flattenLists(docs));
    let checkedPods = 0;
    for (const [index, doc] of docs.entries()) {
      for (const object of doc.kind === 'List' ? ((doc as { items?: KubeObject[] }).items ?? []) : [doc]) {
        const reviewed = result.reviews.find((r) => r.object === object);
        if (!reviewed) continue;
        const request = admissionRequest(object);
        if (object.kind === 'Pod') {
          const answer = mutatePod(request, { config, nodes }).response.response;
          expect(answer.allowed).toBe(reviewed.review.allowed);
          const patch =
            answer.patch === undefined ? [] : JSON.parse(Buffer.from(answer.patch, 'base64').toString('utf8'));
          expect(applyTo(object as Pod, patch)).toEqual(reviewed.review.allowed ? reviewed.review.pod : object);
          if (doc === object) expect(applyTo(object as Pod, patch)).toEqual(result.objects[index]);
          checkedPods++;
        } else {
          const answer = validateController(request, { config, nodes }).response.response;
          expect([answer.allowed, answer.warnings ?? [], answer.status?.message ?? null, answer.patch]).toEqual([
            reviewed.review.allowed,
            reviewed.review.warnings,
            reviewed.review.denial ?? null,
            undefined,
          ]);
        }
      }
    }

    expect(checkedPods).toBe(result.reviews.filter((r) => r.object.kind === 'Pod').length);

    compare(`${base}.out.yaml`, writeDocuments(result.objects));
    compare(`${base}.report.yaml`, stringify(result.reviews.map(entry), { lineWidth: 0 }));

    // Idempotent (reinvocationPolicy: IfNeeded): a second pass over the output changes nothing.
    const again = injectDocuments(deepFreeze(clone(result.objects)), config);
    expect(again.objects).toEqual(result.objects);
    expect(again.reviews).toHaveLength(result.reviews.length);
    const patches = (reviews: ReviewedObject[]): [string, PodReview['patch']][] =>
      reviews.map(({ object, review }) => [objectKey(object), review.patch]);
    expect(patches(again.reviews)).toEqual(patches(result.reviews).map(([key]) => [key, []]));
  });
});

/** The AdmissionReview request the API server would send for creating `object`. */
function admissionRequest(object: KubeObject): AdmissionRequest {
  const kind = object.kind ?? 'Pod';
  return {
    uid: 'golden',
    kind: { group: kind === 'Pod' ? '' : kind === 'CronJob' || kind === 'Job' ? 'batch' : 'apps', version: 'v1', kind },
    resource: { group: '', version: 'v1', resource: `${kind.toLowerCase()}s` },
    operation: 'CREATE',
    ...(object.metadata?.namespace && { namespace: object.metadata.namespace }),
    object,
  };
}

function objectKey(object: KubeObject): string {
  return `${object.kind}/${object.metadata?.name ?? object.metadata?.generateName ?? ''}`;
}
