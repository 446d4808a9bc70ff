/**
 * The soak's invariants as pure checks over what it recorded (watch events, audit records, lists,
 * metrics, samples). Each returns what is wrong, in words; nothing here reads the cluster or a clock.
 */
import type { AuditRecord } from './audit.ts';
import { REASON_ANNOTATION, WATCHER_LABEL } from './product_names.ts';
import type { Json } from './api.ts';

export interface PodKey {
  namespace: string;
  name: string;
  uid: string;
}

export const podKey = (pod: Json): PodKey => ({
  namespace: String(pod?.metadata?.namespace ?? ''),
  name: String(pod?.metadata?.name ?? ''),
  uid: String(pod?.metadata?.uid ?? ''),
});
const keyText = (k: PodKey) => `${k.namespace}/${k.name}`;

// (1a) never two pods labelled deepflow.io/k8s-watcher=true at once ---------------------------------

/**
 * The pods that carry the watcher label, kept from a watch's events in the API server's order
 * (a relist replaces the set at once, as one consistent snapshot).
 */
export class LabelledPods {
  private readonly labelled = new Map<string, PodKey>();

  /** One watch event; returns the problem when more than one pod is labelled after it. */
  apply(type: string, pod: Json): string | undefined {
    const k = podKey(pod);
    const id = `${keyText(k)}#${k.uid}`;
    if (type === 'DELETED' || pod?.metadata?.labels?.[WATCHER_LABEL] !== 'true') this.labelled.delete(id);
    else if (type === 'ADDED' || type === 'MODIFIED') this.labelled.set(id, k);
    return this.problem();
  }

  /** A fresh list replaces what the watch said. */
  replace(pods: readonly Json[]): string | undefined {
    this.labelled.clear();
    for (const pod of pods) this.apply('ADDED', pod);
    return this.problem();
  }

  get pods(): PodKey[] {
    return [...this.labelled.values()];
  }

  private problem(): string | undefined {
    return this.labelled.size > 1
      ? `${this.labelled.size} pods labelled ${WATCHER_LABEL}=true at once: ${this.pods.map(keyText).sort().join(', ')}`
      : undefined;
  }
}

// (1b) no write by a replica that does not hold the leader Lease at that moment -----------------------

export interface LeaderWriteCheck {
  /** The writes by controller replicas that were checked (not counting the leader Lease itself). */
  checked: number;
  /** The label writes among them. */
  labelWrites: number;
  problems: string[];
}

/**
 * Orders every successful write by its resourceVersion (the etcd revision: the API server's own
 * order) and checks each write of a controller replica (`users`: the replicas' user names, which
 * are also their leader-election identities) against the holder the leader Lease named at the
 * last write before it. A replica frozen or cut off that writes after another took the Lease over
 * is caught whatever the clocks say.
 */
export function checkLeaderWrites(
  records: readonly AuditRecord[],
  leaderLease: { namespace: string; name: string },
  users: readonly string[],
): LeaderWriteCheck {
  const replicas = new Set(users);
  const isLeaderLease = (r: AuditRecord) =>
    r.resource === 'leases' && r.namespace === leaderLease.namespace && r.name === leaderLease.name;
  const writes = records
    .filter((r) => r.rv !== undefined && r.verb !== 'get' && (isLeaderLease(r) || replicas.has(r.user)))
    .sort((a, b) => a.rv! - b.rv! || a.line - b.line);
  let holder: string | undefined;
  let holderSince: number | undefined;
  const result: LeaderWriteCheck = { checked: 0, labelWrites: 0, problems: [] };
  for (const w of writes) {
    if (isLeaderLease(w)) {
      if (w.verb === 'delete') holder = undefined;
      else if (w.holder !== holder) {
        holder = w.holder;
        holderSince = w.rv;
      }
      continue;
    }
    result.checked++;
    if (w.watcherLabel !== undefined) result.labelWrites++;
    if (w.user !== holder) {
      const what =
        w.watcherLabel !== undefined
          ? `${w.watcherLabel === 'true' ? 'set' : 'removed'} the watcher label of pod`
          : `${w.verb} ${w.resource}`;
      result.problems.push(
        `${w.user} ${what} ${w.namespace}/${w.name} at resourceVersion ${w.rv} (audit line ${w.line}) while the leader Lease named ${holder ? `"${holder}" (since resourceVersion ${holderSince})` : 'no holder'}`,
      );
    }
  }
  return result;
}

// (2) convergence ------------------------------------------------------------------------------------

export interface Published {
  holder?: string | undefined;
  uid?: string | undefined;
}

/**
 * Once quiet: the watcher Lease names the pod the election computes from a fresh list (with the
 * Lease's watcher as the current one, as the controller elects), and exactly that pod is labelled.
 */
export function convergenceProblem(
  published: Published | undefined,
  elected: PodKey | null,
  labelled: readonly PodKey[],
): string | undefined {
  const want = elected ? keyText(elected) : undefined;
  if ((published?.holder || undefined) !== want)
    return `the watcher Lease names ${published?.holder || 'no watcher'}, the election over a fresh list ${want ?? 'no watcher'}`;
  if (elected && published?.uid !== elected.uid)
    return `the watcher Lease has uid ${published?.uid ?? 'none'}, the elected pod ${elected.uid}`;
  const labels = labelled.map((p) => `${keyText(p)}#${p.uid}`).sort();
  const wantLabels = elected ? [`${keyText(elected)}#${elected.uid}`] : [];
  if (labels.join(',') !== wantLabels.join(','))
    return `labelled: ${labels.join(', ') || 'none'}; elected: ${wantLabels.join(', ') || 'none'}`;
  return undefined;
}

