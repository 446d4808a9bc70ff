/** `POST /mutate`: a Pod on CREATE is reviewed and patched; anything else is allowed untouched. */
import { isRecord } from '../kube/objects.ts';
import { reviewPod, type ReviewOptions } from '../admission/review_pod.ts';
import { answer, type AdmissionOutcome, type AdmissionRequest } from './admission_review.ts';

/** `/mutate`: Pods on CREATE are reviewed and patched; anything else is allowed untouched. */
export function mutatePod(request: AdmissionRequest, options: ReviewOptions): AdmissionOutcome {
  if (
    request.kind.kind !== 'Pod' ||
    request.operation !== 'CREATE' ||
    request.subResource ||
    !isRecord(request.object)
  ) {
    return answer(request.uid, undefined, undefined);
  }
  // The decision does not depend on the namespace (opt-in is the webhook's namespaceSelector),
  // so the pod is reviewed exactly as sent and the patch applies to it.
  const review = reviewPod(request.object, options);
  return answer(request.uid, review, review.patch);
}
