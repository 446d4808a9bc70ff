/**
 * The scale benchmark's report: the markdown table (stdout and docs/bench/scale.md), the plot
 * docs/bench/scale.svg (hand-written SVG, no dependency), and the rewrite of the doc's results
 * section between its markers (the prose around it stays as written).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { CliFigures, ControllerFigures, WebhookFigures } from './measure.ts';
import type { Growth } from './populate.ts';

export interface SizeResult {
  agents: number;
  nodes: number;
  sidecars: number;
  daemonset: number;
  /** Agent pods Running on the API server when the size was measured (the watcher included). */
  running: number;
  growth: Growth;
  controller: ControllerFigures;
  cli: CliFigures[];
  /** VmRSS of the control plane's processes after the size was measured, MB. */
  clusterRssMb: Record<string, number | undefined>;
  timing: { growS: number; measureS: number; webhookS: number; totalS: number };
}

export interface RunInfo {
  date: string;
  node: string;
  cpus: number;
  kubernetes: string | undefined;
  command: string;
  totalS: number;
  results: SizeResult[];
  webhook: WebhookFigures | undefined;
}

const n0 = (n: number | undefined) =>
  n === undefined || !Number.isFinite(n) ? '-' : Math.round(n).toLocaleString('en-US');
const f = (n: number | undefined, d = 1) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(d));
const s = (ms: number | undefined, d = 1) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(d)} s`);

function cliCell(c: CliFigures | undefined): string {
  if (!c) return '-';
  return `${c.wallS.toFixed(1)} s, ${f(c.peakRssMb, 0)} MB${c.ok ? '' : ` (exit ${c.code ?? c.signal}${c.timedOut ? ', timed out' : ''})`}`;
}

/** The results table (markdown), one row per size. */
export function markdownTable(info: RunInfo): string {
  const rows = [
    '| agent pods | nodes | set-up: pods created | first sync (/readyz) | first Lease | controller RSS peak / steady | CPU per pod event | election mean (count) | failover p50 / p99 (n) | `status` | `audit -A` | kube-apiserver / etcd RSS | time at this size |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of info.results) {
    const c = r.controller;
    const fo = c.failover;
    const g = r.growth;
    rows.push(
      `| ${n0(r.agents)} | ${n0(r.nodes)} | ${n0(g.createdPods + g.patchedPods)} in ${f(g.podsS, 0)} s (${f(g.podRate, 0)}/s) | ` +
        `${s(c.readyMs, 2)} | ${s(c.leaseMs, 2)} | ${f(c.peakMb, 0)} / ${f(c.rssSteadyMb, 0)} MB | ` +
        `${c.events ? `${f(c.events.usPerEvent, 0)} µs` : '-'} | ${f(c.electionMeanMs, 1)} ms (${n0(c.elections)}) | ` +
        `${fo ? `${f(fo.p50, 0)} / ${f(fo.p99, 0)} ms (${fo.n}${fo.bad ? `, ${fo.bad} bad` : ''})` : '-'} | ` +
        `${cliCell(r.cli.find((x) => x.command === 'status'))} | ${cliCell(r.cli.find((x) => x.command === 'audit -A'))} | ` +
        `${f(r.clusterRssMb['kube-apiserver'], 0)} / ${f(r.clusterRssMb.etcd, 0)} MB | ${f(r.timing.totalS / 60, 1)} min |`,
    );
  }
  return rows.join('\n');
}

export function webhookLine(w: WebhookFigures | undefined): string | undefined {
  if (!w) return undefined;
  return (
    `Webhook node cache at ${n0(w.on.syncedNodes ?? w.nodes)} nodes: RSS ${f(w.on.rssMb)} MB with it (synced, /readyz after ${s(w.on.readyMs, 2)}), ` +
    `${f(w.off.rssMb)} MB without (\`--no-node-cache\`): **${f(w.costMb)} MB** for the cache (the chart's heap settings).`
  );
}

