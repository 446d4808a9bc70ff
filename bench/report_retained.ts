/**
 * What `status` and `audit` keep per agent pod, in process (bench/report_scale.ts runs this with
 * --expose-gc): the pods of the benchmark's cluster parsed a page at a time and reduced as the
 * CLI reduces them, the heap retained after a full GC divided by the pods. `before`: what the
 * reports kept until 2026-12 (every agent pod whole but its managedFields), on fewer pods.
 *
 *   node --expose-gc bench/report_retained.ts [pods]        # one JSON line
 */
import { defaultConfig } from '../src/config/config.ts';
import type { KubeObject } from '../src/kube/objects.ts';
import { auditContext, podRow } from '../src/report/audit_report.ts';
import { electionPod } from '../src/report/report_pods.ts';
import { agentCluster } from '../test/support/agent_cluster.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('run with node --expose-gc\n');
  process.exit(1);
}

const PAGE = 500;
const config = defaultConfig();

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

/** Bytes retained per pod when `reduce` keeps what it returns of each pod, page by page. */
function perPod(pods: number, reduce: (pod: KubeObject) => unknown): number {
  const cluster = agentCluster({ pods });
  const kept: unknown[] = [];
  const start = heap();
  for (let from = 0; from < pods; from += PAGE) {
    const texts: string[] = [];
    for (let i = from; i < Math.min(pods, from + PAGE); i++) texts.push(cluster.pod(i));
    for (const item of (JSON.parse(`{"items":[${texts.join(',')}]}`) as { items: KubeObject[] }).items) {
      const r = reduce(item);
      if (r !== undefined) kept.push(r);
    }
  }
  const bytes = heap() - start;
  if (kept.length !== pods) throw new Error(`kept ${kept.length} of ${pods} pods`);
  return Math.round(bytes / pods);
}

const pods = Number(process.argv[2] ?? 20_000);
const nodes = agentCluster({ pods }).objects('/api/v1/nodes');
const context = auditContext({ config, nodes });
const withoutManagedFields = (o: KubeObject) => {
  const { managedFields: _, ...metadata } = o.metadata ?? {};
  return { ...o, metadata };
};
const result = {
  pods,
  bytesPerPod: {
    before: perPod(Math.min(pods, 2_000), withoutManagedFields),
    status: perPod(pods, electionPod(config)),
    audit: perPod(pods, (o) => podRow(o, context)),
  },
};
process.stdout.write(`${JSON.stringify(result)}\n`);
