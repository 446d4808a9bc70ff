/**
 * The Warning Events of the alarms DeepFlow does not raise, recorded by the leading controller:
 * DeprecatedEnv on each pod that still carries ONLY_WATCH_K8S_RESOURCE (once per pod), and
 * MultipleWatchOnlyAgents on the watcher Lease (once per occurrence, DESIGN §6 rule 6). Best
 * effort, like every Event: a failure is logged and never stalls the election.
 */
import type { Logger } from '../log.ts';
import { errorMessage } from '../log.ts';
import { DEPRECATED_ENV } from '../policy/labels.ts';
import type { PodRef } from './publication.ts';
import type { Publisher } from './publisher.ts';

export interface AlarmContext {
  publisher: Publisher;
  logger: Logger;
  onlyWatchValue: string;
  signal: AbortSignal;
}

/**
 * DeprecatedEnv on each pod of `pods` not reported yet; `reported` (pod uids) is kept to the pods
 * that still carry the variable, so that a pod created again is reported again.
 */
export async function recordDeprecatedEnv(
  ctx: AlarmContext,
  pods: readonly PodRef[],
  reported: Set<string>,
): Promise<void> {
  const present = new Set(pods.map((p) => p.uid));
  for (const uid of reported) if (!present.has(uid)) reported.delete(uid);
  for (const ref of pods) {
    if (reported.has(ref.uid)) continue;
    await ctx.publisher
      .recordEvent(
        { apiVersion: 'v1', kind: 'Pod', ...ref },
        'Warning',
        'DeprecatedEnv',
        `${DEPRECATED_ENV} is no longer supported and makes the agent exit; remove it and set K8S_WATCH_POLICY=${ctx.onlyWatchValue}`,
        ctx.signal,
      )
      .then(
        () => reported.add(ref.uid),
        (err: unknown) =>
          ctx.logger.warn(
            { err: errorMessage(err), pod: `${ref.namespace}/${ref.name}` },
            'cannot record DeprecatedEnv event',
          ),
      );
  }
}

/** A log line and MultipleWatchOnlyAgents on the watcher Lease, naming the watch-only pods. */
export async function recordMultipleWatchOnly(
  ctx: AlarmContext,
  pods: readonly { namespace: string; name: string }[],
  graceMs: number,
  lease: { namespace: string; name: string; uid?: string | undefined },
): Promise<void> {
  const names = pods.map((p) => `${p.namespace}/${p.name}`);
  const graceS = Math.round(graceMs / 1000);
  const message =
    `${names.length} eligible agent pods run K8S_WATCH_POLICY=${ctx.onlyWatchValue} for more than ${graceS} s (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}): ` +
    'the DeepFlow server hands the watch to each of them in turn; run one watcher pod (replicas: 1, and maxSurge: 0 or Recreate)';
  ctx.logger.warn(
    { pods: names.slice(0, 20), count: names.length },
    'several watch-only agents: DeepFlow will flap between them',
  );
  const involved = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    namespace: lease.namespace,
    name: lease.name,
    ...(lease.uid && { uid: lease.uid }),
  };
  await ctx.publisher
    .recordEvent(involved, 'Warning', 'MultipleWatchOnlyAgents', message, ctx.signal)
    .catch((err: unknown) =>
      ctx.logger.warn({ err: errorMessage(err) }, 'cannot record MultipleWatchOnlyAgents event'),
    );
}