// (3) admission ----------------------------------------------------------------------------------------

/** The agent containers' default names and images (the product's default config). */
const AGENT = 'deepflow-agent';
const imageName = (image: string) =>
  image
    .split('@')[0]!
    .replace(/:[^/:]*$/, '')
    .split('/')
    .pop() ?? '';

export function isAgentPod(pod: Json): boolean {
  const containers = [...(pod?.spec?.containers ?? []), ...(pod?.spec?.initContainers ?? [])] as Json[];
  return containers.some((c) => c?.name === AGENT || imageName(String(c?.image ?? '')) === AGENT);
}

/** An agent pod that the API server has must carry the webhook's reason annotation (the webhook saw it). */
export function annotationProblem(pod: Json): string | undefined {
  if (!isAgentPod(pod)) return undefined;
  if (pod?.metadata?.labels?.['deepflow.io/k8s-watch-policy-injection'] === 'disabled') return undefined;
  const reason = pod?.metadata?.annotations?.[REASON_ANNOTATION];
  return typeof reason === 'string' && /^[a-z-]+\/[a-z-]+$/.test(reason)
    ? undefined
    : `agent pod ${keyText(podKey(pod))} has no ${REASON_ANNOTATION} annotation (${JSON.stringify(reason ?? null)})`;
}

/** The denials the README documents (the webhook's messages), as they appear in the API server's answer. */
export const DOCUMENTED_DENIALS = [
  'ONLY_WATCH_K8S_RESOURCE is no longer supported',
  'is not a value the agent knows',
  'deepflow.io/k8s-watch-policy: invalid value',
] as const;

export type Refusal = 'denied-documented' | 'denied-undocumented' | 'webhook-unreachable' | 'not-admission';

/** What a failed pod creation was: a denial by the webhook (documented or not), the webhook not answering, or no admission matter (etcd down, ...). */
export function classifyRefusal(code: number, message: string): Refusal {
  if (/denied the request/.test(message))
    return DOCUMENTED_DENIALS.some((d) => message.includes(d)) ? 'denied-documented' : 'denied-undocumented';
  if (/failed calling webhook/.test(message)) return 'webhook-unreachable';
  return 'not-admission';
}

/**
 * The sum of a Prometheus counter's samples whose labels include `match` (text exposition
 * format); 0 when absent. Bad lines are skipped.
 */
export function counterSum(text: string, name: string, match: Record<string, string | RegExp> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = new Map<string, string>();
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels.set(l[1]!, l[2]!);
    const ok = Object.entries(match).every(([k, v]) => {
      const got = labels.get(k);
      return got !== undefined && (typeof v === 'string' ? got === v : v.test(got));
    });
    const value = Number(m[4]);
    if (ok && Number.isFinite(value)) sum += value;
  }
  return sum;
}

/**
 * A counter read from processes that restart (its value starts from 0 in each incarnation): the
 * total is the sum of the last value read from each incarnation (counts after the last read of an
 * incarnation that was killed are lost: reads are frequent).
 */
export class RestartingCounter {
  private readonly last = new Map<string, number>();
  observe(incarnation: string, value: number): void {
    this.last.set(incarnation, Math.max(this.last.get(incarnation) ?? 0, value));
  }
  get total(): number {
    let sum = 0;
    for (const v of this.last.values()) sum += v;
    return sum;
  }
}

// (4) informers --------------------------------------------------------------------------------------

export interface CandidateLike {
  namespace: string;
  name: string;
  node: string;
  policy: string;
  eligible: boolean;
  reason: string;
}

const STANDINGS = new Set(['elected', 'standby', 'lower-tier']);
const candidateText = (c: CandidateLike) =>
  `${c.namespace}/${c.name} on ${c.node || '<none>'} ${c.policy} ${c.eligible ? 'eligible' : STANDINGS.has(c.reason) ? 'ineligible' : c.reason}`;

/**
 * What a controller replica's last election saw (its /status candidates, from its informers)
 * against the election over a fresh list: every agent pod the API server has, with its node,
 * policy and eligibility (which reads the pod's node too), and nothing else.
 */
export function informerDiff(replica: readonly CandidateLike[], fresh: readonly CandidateLike[]): string[] {
  const a = new Set(replica.map(candidateText));
  const b = new Set(fresh.map(candidateText));
  return [
    ...[...a].filter((x) => !b.has(x)).map((x) => `has ${x}, the API server does not`),
    ...[...b].filter((x) => !a.has(x)).map((x) => `lacks ${x}`),
  ].sort();
}

// (5) processes ------------------------------------------------------------------------------------

export interface RssSample {
  t: number;
  rssBytes: number;
}

/**
 * Memory stays flat: over one process's life (its first tenth skipped as warm-up), the median RSS
 * of the last third is within 1.5x and 64 MiB of the median of the first third. Needs 9 samples.
 */
export function memoryProblem(samples: readonly RssSample[]): string | undefined {
  const rest = samples.slice(Math.floor(samples.length / 10));
  if (rest.length < 9) return undefined;
  const third = Math.floor(rest.length / 3);
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const first = median(rest.slice(0, third).map((s) => s.rssBytes));
  const last = median(rest.slice(-third).map((s) => s.rssBytes));
  const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
  return last > first * 1.5 && last - first > 64 * 1048576
    ? `RSS grew from ${mib(first)} to ${mib(last)} (medians of the first and last thirds)`
    : undefined;
}
