/** The reports as text (aligned tables, coloured on a terminal), JSON or YAML. */
import { stringify } from 'yaml';
import type { AuditReport } from './audit_report.ts';
import type { CheckReport } from './check_report.ts';
import type { StatusReport } from './status_report.ts';

export type OutputFormat = 'text' | 'json' | 'yaml';

type Paint = (text: string, style: 'bold' | 'red' | 'yellow' | 'green' | 'dim') => string;
const CODES = { bold: 1, red: 31, yellow: 33, green: 32, dim: 2 } as const;

/** ANSI colours when `color`, else the text as it is. */
export function painter(color: boolean): Paint {
  return color ? (text, style) => `\u001b[${CODES[style]}m${text}\u001b[0m` : (text) => text;
}

/** An aligned table; `paint` colours a cell after its width is measured. */
function table(
  rows: string[][],
  style?: (row: number, col: number, cell: string) => Parameters<Paint>[1] | undefined,
  paint: Paint = (t) => t,
): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r, ri) =>
        r
          .map((cell, ci) => {
            const padded = ci === r.length - 1 ? cell : cell.padEnd(widths[ci]!);
            const s = ri === 0 ? 'bold' : style?.(ri, ci, cell);
            return s ? paint(padded, s) : padded;
          })
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function formatReport(report: StatusReport | AuditReport | CheckReport, format: 'json' | 'yaml'): string {
  return format === 'json' ? JSON.stringify(report, null, 2) + '\n' : stringify(report, { lineWidth: 0 });
}

export function statusText(r: StatusReport, color: boolean): string {
  const paint = painter(color);
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
  out.push('');
  if (r.agents.length === 0) out.push('agents: none');
  else {
    const rows = [['NAMESPACE', 'NAME', 'NODE', 'POLICY', 'ELIGIBLE', 'REASON']];
    for (const c of r.agents)
      rows.push([c.namespace, c.name, c.node || '<none>', c.policy, String(c.eligible), c.reason]);
    out.push(
      table(
        rows,
        (_r, col, cell) =>
          col === 5
            ? cell === 'elected'
              ? 'green'
              : ['standby', 'lower-tier'].includes(cell)
                ? undefined
                : 'dim'
            : undefined,
        paint,
      ).trimEnd(),
    );
  }
  out.push('');
  if (r.warnings.length === 0) out.push(paint('no warnings', 'green'));
  for (const x of r.warnings)
    out.push(`${paint(`warning (${x.kind}):`, x.kind === 'no-watcher' ? 'red' : 'yellow')} ${x.message}`);
  out.push('', paint(`note: ${r.note}`, 'dim'));
  return out.join('\n') + '\n';
}

export function auditText(r: AuditReport, color: boolean): string {
  const paint = painter(color);
  const out = [
    `${paint('config:', 'bold')} ${r.config}${r.namespace ? `; namespace ${r.namespace}` : '; all namespaces'}`,
    '',
  ];
  if (r.rows.length === 0) out.push('no agent pods or pod controllers of agents');
  else {
    const rows = [['NAMESPACE', 'KIND', 'NAME', 'K8S_WATCH_POLICY', 'POLICY', 'WOULD BE', 'RULE', 'DRIFT']];
    for (const x of r.rows)
      rows.push([x.namespace, x.kind, x.name, x.value, x.policy, x.wouldBe, x.rule, x.drift.join(',') || '-']);
    out.push(
      table(rows, (_r, col, cell) => (col === 7 ? (cell === '-' ? 'green' : 'yellow') : undefined), paint).trimEnd(),
    );
  }
  out.push('');
  const drifting = r.rows.filter((x) => x.drift.length > 0).length;
  out.push(drifting === 0 ? paint('no drift', 'green') : paint(`${drifting} with drift; to do:`, 'yellow'));
  for (const a of r.actions) out.push(`  ${a}`);
  return out.join('\n') + '\n';
}

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
