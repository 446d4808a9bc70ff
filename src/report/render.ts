/** The reports as text (aligned tables, coloured on a terminal), JSON or YAML. */
import { stringify } from 'yaml';
import type { AuditReport } from './audit_report.ts';
import type { CheckReport } from './check_report.ts';
import type { StatusReport } from './status_report.ts';
import { jsonChunks, yamlChunks } from './stream_format.ts';

export type OutputFormat = 'text' | 'json' | 'yaml';

type Paint = (text: string, style: 'bold' | 'red' | 'yellow' | 'green' | 'dim') => string;
const CODES = { bold: 1, red: 31, yellow: 33, green: 32, dim: 2 } as const;

/** ANSI colours when `color`, else the text as it is. */
export function painter(color: boolean): Paint {
  return color ? (text, style) => `\u001b[${CODES[style]}m${text}\u001b[0m` : (text) => text;
}

type CellStyle = (row: number, col: number, cell: string) => Parameters<Paint>[1] | undefined;

/** The widths of a table's columns (as many as the header row has). */
function columnWidths(rows: Iterable<string[]>): number[] {
  let widths: number[] | undefined;
  for (const r of rows) {
    if (!widths) widths = r.map((cell) => cell.length);
    else for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, r[i]!.length);
  }
  return widths ?? [];
}

/**
 * An aligned table, a line at a time (each ending in a newline, none after the last non-empty
 * line); `rows` is called twice (widths, then lines), `paint` colours a cell after its width is measured.
 */
function* table(rows: () => Iterable<string[]>, style?: CellStyle, paint: Paint = (t) => t): Generator<string> {
  const widths = columnWidths(rows());
  let ri = 0;
  let empty = 0; // empty lines held back until a non-empty one follows
  for (const r of rows()) {
    const line = r
      .map((cell, ci) => {
        const padded = ci === r.length - 1 ? cell : cell.padEnd(widths[ci]!);
        const s = ri === 0 ? 'bold' : style?.(ri, ci, cell);
        return s ? paint(padded, s) : padded;
      })
      .join('  ')
      .trimEnd();
    ri++;
    if (line === '') empty++;
    else {
      yield `${'\n'.repeat(empty)}${line}\n`;
      empty = 0;
    }
  }
}

/** A header row, then one row a item. */
function* withHeader<T>(header: string[], items: readonly T[], cells: (item: T) => string[]): Generator<string[]> {
  yield header;
  for (const item of items) yield cells(item);
}

export function formatReport(report: StatusReport | AuditReport | CheckReport, format: 'json' | 'yaml'): string {
  return format === 'json' ? JSON.stringify(report, null, 2) + '\n' : stringify(report, { lineWidth: 0 });
}

/** {@link formatReport} a piece at a time (see stream_format.ts): the same bytes. */
export function formatChunks(
  report: StatusReport | AuditReport | CheckReport,
  format: 'json' | 'yaml',
): Iterable<string> {
  return format === 'json' ? jsonChunks(report) : yamlChunks(report);
}

const lines = (texts: readonly string[]) => texts.map((t) => `${t}\n`).join('');

/** The watcher, controller, webhook and config lines of `status`. */
function statusHead(r: StatusReport, paint: Paint): string[] {
  const out: string[] = [];
  const p = r.published;
  if (p) {
    const since = p.since ? `, since ${p.since}` : '';
    out.push(
      `${paint('watcher:', 'bold')} ${p.holder ? paint(p.holder, 'green') : paint('none', 'red')} (Lease ${p.lease}${p.policy ? `, policy ${p.policy}` : ''}${p.node ? `, node ${p.node}` : ''}${p.reason ? `, ${p.reason}` : ''}${since}, ${p.transitions} transitions)`,
    );
  } else {
    out.push(
      `${paint('watcher:', 'bold')} no watcher Lease found; the rules give ${r.elected ? `${r.elected.namespace}/${r.elected.name}` : 'none'}`,
    );
  }
  const replicas = r.controller.replicas.map((x) => `${x.name}${x.ready ? '' : ' (not ready)'}`).join(', ');
  out.push(
    `${paint('controller:', 'bold')} ${r.controller.namespace ?? '-'}, leader ${r.controller.leader ?? paint('none', 'red')}${replicas ? `, replicas ${replicas}` : ''}`,
  );
  const w = r.webhook;
  const answers = w.answers
    ? w.answers.ok
      ? paint('answers', 'green')
      : paint(`does not answer (${w.answers.detail})`, 'red')
    : 'not checked';
  const endpoints = w.readyEndpoints === undefined ? '' : `, ${w.readyEndpoints} ready endpoints`;
  out.push(
    `${paint('webhook:', 'bold')} ${w.configurations.length > 0 ? `${w.configurations.join(', ')}; ${[...new Set(w.endpoints.map((e) => e.target))].join(', ')}${endpoints}, ${answers}` : paint('not registered', 'red')}`,
  );
  out.push(`${paint('config:', 'bold')} ${r.config}${r.namespace ? `; namespace ${r.namespace}` : ''}`);
  return out;
}

