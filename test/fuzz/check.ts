/**
 * The invariants one fuzz case must keep (test/unit/fuzz.test.ts, `npm run fuzz`). The product's
 * functions are passed in, so that jest checks src/ and the long runner checks dist/.
 */
export interface FuzzCore {
  parseAdmissionReview(body: unknown): any;
  BadAdmissionReview: new (...args: any[]) => Error;
  mutatePod(request: any, options: any): any;
  validateController(request: any, options: any): any;
  injectDocuments(documents: any[], config: any): { objects: any[]; denied: number };
  applyPatch(document: any, patch: any[], validate: boolean): { newDocument: any };
  config: any;
}

export type FuzzResult = 'bad-request' | 'allowed' | 'patched' | 'denied';

/** Checks one body; returns how it was answered, throws an Error describing the first violation. */
export function checkCase(body: unknown, core: FuzzCore): FuzzResult {
  let request: any;
  try {
    request = core.parseAdmissionReview(body);
  } catch (err) {
    if (err instanceof core.BadAdmissionReview) return 'bad-request';
    throw new Error(`parseAdmissionReview threw ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
  }
  const options = { config: core.config };
  let result: FuzzResult = 'allowed';
  for (const endpoint of [core.mutatePod, core.validateController]) {
    let outcome: any;
    try {
      outcome = endpoint(request, options);
      JSON.stringify(outcome.response);
    } catch (err) {
      throw new Error(`${endpoint.name} threw ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
    }
    const response = outcome.response.response;
    if (response.uid !== request.uid)
      throw new Error(`${endpoint.name}: uid ${JSON.stringify(response.uid)} is not the request's`);
    if (!response.allowed) {
      if (response.patch !== undefined) throw new Error(`${endpoint.name}: a denial with a patch`);
      result = 'denied';
      continue;
    }
    if (response.patch === undefined) continue;
    if (endpoint !== core.mutatePod) throw new Error('validateController answered with a patch');
    result = 'patched';
    const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
    let admitted: any;
    try {
      admitted = core.applyPatch(structuredClone(request.object), patch, true).newDocument;
    } catch (err) {
      throw new Error(`the patch does not apply: ${(err as Error).message}`, { cause: err });
    }
    const again = core.mutatePod({ ...request, object: admitted }, options).response.response;
    if (again.patch !== undefined)
      throw new Error(
        `a second review of the admitted pod patches again: ${Buffer.from(again.patch, 'base64').toString('utf8')}`,
      );
    // The CLI (inject) admits the same pod, byte for byte.
    const cli = core.injectDocuments([structuredClone(request.object)], core.config).objects[0];
    if (JSON.stringify(cli) !== JSON.stringify(admitted))
      throw new Error('inject and the webhook admit the pod differently');
  }
  return result;
}
