/**
 * Values that come from a request but end up where their size or number must stay bounded: metric
 * labels (each distinct value is a time series kept forever) and log lines.
 */

/** The resources the webhook configurations send (DESIGN §2); anything else is `other`. */
const RESOURCES = new Set([
  'pods',
  'deployments',
  'daemonsets',
  'statefulsets',
  'replicasets',
  'replicationcontrollers',
  'jobs',
  'cronjobs',
  'podtemplates',
]);
const OPERATIONS = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

export function resourceLabel(resource: string): string {
  return RESOURCES.has(resource) ? resource : 'other';
}

export function operationLabel(operation: string): string {
  return OPERATIONS.has(operation) ? operation : 'other';
}

/** A request field for a log line: at most `max` characters, longer ones cut with a marker saying how long they were. */
export function clip(value: unknown, max = 256): string | undefined {
  if (value === undefined || value === null) return undefined;
  // Request fields are parsed JSON: JSON's text of anything that is not a string.
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? typeof value);
  if (text.length <= max) return text;
  return `${text.slice(0, max)}...(${text.length} chars)`;
}
