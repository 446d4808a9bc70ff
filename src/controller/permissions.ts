/**
 * The controller's start-up check of its RBAC: every permission it needs is asked of the API
 * server (SelfSubjectAccessReview) so that a missing one is named at start, not discovered as a
 * stream of 403s later.
 */
import type { RestConfig } from '../kube/rest/config.ts';
import { kubeRequest } from '../kube/rest/request.ts';

export interface Permission {
  verb: string;
  group: string;
  resource: string;
  /** Absent: cluster-wide. */
  namespace?: string;
}

export function requiredPermissions(controllerNamespace: string, electionNamespaces: readonly string[]): Permission[] {
  const podScopes = electionNamespaces.length === 0 ? [undefined] : electionNamespaces;
  return [
    ...podScopes.flatMap((namespace) =>
      ['list', 'watch', 'patch'].map((verb) => ({
        verb,
        group: '',
        resource: 'pods',
        ...(namespace !== undefined && { namespace }),
      })),
    ),
    { verb: 'list', group: '', resource: 'nodes' },
    { verb: 'watch', group: '', resource: 'nodes' },
    ...['get', 'create', 'update'].map((verb) => ({
      verb,
      group: 'coordination.k8s.io',
      resource: 'leases',
      namespace: controllerNamespace,
    })),
    ...podScopes.map((namespace) => ({
      verb: 'create',
      group: '',
      resource: 'events',
      ...(namespace !== undefined && { namespace }),
    })),
    { verb: 'create', group: '', resource: 'events', namespace: controllerNamespace },
  ];
}

export function describePermission(p: Permission): string {
  const resource = p.group ? `${p.resource}.${p.group}` : p.resource;
  return `${p.verb} ${resource} ${p.namespace ? `in namespace ${p.namespace}` : 'cluster-wide'}`;
}

/** The permissions the current credentials lack (empty when all are granted). */
export async function missingPermissions(kc: RestConfig, wanted: readonly Permission[]): Promise<Permission[]> {
  const answers = await Promise.all(
    wanted.map(async (p) => {
      const review = await kubeRequest<{ status?: { allowed?: boolean } }>(
        kc,
        'POST',
        '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        {
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: {
              resourceAttributes: {
                verb: p.verb,
                group: p.group,
                resource: p.resource,
                ...(p.namespace && { namespace: p.namespace }),
              },
            },
          },
        },
      );
      return review.status?.allowed === true ? undefined : p;
    }),
  );
  return answers.filter((p): p is Permission => p !== undefined);
}