export function timingLine(info: RunInfo): string {
  return (
    'Run time per size (set-up / measurements' +
    (info.results.some((r) => r.timing.webhookS > 0) ? ' / webhook' : '') +
    '): ' +
    info.results
      .map(
        (r) =>
          `${n0(r.agents)}: ${f(r.timing.growS / 60, 1)} / ${f(r.timing.measureS / 60, 1)}${r.timing.webhookS > 0 ? ` / ${f(r.timing.webhookS / 60, 1)}` : ''} min`,
      )
      .join('; ') +
    `; ${f(info.totalS / 60, 1)} min in all.`
  );
}

// ---------------------------------------------------------------------------------------------
// The plot

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function sizeLabel(n: number): string {
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000}k`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)}k`;
  return String(n);
}

/** Round tick values from 0 to at least `max`, about five of them. */
function ticks(max: number): number[] {
  const top = max > 0 ? max : 1;
  const raw = top / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => top / st <= 6)!;
  const out: number[] = [];
  for (let v = 0; v <= top + step * 0.999; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

interface Series {
  name: string;
  color: string;
  dash?: string;
  values: (number | undefined)[];
}

function panel(
  x: number,
  y: number,
  w: number,
  h: number,
  sizes: number[],
  series: Series[],
  title: string,
  unit: string,
): string {
  const lo = Math.log10(Math.min(...sizes) / 1.5);
  const hi = Math.log10(Math.max(...sizes) * 1.5);
  const px = (n: number) => x + ((Math.log10(n) - lo) / (hi - lo || 1)) * w;
  const max = Math.max(
    0,
    ...series.flatMap((se) => se.values.filter((v): v is number => v !== undefined && Number.isFinite(v))),
  );
  const ys = ticks(max * 1.08); // room above the highest point for its value
  const top = ys.at(-1)!;
  const py = (v: number) => y + h - (v / top) * h;
  const out: string[] = [];
  out.push(`<text x="${x}" y="${y - 30}" class="title">${esc(title)}</text>`);
  for (const v of ys) {
    out.push(`<line x1="${x}" x2="${x + w}" y1="${py(v).toFixed(1)}" y2="${py(v).toFixed(1)}" class="grid"/>`);
    out.push(`<text x="${x - 8}" y="${(py(v) + 4).toFixed(1)}" class="ytick">${v}</text>`);
  }
  out.push(
    `<text x="${x - 44}" y="${y + h / 2}" class="axis" transform="rotate(-90 ${x - 44} ${y + h / 2})">${esc(unit)}</text>`,
  );
  out.push(`<line x1="${x}" x2="${x + w}" y1="${y + h}" y2="${y + h}" class="axisline"/>`);
  for (const n of sizes) {
    out.push(
      `<line x1="${px(n).toFixed(1)}" x2="${px(n).toFixed(1)}" y1="${y + h}" y2="${y + h + 5}" class="axisline"/>`,
    );
    out.push(`<text x="${px(n).toFixed(1)}" y="${y + h + 19}" class="xtick">${sizeLabel(n)}</text>`);
  }
  series.forEach((se, k) => {
    const pts = sizes
      .map((n, i) => [n, se.values[i]] as const)
      .filter((p): p is readonly [number, number] => p[1] !== undefined && Number.isFinite(p[1]));
    if (pts.length > 1)
      out.push(
        `<polyline points="${pts.map(([n, v]) => `${px(n).toFixed(1)},${py(v).toFixed(1)}`).join(' ')}" fill="none" stroke="${se.color}" stroke-width="2"${se.dash ? ` stroke-dasharray="${se.dash}"` : ''}/>`,
      );
    for (const [n, v] of pts) {
      out.push(`<circle cx="${px(n).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3.5" fill="${se.color}"/>`);
      // The first series' values above their points, the second's below.
      const dy = k === 0 ? -7 : 16;
      out.push(
        `<text x="${(px(n) + 6).toFixed(1)}" y="${(py(v) + dy).toFixed(1)}" class="value" fill="${se.color}">${v >= 100 ? v.toFixed(0) : v.toFixed(1)}</text>`,
      );
    }
    // The legend: one row between the title and the plot.
    const lx = x + k * 260;
    const ly = y - 12;
    out.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${se.color}" stroke-width="2"${se.dash ? ` stroke-dasharray="${se.dash}"` : ''}/>`,
    );
    out.push(`<text x="${lx + 28}" y="${ly + 4}" class="legend">${esc(se.name)}</text>`);
  });
  return out.join('\n  ');
}

