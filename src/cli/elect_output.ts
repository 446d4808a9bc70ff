/** The two output formats of `k8s-watch-policy elect` (DESIGN §7). */
import { ASSIGNMENT_NOTE, type Election } from '../watcher_election/elect.ts';

export function electionJson(election: Election): string {
  return JSON.stringify(election, null, 2) + '\n';
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') +
    '\n'
  );
}

export function electionText(election: Election): string {
  const w = election.watcher;
  const head = w
    ? `watcher: ${w.namespace}/${w.name} (policy ${w.policy}, node ${w.node || '<none>'}, reason ${election.reason})\n`
    : `watcher: none (reason ${election.reason}): no eligible agent pod\n`;
  const note = `\nnote: ${ASSIGNMENT_NOTE}\n`;
  if (election.candidates.length === 0) return head + 'candidates: none\n' + note;
  const rows = [['NAMESPACE', 'NAME', 'NODE', 'POLICY', 'ELIGIBLE', 'REASON']];
  for (const c of election.candidates)
    rows.push([c.namespace, c.name, c.node || '<none>', c.policy, String(c.eligible), c.reason]);
  return head + '\n' + table(rows) + note;
}
