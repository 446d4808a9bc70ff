/**
 * Carries out a publication plan against the API server, in order, stopping at the first failure
 * (the next reconcile plans again from what it then observes). Every write carries the leader's
 * AbortSignal: once leadership is lost, no further write goes out.
 */
import { EVENTS, LEASES, PODS, resourcePath } from '../kube/paths.ts';
import type { RestConfig } from '../kube/rest/config.ts';
import { isConflict, isNotFound, kubeRequest } from '../kube/rest/request.ts';
import { WATCHER_LABEL } from '../policy/labels.ts';
import { errorMessage, type Logger } from '../log.ts';
import type { Action, PodRef } from './publication.ts';
import type { Lease } from '../kube/objects.ts';
import { leaseWith } from './watcher_lease.ts';

export interface PublisherOptions {
  kc: RestConfig;
  /** The controller's namespace, where the watcher Lease lives. */
  namespace: string;
  leaseName: string;
  /** Who writes (the controller pod), for Events. */
  identity: string;
  logger: Logger;
  /**
   * Asked before every write: whether this replica still leads (the elector's isLeader(), which
   * ends leadership and aborts the signal when the renew deadline has passed unnoticed, as in a
   * process woken from a pause whose own timers have not run yet).
   */
  stillLeading?: () => boolean;
}

const podPath = (p: PodRef) => resourcePath(PODS, p.namespace, p.name);

export class Publisher {
  constructor(private readonly o: PublisherOptions) {}

  get leasePath(): string {
    return resourcePath(LEASES, this.o.namespace, this.o.leaseName);
  }

  async readLease(signal?: AbortSignal): Promise<Lease | undefined> {
    try {
      return await kubeRequest<Lease>(this.o.kc, 'GET', this.leasePath, signal ? { signal } : {});
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Runs the actions in order; returns the Lease as last written (or read). */
  async execute(actions: readonly Action[], lease: Lease | undefined, signal: AbortSignal): Promise<Lease | undefined> {
    const { kc } = this.o;
    for (const action of actions) {
      this.o.stillLeading?.();
      signal.throwIfAborted();
      switch (action.type) {
        case 'unlabel':
        case 'label':
          try {
            // metadata.uid in a patch is a precondition: a re-created pod of the same name is left alone.
            const value = action.type === 'label' ? 'true' : null;
            await kubeRequest(kc, 'PATCH', podPath(action.pod), {
              body: { metadata: { uid: action.pod.uid, labels: { [WATCHER_LABEL]: value } } },
              signal,
            });
          } catch (err) {
            // A pod that is gone (or replaced) needs no label change.
            if (!(isNotFound(err) || isConflict(err))) throw err;
          }
          break;
        case 'lease': {
          const body = leaseWith(lease, this.o.namespace, this.o.leaseName, action.record, new Date());
          lease = lease
            ? await kubeRequest<Lease>(kc, 'PUT', this.leasePath, { body, signal }) // optimistic: carries resourceVersion
            : await kubeRequest<Lease>(kc, 'POST', resourcePath(LEASES, this.o.namespace), { body, signal });
          break;
        }
        case 'event':
          await this.event(action, lease, signal).catch((err: unknown) =>
            this.o.logger.warn({ err: errorMessage(err) }, 'cannot record event'),
          );
          break;
      }
    }
    return lease;
  }

  /** A core/v1 Event (best effort: a lost Event never blocks the publication). */
  async event(
    action: Extract<Action, { type: 'event' }>,
    lease: Lease | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const involved =
      action.reason === 'WatcherElected'
        ? { apiVersion: 'v1', kind: 'Pod', namespace: action.pod.namespace, name: action.pod.name, uid: action.pod.uid }
        : {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            namespace: this.o.namespace,
            name: this.o.leaseName,
            uid: lease?.metadata?.uid,
          };
    await this.recordEvent(involved, action.eventType, action.reason, action.message, signal);
  }

  async recordEvent(
    involvedObject: { namespace: string; [k: string]: unknown },
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    signal: AbortSignal,
  ): Promise<void> {
    this.o.stillLeading?.();
    signal.throwIfAborted();
    const now = new Date().toISOString();
    await kubeRequest(this.o.kc, 'POST', resourcePath(EVENTS, involvedObject.namespace), {
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `k8s-watch-policy.`, namespace: involvedObject.namespace },
        involvedObject,
        type,
        reason,
        message,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: 'k8s-watch-policy-controller' },
        reportingComponent: 'k8s-watch-policy-controller',
        reportingInstance: this.o.identity,
      },
      signal,
    });
  }
}
