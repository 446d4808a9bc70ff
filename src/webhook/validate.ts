/** `POST /validate`: a pod controller on CREATE or UPDATE is validated on its pod template, never patched. */
import { isRecord, type KubeObject } from '../kube/objects.ts';
import { isPodController, podTemplateOf, reviewTemplate } from '../admission/pod_template.ts';
import type { ReviewOptions } from '../admission/review_pod.ts';
import { answer, kindOf, type AdmissionOutcome, type AdmissionRequest } from './admission_review.ts';

/**
 * Whether two JSON values are equal, walked without recursion and at most `maxDepth` levels deep
 * (deeper counts as different): the old and the new object of an UPDATE share nothing, and their
 * nesting is the caller's to choose.
 */
export function sameJson(a: unknown, b: unknown, maxDepth = 100): boolean {
  const stack: [unknown, unknown, number][] = [[a, b, 0]];
  while (stack.length > 0) {
    const [x, y, depth] = stack.pop()!;
    if (x === y) continue;
    const pair = depth < maxDepth ? containers(x, y) : undefined;
    if (!pair) return false;
    const [xs, ys] = pair;
    const keys = Object.keys(xs);
    if (keys.length !== Object.keys(ys).length) return false;
    for (const k of keys) {
      if (!Object.hasOwn(ys, k)) return false;
      stack.push([xs[k], ys[k], depth + 1]);
    }
  }
  return true;
}

/** Both values as containers when both are objects or both arrays: the only values equal without being identical. */
function containers(x: unknown, y: unknown): [Record<string, unknown>, Record<string, unknown>] | undefined {
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return undefined;
  return Array.isArray(x) === Array.isArray(y)
    ? [x as Record<string, unknown>, y as Record<string, unknown>]
    : undefined;
}

function templateUnchanged(request: AdmissionRequest): boolean {
  const before = isRecord(request.oldObject)
    ? podTemplateOf({ ...request.oldObject, kind: kindOf(request.oldObject, request) })
    : undefined;
  const after = isRecord(request.object)
    ? podTemplateOf({ ...request.object, kind: kindOf(request.object, request) })
    : undefined;
  return before !== undefined && after !== undefined && sameJson(before, after);
}

/**
 * `/validate`: pod controllers on CREATE and UPDATE are validated on their template; never patched.
 *
 * An UPDATE that leaves a bad template as it was (a label change, a scale, the garbage collector
 * removing a finalizer) or that touches an object being deleted is allowed with the findings as
 * warnings: refusing it would wedge objects that predate the webhook, even their deletion. The
 * next change of the template is refused.
 */
export function validateController(request: AdmissionRequest, options: ReviewOptions): AdmissionOutcome {
  const controller = controllerUnderReview(request);
  const review = controller ? reviewTemplate(controller, options)?.review : undefined;
  const exempt = review && !review.allowed ? updateExemption(request) : undefined;
  if (!review || !exempt) return answer(request.uid, review, undefined);
  const warnings = [
    ...review.warnings,
    `${review.denial} (allowed because ${exempt}; the next change of the pod template is refused)`,
  ];
  return answer(request.uid, { ...review, allowed: true, warnings }, undefined);
}

/** The pod controller a request asks to validate, its kind and namespace filled in; undefined for anything else. */
function controllerUnderReview(request: AdmissionRequest): KubeObject | undefined {
  const object = request.object;
  const validated = request.operation === 'CREATE' || request.operation === 'UPDATE';
  if (!isRecord(object) || request.subResource || !validated) return undefined;
  const kind = kindOf(object, request);
  if (!isPodController(kind)) return undefined;
  const namespace = object.metadata?.namespace ?? request.namespace;
  return { ...object, kind, metadata: { ...object.metadata, ...(namespace && { namespace }) } };
}

/** Why a refused template is allowed all the same on this UPDATE, if it is. */
function updateExemption(request: AdmissionRequest): string | undefined {
  if (request.operation !== 'UPDATE' || !isRecord(request.object)) return undefined;
  if (request.object.metadata?.deletionTimestamp) return 'the object is being deleted';
  return templateUnchanged(request) ? 'its pod template is unchanged' : undefined;
}
