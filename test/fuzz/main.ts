/**
 * `npm run fuzz -- [--cases N] [--seed S]`: the fuzz suite of test/unit/fuzz.test.ts for as long
 * as you like, against the built webhook core (dist/). Prints the seed, the answers by kind, the
 * time, and the first counterexample (shrunk) when an invariant breaks; exit 1 then.
 */
import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import { parseArgs } from 'node:util';
import { admissionBody } from './cases.ts';
import { checkCase, type FuzzResult } from './check.ts';
import type * as AdmissionReviewModule from '../../src/webhook/admission_review.ts';
import type * as MutateModule from '../../src/webhook/mutate.ts';
import type * as ValidateModule from '../../src/webhook/validate.ts';
import type * as InjectModule from '../../src/cli/inject.ts';
import type * as ConfigModule from '../../src/config/config.ts';

// The built modules (npm run fuzz builds first), typed as their sources.
const dist = (path: string) => new URL(`../../dist/${path}`, import.meta.url).href;
const { BadAdmissionReview, parseAdmissionReview } = (await import(
  dist('webhook/admission_review.js')
)) as typeof AdmissionReviewModule;
const { mutatePod } = (await import(dist('webhook/mutate.js'))) as typeof MutateModule;
const { validateController } = (await import(dist('webhook/validate.js'))) as typeof ValidateModule;
const { injectDocuments } = (await import(dist('cli/inject.js'))) as typeof InjectModule;
const { defaultConfig } = (await import(dist('config/config.js'))) as typeof ConfigModule;

const { values } = parseArgs({ options: { cases: { type: 'string', default: '1000000' }, seed: { type: 'string' } } });
const cases = Number(values.cases);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
if (!Number.isInteger(cases) || cases < 1 || !Number.isInteger(seed)) {
  process.stderr.write('usage: npm run fuzz -- [--cases N] [--seed S]\n');
  process.exit(64);
}

const core = {
  parseAdmissionReview,
  BadAdmissionReview,
  mutatePod,
  validateController,
  injectDocuments,
  applyPatch: (doc: any, patch: any[], validate: boolean) => fastJsonPatch.applyPatch(doc, patch, validate),
  config: defaultConfig(),
};
const seen = new Map<FuzzResult, number>();
const started = performance.now();
let last = started;
process.stdout.write(`fuzz: ${cases.toLocaleString('en')} cases, seed ${seed}\n`);
const details = fc.check(
  fc.property(admissionBody, (body) => {
    const result = checkCase(body, core);
    seen.set(result, (seen.get(result) ?? 0) + 1);
    const now = performance.now();
    if (now - last > 10_000) {
      last = now;
      const done = [...seen.values()].reduce((a, b) => a + b, 0);
      process.stderr.write(`  ${done.toLocaleString('en')} cases, ${Math.round((now - started) / 1000)} s\n`);
    }
  }),
  { numRuns: cases, seed },
);
const seconds = (performance.now() - started) / 1000;
const counts = [...seen]
  .sort()
  .map(([k, v]) => `${k} ${v.toLocaleString('en')}`)
  .join(', ');
if (details.failed) {
  process.stdout.write(
    `fuzz: FAILED after ${details.numRuns.toLocaleString('en')} cases (${seconds.toFixed(0)} s, seed ${seed}, path ${details.counterexamplePath})\n`,
  );
  process.stdout.write(
    `  ${String((details.errorInstance as Error | undefined)?.message ?? details.errorInstance)}\n  counterexample: ${JSON.stringify(details.counterexample)?.slice(0, 4000)}\n`,
  );
  process.exit(1);
}
process.stdout.write(
  `fuzz: ${cases.toLocaleString('en')} cases passed in ${seconds.toFixed(1)} s (${Math.round(cases / seconds).toLocaleString('en')}/s): ${counts}\n`,
);
