/**
 * kube-apiserver's audit log (one JSON event a line), read as the soak's record of who wrote what
 * in the API server's own order: the resourceVersion of a written object is the etcd revision of
 * the write, one counter for the whole cluster, kept across kube-apiserver and etcd restarts. No
 * clock is read. The policy the soak runs kube-apiserver with is `auditPolicy()`.
 */
import { WATCHER_LABEL } from './product_names.ts';

export interface AuditRecord {
  /** Position in the log file (1-based). */
  line: number;
  user: string;
  verb: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  /** The HTTP status of the answer. */
  code: number;
  message: string;
  /** The resourceVersion of the object as written (a successful write at RequestResponse level). */
  rv: number | undefined;
  /** A Lease as written: its holderIdentity ("" when released). */
  holder: string | undefined;
  /** A pod write that sets or removes the watcher label: its new value ("true", or null when removed). */
  watcherLabel: string | null | undefined;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** One line of the log; undefined for anything that is not a complete ResponseComplete event (a line cut by SIGKILL, say). */
export function parseAuditLine(text: string, line: number): AuditRecord | undefined {
  let event: Json | undefined;
  try {
    event = obj(JSON.parse(text));
  } catch {
    return undefined;
  }
  if (!event || event.stage !== 'ResponseComplete') return undefined;
  const ref = obj(event.objectRef) ?? {};
  const status = obj(event.responseStatus) ?? {};
  const response = obj(event.responseObject);
  const request = obj(event.requestObject);
  const code = typeof status.code === 'number' ? status.code : 0;
  const rvText = str(obj(response?.metadata)?.resourceVersion);
  const rv = code >= 200 && code < 300 && /^\d+$/.test(rvText) ? Number(rvText) : undefined;
  const resource = str(ref.resource);
  const holderValue = obj(response?.spec)?.holderIdentity;
  const holder = resource === 'leases' && response ? (typeof holderValue === 'string' ? holderValue : '') : undefined;
  const labels = obj(obj(request?.metadata)?.labels);
  let watcherLabel: string | null | undefined;
  if (resource === 'pods' && labels && WATCHER_LABEL in labels) {
    const v = labels[WATCHER_LABEL];
    watcherLabel = typeof v === 'string' ? v : null;
  }
  return {
    line,
    user: str(obj(event.user)?.username),
    verb: str(event.verb),
    resource,
    subresource: str(ref.subresource),
    namespace: str(ref.namespace),
    name: str(ref.name),
    code,
    message: str(status.message),
    rv,
    holder,
    watcherLabel,
  };
}

export function parseAuditLog(text: string): AuditRecord[] {
  const out: AuditRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const r = parseAuditLine(lines[i]!, i + 1);
    if (r) out.push(r);
  }
  return out;
}

/**
 * The audit policy of the soak: the writes of the controllers (pods, Leases, Events) with their
 * request and response (the label a patch sets, the holder a Lease names, the resourceVersion of
 * each), every write to the Leases of the system namespace, and every pod creation in the soak's
 * namespace (its answer: admitted, or refused and why). Nothing else.
 */
export function auditPolicy(
  systemNamespace: string,
  workloadNamespace: string,
  controllerUsers: readonly string[],
): string {
  return JSON.stringify({
    apiVersion: 'audit.k8s.io/v1',
    kind: 'Policy',
    omitStages: ['RequestReceived', 'ResponseStarted'],
    rules: [
      {
        level: 'RequestResponse',
        verbs: ['create', 'update', 'patch', 'delete'],
        resources: [{ group: 'coordination.k8s.io', resources: ['leases'] }],
        namespaces: [systemNamespace],
      },
      {
        level: 'RequestResponse',
        users: [...controllerUsers],
        verbs: ['create', 'update', 'patch', 'delete'],
        resources: [{ group: '', resources: ['pods', 'events'] }],
      },
      {
        level: 'Metadata',
        verbs: ['create'],
        resources: [{ group: '', resources: ['pods'] }],
        namespaces: [workloadNamespace],
      },
      { level: 'None' },
    ],
  });
}
