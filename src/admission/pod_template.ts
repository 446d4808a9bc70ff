/**
 * Pod templates of pod controllers, reviewed as the pods they will create.
 *
 * A template inherits the owner kind its pods will have: a Deployment's pods belong to a
 * ReplicaSet, a CronJob's to a Job, a DaemonSet's to the DaemonSet, and so on. The webhook only
 * validates templates (they are never mutated in the cluster); the CLI also writes the mutation
 * back into the template so that a manifest shows what its pods will get. A controller that would
 * run several watch-only agents at once gets a warning (see watch_only_replicas.ts).
 */
import { isRecord, type KubeObject, type ObjectMeta, type Pod, type PodSpec } from '../kube/objects.ts';
import { reviewPod, type PodReview, type ReviewOptions } from './review_pod.ts';
import { watchOnlyReplicaWarnings } from './watch_only_replicas.ts';

interface TemplateKind {
  /** Where the pod template sits in the object. */
  path: readonly string[];
  /** The kind of the controller that will own the template's pods; undefined when nobody knows. */
  podOwnerKind: string | undefined;
}

/** The pod controllers of DESIGN §2 and where their templates are. */
export const TEMPLATE_KINDS: Readonly<Record<string, TemplateKind>> = {
  Deployment: { path: ['spec', 'template'], podOwnerKind: 'ReplicaSet' },
  DaemonSet: { path: ['spec', 'template'], podOwnerKind: 'DaemonSet' },
  StatefulSet: { path: ['spec', 'template'], podOwnerKind: 'StatefulSet' },
  ReplicaSet: { path: ['spec', 'template'], podOwnerKind: 'ReplicaSet' },
  ReplicationController: { path: ['spec', 'template'], podOwnerKind: 'ReplicationController' },
  Job: { path: ['spec', 'template'], podOwnerKind: 'Job' },
  CronJob: { path: ['spec', 'jobTemplate', 'spec', 'template'], podOwnerKind: 'Job' },
  PodTemplate: { path: ['template'], podOwnerKind: undefined },
};

export function isPodController(kind: string | undefined): boolean {
  return kind !== undefined && Object.hasOwn(TEMPLATE_KINDS, kind);
}

interface PodTemplateSpec {
  metadata?: ObjectMeta;
  spec?: PodSpec;
  [field: string]: unknown;
}

export interface TemplateReview {
  review: PodReview;
  /** The object with its template replaced by the admitted pod's metadata and spec (`review.patch` is relative to that pod). */
  object: KubeObject;
}

/** The pod template of a pod controller, if the object is one and has a template. */
export function podTemplateOf(object: KubeObject): PodTemplateSpec | undefined {
  const kind = isPodController(object.kind) ? TEMPLATE_KINDS[object.kind!] : undefined;
  return kind && templateOf(object, kind.path);
}

function templateOf(object: KubeObject, path: readonly string[]): PodTemplateSpec | undefined {
  let at: unknown = object;
  for (const step of path) at = isRecord(at) ? at[step] : undefined;
  return isRecord(at) ? at : undefined;
}

function withTemplate(object: KubeObject, path: readonly string[], template: PodTemplateSpec): KubeObject {
  const [head, ...rest] = path;
  if (head === undefined) return template;
  const child = isRecord(object[head]) ? (object[head] as KubeObject) : {};
  return { ...object, [head]: withTemplate(child, rest, template) };
}

/**
 * Reviews the template of a pod controller as the pod it will create. Undefined when the kind is
 * not a pod controller or the object has no template.
 */
export function reviewTemplate(object: KubeObject, options: ReviewOptions): TemplateReview | undefined {
  const kind = isPodController(object.kind) ? TEMPLATE_KINDS[object.kind!] : undefined;
  if (!kind) return undefined;
  const template = templateOf(object, kind.path);
  if (!template) return undefined;

  const owner = kind.podOwnerKind;
  const ownerReferences = owner
    ? [{ apiVersion: 'apps/v1', kind: owner, name: object.metadata?.name ?? '', controller: true }]
    : undefined;
  const namespace = object.metadata?.namespace;
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...template.metadata,
      ...(namespace !== undefined && { namespace }),
      ...(ownerReferences && { ownerReferences }),
    },
    spec: template.spec ?? {},
  };
  const reviewed = reviewPod(pod, options);
  const replicaWarnings = reviewed.allowed ? watchOnlyReplicaWarnings(object, reviewed.pod, options.config) : [];
  const review =
    replicaWarnings.length > 0 ? { ...reviewed, warnings: [...reviewed.warnings, ...replicaWarnings] } : reviewed;
  if (review.patch.length === 0) return { review, object };

  const annotations = review.pod.metadata?.annotations;
  const metadata = { ...template.metadata, ...(annotations && { annotations }) };
  // A template without metadata gets it first, where kubectl and helm write it.
  const mutated: PodTemplateSpec = {
    ...(template.metadata === undefined && { metadata }),
    ...template,
    metadata,
    spec: review.pod.spec ?? {},
  };
  return { review, object: withTemplate(object, kind.path, mutated) };
}