/** Two panels over the agent pods (log scale): controller RSS (peak, steady) and first sync time. */
export function svg(info: RunInfo): string {
  const sizes = info.results.map((r) => r.agents);
  const W = 760;
  const H = 600;
  const left = 80;
  const pw = W - left - 40;
  const ph = 170;
  const rss = panel(
    left,
    70,
    pw,
    ph,
    sizes,
    [
      { name: 'peak (VmHWM)', color: '#c0392b', values: info.results.map((r) => r.controller.peakMb) },
      {
        name: 'steady (after the steady state)',
        color: '#2471a3',
        dash: '6 4',
        values: info.results.map((r) => r.controller.rssSteadyMb),
      },
    ],
    'Controller RSS (chart heap settings)',
    'MB',
  );
  const sync = panel(
    left,
    70 + ph + 115,
    pw,
    ph,
    sizes,
    [
      {
        name: 'first sync (/readyz 200)',
        color: '#1e8449',
        values: info.results.map((r) => seconds(r.controller.readyMs)),
      },
      {
        name: 'first Lease',
        color: '#7d3c98',
        dash: '6 4',
        values: info.results.map((r) => seconds(r.controller.leaseMs)),
      },
    ],
    'Controller start-up, from spawn',
    'seconds',
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">
  <style>
    .title { font-size: 14px; font-weight: bold; }
    .grid { stroke: #e5e5e5; }
    .axisline { stroke: #555; }
    .ytick { text-anchor: end; fill: #444; }
    .xtick { text-anchor: middle; fill: #444; }
    .axis { text-anchor: middle; fill: #444; }
    .legend { fill: #222; }
    .value { font-size: 11px; }
  </style>
  <rect width="100%" height="100%" fill="#fff"/>
  ${rss}
  ${sync}
  <text x="${left + pw / 2}" y="${H - 12}" class="axis">agent pods (log scale; 95% watch-disabled sidecars, 5% DaemonSet agents) - ${esc(info.date.slice(0, 10))}, Node ${esc(info.node)}, ${info.cpus} cores</text>
</svg>
`;
}

// ---------------------------------------------------------------------------------------------
// The doc

export const BEGIN = '<!-- bench:scale results begin (written by `node bench/scale.ts --write-docs`) -->';
export const END = '<!-- bench:scale results end -->';

/** The doc's results section: the dated heading, the command, the table, the webhook, the times, the plot. */
export function docSection(info: RunInfo): string {
  const major = info.node.replace(/^v/, '').split('.')[0];
  return [
    BEGIN,
    '',
    `## ${info.date.slice(0, 10)}, Node ${major}, ${info.cpus} cores`,
    '',
    `\`${info.command}\` on the local control plane (Kubernetes ${info.kubernetes ?? '?'}, test/cluster), ${f(info.totalS / 60, 1)} min.`,
    '',
    markdownTable(info),
    '',
    ...(info.webhook ? [webhookLine(info.webhook)!, ''] : []),
    timingLine(info),
    '',
    '![Controller RSS and first sync time against agent pods](scale.svg)',
    '',
    END,
  ].join('\n');
}

/** Replaces the results section of `docPath` (between the markers) and writes the plot. */
export function writeDocs(docPath: string, svgPath: string, info: RunInfo): void {
  const doc = readFileSync(docPath, 'utf8');
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${docPath}: no results markers (${BEGIN} ... ${END})`);
  writeFileSync(docPath, doc.slice(0, a) + docSection(info) + doc.slice(b + END.length));
  writeFileSync(svgPath, svg(info));
}
