/**
 * `npm run bench:controller-memory`: what the controller holds per agent pod and what an election
 * costs, in process, at the sizes of a serverless cluster (the first step of the scale benchmark:
 * no API server, so it isolates the controller's own data structures from the transport).
 *
 * A cluster of N agent pods: 95% serverless sidecars (the realistic pod of
 * bench/fixtures/sidecar-pod.review.json: an application container and a watch-disabled
 * deepflow-agent, with its managedFields, labels, owner and status), 5% DaemonSet agents (normal,
 * one per node), one watch-only watcher. Each pod goes through the informer's transform
 * (`trimPod`) into a Map, as the store keeps it. Reported per size: retained heap per pod after a
 * full GC, without and with the election's PodFacts cache; the first election (cache cold), the
 * median of 5 more (warm), and one pod event's election (one pod replaced, as a watch event does).
 *
 *   npm run bench:controller-memory                       # 1k, 10k, 50k, 100k
 *   node --expose-gc --experimental-strip-types bench/controller_memory.ts --sizes 1000,10000
 */
import { readFileSync } from 'node:fs';
import { defaultConfig } from '../src/config/config.ts';
import { trimNode, trimPod } from '../src/controller/trim_pod.ts';
import type { Node, Pod } from '../src/kube/objects.ts';
import type { PodFactsCache } from '../src/watcher_election/candidates.ts';
import { elect } from '../src/watcher_election/elect.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('run with node --expose-gc (npm run bench:controller-memory does)\n');
  process.exit(1);
}

const arg = process.argv.indexOf('--sizes');
const sizes = (arg > 0 ? process.argv[arg + 1]! : (process.env.BENCH_SIZES ?? '1000,10000,50000,100000'))
  .split(',')
  .map(Number);

const fixture = JSON.parse(readFileSync(new URL('./fixtures/sidecar-pod.review.json', import.meta.url), 'utf8')) as {
  request: { object: Pod };
};
const template = JSON.stringify(fixture.request.object);
const config = defaultConfig();
const transform = trimPod(config);

function heapAfterGc(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

/** A pod as the API server would send it: the fixture with its own name, uid, node, status and policy. */
function podJson(i: number, nodes: number, policy: string): Pod {
  const pod = JSON.parse(template) as Pod & { status: Record<string, unknown> };
  pod.metadata = { ...pod.metadata, name: `pod-${i}`, namespace: `ns-${i % 50}`, uid: `uid-${i}` };
  pod.spec = { ...pod.spec, nodeName: `node-${i % nodes}` };
  for (const c of pod.spec.containers ?? [])
    if (c.name === 'deepflow-agent') c.env = [{ name: 'K8S_WATCH_POLICY', value: policy }, ...(c.env ?? [])];
  pod.status = {
    ...pod.status,
    phase: 'Running',
    conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({
      type,
      status: 'True',
      lastTransitionTime: '2026-12-06T10:00:00Z',
    })),
  };
  return pod;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

interface Row {
  pods: number;
  bytesPerPod: number;
  /** With the election's PodFacts cache filled, as in a running controller. */
  bytesPerPodWithFacts: number;
  storeMB: number;
  firstElectionMs: number;
  electionMs: number;
  eventElectionMs: number;
}

function measure(n: number): Row {
  const nodeCount = Math.max(1, Math.round(n * 0.05));
  const nodes = Array.from(
    { length: nodeCount },
    (_, i) =>
      trimNode({
        metadata: { name: `node-${i}`, labels: {} },
        status: { conditions: [{ type: 'Ready', status: 'True' }] },
      }) as Node,
  );
  const before = heapAfterGc();
  const store = new Map<string, Pod>();
  for (let i = 0; i < n; i++) {
    const policy = i === 0 ? 'watch-only' : i % 20 === 0 ? '' : 'watch-disabled';
    const pod = transform(podJson(i, nodeCount, policy));
    store.set(`${pod.metadata?.namespace}/${pod.metadata?.name}`, pod);
  }
  const after = heapAfterGc();
  const cache: PodFactsCache = new WeakMap();
  let t = process.hrtime.bigint();
  elect([...store.values()], nodes, undefined, config, cache);
  const firstElectionMs = ms(t);
  const withFacts = heapAfterGc();
  const warm: number[] = [];
  for (let r = 0; r < 5; r++) {
    t = process.hrtime.bigint();
    elect([...store.values()], nodes, undefined, config, cache);
    warm.push(ms(t));
  }
  const events: number[] = [];
  for (let r = 0; r < 5; r++) {
    const i = 1 + r;
    const pod = transform(podJson(i, nodeCount, 'watch-disabled'));
    t = process.hrtime.bigint();
    store.set(`${pod.metadata?.namespace}/${pod.metadata?.name}`, pod);
    elect([...store.values()], nodes, undefined, config, cache);
    events.push(ms(t));
  }
  const retained = after - before;
  store.clear();
  return {
    pods: n,
    bytesPerPod: Math.round(retained / n),
    bytesPerPodWithFacts: Math.round((withFacts - before) / n),
    storeMB: (withFacts - before) / 1e6,
    firstElectionMs,
    electionMs: median(warm),
    eventElectionMs: median(events),
  };
}

const rows = sizes.map((n) => {
  const row = measure(n);
  process.stderr.write(`[controller-memory] ${n} agent pods done\n`);
  return row;
});
const lines = [
  '| agent pods | heap per pod (store) | with PodFacts | heap in all | first election | election (warm) | one pod event |',
  '|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.pods.toLocaleString('en-US')} | ${r.bytesPerPod} B | ${r.bytesPerPodWithFacts} B | ${r.storeMB.toFixed(1)} MB | ${r.firstElectionMs.toFixed(0)} ms | ${r.electionMs.toFixed(1)} ms | ${r.eventElectionMs.toFixed(1)} ms |`,
  ),
];
process.stdout.write(`${lines.join('\n')}\n`);
process.stdout.write(`${JSON.stringify({ node: process.version, rows })}\n`);
