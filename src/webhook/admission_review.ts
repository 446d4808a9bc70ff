/**
 * admission.k8s.io/v1 AdmissionReview on the wire: parsing a request body (with a reason for every
 * way it can be wrong) and building the answer to it from a review. The endpoints that review are
 * mutate.ts and validate.ts; the HTTP transport is review_handler.ts.
 */
import type { Operation } from 'fast-json-patch';
import { isRecord, type KubeObject } from '../kube/objects.ts';
import {
  boolean,
  checkControllerSpec,
  checkObject,
  checkPod,
  object,
  optional,
  ShapeError,
  string,
} from './object_shape.ts';
import { isPodController, TEMPLATE_KINDS } from '../admission/pod_template.ts';
import type { PodReview } from '../admission/review_pod.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: string;
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  dryRun?: boolean;
  [field: string]: unknown;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string };
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** A body that is not a usable AdmissionReview; the server answers HTTP 400 with the message. */
export class BadAdmissionReview extends Error {
  override name = 'BadAdmissionReview';
}

function requireString(record: Record<string, unknown>, field: string, where: string): string {
  const value = record[field];
  if (typeof value !== 'string' || value === '')
    throw new BadAdmissionReview(`${where}.${field} must be a non-empty string`);
  return value;
}

export function parseAdmissionReview(body: unknown): AdmissionRequest {
  if (!isRecord(body)) throw new BadAdmissionReview('body must be a JSON object (an AdmissionReview)');
  if (Object.keys(body).length === 0) throw new BadAdmissionReview('body is empty: expected an AdmissionReview');
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    throw new BadAdmissionReview(
      `apiVersion must be ${ADMISSION_API_VERSION}, got ${JSON.stringify(body.apiVersion ?? null)}`,
    );
  }
  if (body.kind !== 'AdmissionReview')
    throw new BadAdmissionReview(`kind must be AdmissionReview, got ${JSON.stringify(body.kind ?? null)}`);
  const request = body.request;
  if (!isRecord(request)) throw new BadAdmissionReview('request is missing or not an object');
  requireString(request, 'uid', 'request');
  requireString(request, 'operation', 'request');
  for (const field of ['kind', 'resource'] as const) {
    if (!isRecord(request[field])) throw new BadAdmissionReview(`request.${field} is missing or not an object`);
  }
  requireString(request.kind as Record<string, unknown>, 'kind', 'request.kind');
  requireString(request.resource as Record<string, unknown>, 'resource', 'request.resource');
  for (const field of ['object', 'oldObject'] as const) {
    const value = request[field];
    if (value !== undefined && value !== null && !isRecord(value))
      throw new BadAdmissionReview(`request.${field} must be an object or null`);
  }
  if ((request.operation === 'CREATE' || request.operation === 'UPDATE') && !isRecord(request.object)) {
    throw new BadAdmissionReview(`request.object is required for ${request.operation}`);
  }
  try {
    checkRequest(request, request.kind as Record<string, unknown>);
  } catch (e) {
    if (e instanceof ShapeError) throw new BadAdmissionReview(e.message);
    throw e;
  }
  return request as AdmissionRequest;
}

const checkRequestFields = object({
  name: optional(string),
  namespace: optional(string),
  subResource: optional(string),
  dryRun: optional(boolean),
});

/** The shape of every field the review reads (object_shape.ts), so that the pure core only sees values of the right type. */
function checkRequest(request: Record<string, unknown>, kind: Record<string, unknown>): void {
  checkRequestFields(request, 'request');
  for (const field of ['object', 'oldObject'] as const) {
    const value = request[field];
    if (!isRecord(value)) continue;
    const where = `request.${field}`;
    const objectKind = typeof value.kind === 'string' ? value.kind : kind.kind;
    // /mutate goes by the request's kind, /validate by the object's: a Pod by either is checked as one.
    if (objectKind === 'Pod' || kind.kind === 'Pod') {
      checkPod(value, where);
      continue;
    }
    checkObject(value, where);
    const template =
      typeof objectKind === 'string' && isPodController(objectKind) ? TEMPLATE_KINDS[objectKind]! : undefined;
    if (!template) continue;
    checkControllerSpec(value.spec, `${where}.spec`);
    let at: unknown = value;
    for (const step of template.path) at = isRecord(at) ? at[step] : undefined;
    if (at !== undefined && at !== null) checkPod(at, `${where}.${template.path.join('.')}`);
  }
}

export type AdmissionResult = 'patched' | 'unchanged' | 'denied';

export interface AdmissionOutcome {
  result: AdmissionResult;
  response: AdmissionReviewResponse;
  /** The pod review behind the answer, when the request was one we review. */
  review?: PodReview;
}

export /** The kind of the object under review: its own `kind`, else the request's. */
function kindOf(object: Record<string, unknown>, request: { kind: { kind: string } }): string {
  return typeof object.kind === 'string' ? object.kind : request.kind.kind;
}

export function answer(uid: string, review: PodReview | undefined, patch: Operation[] | undefined): AdmissionOutcome {
  const response: AdmissionResponse = { uid, allowed: review?.allowed ?? true };
  if (review && !review.allowed) response.status = { code: 403, message: review.denial ?? 'denied' };
  if (patch && patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  if (review && review.warnings.length > 0) response.warnings = review.warnings;
  const result: AdmissionResult = !response.allowed ? 'denied' : response.patch ? 'patched' : 'unchanged';
  return {
    result,
    response: { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response },
    ...(review && { review }),
  };
}