const AGENT_HEADER = ['NAMESPACE', 'NAME', 'NODE', 'POLICY', 'ELIGIBLE', 'REASON'];
const agentCells = (c: StatusReport['agents'][number]) => [
  c.namespace,
  c.name,
  c.node || '<none>',
  c.policy,
  String(c.eligible),
  c.reason,
];
const standingStyle: CellStyle = (_r, col, cell) =>
  col === 5 ? (cell === 'elected' ? 'green' : ['standby', 'lower-tier'].includes(cell) ? undefined : 'dim') : undefined;

/** `status` as text, a piece at a time (the table a line at a time). */
export function* statusTextChunks(r: StatusReport, color: boolean): Generator<string> {
  const paint = painter(color);
  yield lines([...statusHead(r, paint), '']);
  if (r.agents.length === 0) yield 'agents: none\n';
  else yield* table(() => withHeader(AGENT_HEADER, r.agents, agentCells), standingStyle, paint);
  const tail = [''];
  if (r.warnings.length === 0) tail.push(paint('no warnings', 'green'));
  for (const x of r.warnings)
    tail.push(`${paint(`warning (${x.kind}):`, x.kind === 'no-watcher' ? 'red' : 'yellow')} ${x.message}`);
  tail.push('', paint(`note: ${r.note}`, 'dim'));
  yield lines(tail);
}

export const statusText = (r: StatusReport, color: boolean): string => [...statusTextChunks(r, color)].join('');

const ROW_HEADER = ['NAMESPACE', 'KIND', 'NAME', 'K8S_WATCH_POLICY', 'POLICY', 'WOULD BE', 'RULE', 'DRIFT'];
const rowCells = (x: AuditReport['rows'][number]) => [
  x.namespace,
  x.kind,
  x.name,
  x.value,
  x.policy,
  x.wouldBe,
  x.rule,
  x.drift.join(',') || '-',
];
const driftStyle: CellStyle = (_r, col, cell) => (col === 7 ? (cell === '-' ? 'green' : 'yellow') : undefined);

/** `audit` as text, a piece at a time (the table a line at a time). */
export function* auditTextChunks(r: AuditReport, color: boolean): Generator<string> {
  const paint = painter(color);
  yield lines([
    `${paint('config:', 'bold')} ${r.config}${r.namespace ? `; namespace ${r.namespace}` : '; all namespaces'}`,
    '',
  ]);
  if (r.rows.length === 0) yield 'no agent pods or pod controllers of agents\n';
  else yield* table(() => withHeader(ROW_HEADER, r.rows, rowCells), driftStyle, paint);
  const drifting = r.rows.filter((x) => x.drift.length > 0).length;
  const tail = ['', drifting === 0 ? paint('no drift', 'green') : paint(`${drifting} with drift; to do:`, 'yellow')];
  for (const a of r.actions) tail.push(`  ${a}`);
  yield lines(tail);
}

export const auditText = (r: AuditReport, color: boolean): string => [...auditTextChunks(r, color)].join('');

const MARK = {
  ok: ['ok', 'green'],
  warning: ['warn', 'yellow'],
  failure: ['FAIL', 'red'],
  skipped: ['skip', 'dim'],
} as const;

/** One line a finding, its fix indented under it; the verdict last. */
export function checkText(r: CheckReport, color: boolean): string {
  const paint = painter(color);
  const lines = r.findings.flatMap((f) => {
    const [mark, style] = MARK[f.status];
    const head = `${paint(mark.padEnd(4), style)}  ${f.name}: ${f.seen}`;
    return f.fix ? [head, `      fix: ${f.fix}`] : [head];
  });
  const count = (s: string) => r.findings.filter((f) => f.status === s).length;
  const verdict =
    r.exitCode === 0
      ? paint('all checks passed', 'green')
      : `${count('failure')} failure(s), ${count('warning')} warning(s)`;
  return `${lines.join('\n')}\n\n${verdict}\n`;
}
