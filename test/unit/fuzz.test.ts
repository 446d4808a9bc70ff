/**
 * The webhook's parse and endpoints on generated AdmissionReviews (test/fuzz/cases.ts): anything
 * but a 400 (BadAdmissionReview) is answered with the request's uid, every patch applies, a
 * second review of the admitted pod does not patch, and `inject` admits the same pod. At least
 * 20,000 cases; FUZZ_SEED / FUZZ_CASES change the run (`npm run fuzz` for long runs).
 */
import { expect, test } from '@jest/globals';
import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import { BadAdmissionReview, parseAdmissionReview } from '../../src/webhook/admission_review.ts';
import { mutatePod } from '../../src/webhook/mutate.ts';
import { validateController } from '../../src/webhook/validate.ts';
import { injectDocuments } from '../../src/cli/inject.ts';
import { defaultConfig } from '../../src/config/config.ts';
import { admissionBody } from '../fuzz/cases.ts';
import { checkCase, type FuzzCore, type FuzzResult } from '../fuzz/check.ts';

const CASES = Number(process.env.FUZZ_CASES ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

test(`${CASES} generated AdmissionReviews keep the webhook's invariants (seed ${SEED})`, () => {
  const core: FuzzCore = {
    parseAdmissionReview,
    BadAdmissionReview,
    mutatePod,
    validateController,
    injectDocuments,
    applyPatch: (doc, patch, validate) => fastJsonPatch.applyPatch(doc, patch, validate),
    config: defaultConfig(),
  };
  const seen = new Map<FuzzResult, number>();
  fc.assert(
    fc.property(admissionBody, (body) => {
      const result = checkCase(body, core);
      seen.set(result, (seen.get(result) ?? 0) + 1);
    }),
    { numRuns: CASES, seed: SEED },
  );
  // The generators reach every kind of answer (a generator that only made 400s would prove nothing).
  expect([...seen.keys()].sort()).toEqual(['allowed', 'bad-request', 'denied', 'patched']);
  expect(Math.min(...seen.values())).toBeGreaterThan(CASES / 50);
}, 120_000);
