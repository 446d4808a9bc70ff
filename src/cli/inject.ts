/**
 * `k8s-watch-policy inject`: what the webhook would do to each document of a manifest.
 *
 * Pods are reviewed as the mutating webhook reviews them; pod templates as the pods they will
 * create (a Deployment's as owned by a ReplicaSet, ...). Nodes in the input serve as the node
 * cache. Everything else, and denied documents, are written back unchanged.
 */
import type { PodReview } from '../admission/review_pod.ts';
import { reviewPod } from '../admission/review_pod.ts';
import { reviewTemplate } from '../admission/pod_template.ts';
import type { Config } from '../config/config.ts';
import { nodeLookupOf } from '../kube/node_lookup.ts';
import { isRecord, type KubeObject } from '../kube/objects.ts';
import { flattenLists, isList, objectName } from './documents.ts';

export interface ReviewedObject {
  /** The object as it was in the input. */
  object: KubeObject;
  review: PodReview;
}

export interface InjectResult {
  /** Every document, in order: admitted, or unchanged when denied or not a pod (controller). */
  objects: KubeObject[];
  /** Every Pod and pod controller reviewed (List items included), in input order. */
  reviews: ReviewedObject[];
  /** Lines for stderr: `warning: Kind/name: ...` and `denied: Kind/name: ...`. */
  messages: string[];
  denied: number;
}

export function injectDocuments(documents: readonly KubeObject[], config: Config): InjectResult {
  const options = { config, nodes: nodeLookupOf(flattenLists(documents)) };
  const messages: string[] = [];
  const reviews: ReviewedObject[] = [];
  let denied = 0;

  const one = (object: KubeObject): KubeObject => {
    let review: PodReview | undefined;
    let admitted = object;
    if (object.kind === 'Pod') {
      review = reviewPod(object, options);
      admitted = review.pod;
    } else {
      const reviewed = reviewTemplate(object, options);
      review = reviewed?.review;
      if (reviewed) admitted = reviewed.object;
    }
    if (!review) return object;
    reviews.push({ object, review });
    const name = objectName(object);
    for (const warning of review.warnings) messages.push(`warning: ${name}: ${warning}`);
    if (!review.allowed) {
      denied++;
      messages.push(`denied: ${name}: ${review.denial}`);
      return object;
    }
    return admitted;
  };

  const objects = documents.map((doc) =>
    isList(doc)
      ? { ...doc, items: doc.items.map((item) => (isRecord(item) ? one(item as KubeObject) : item)) }
      : one(doc),
  );
  return { objects, reviews, messages, denied };
}
