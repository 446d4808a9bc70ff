/**
 * `npm run bench:controller-memory`: what the controller holds per agent pod and what an election
 * costs, in process, at the sizes of a serverless cluster (the first step of the scale benchmark:
 * no API server, so it isolates the controller's own data structures from the transport).
 *
 * A cluster of N agent pods: 95% serverless sidecars (the realistic pod of
 * bench/fixtures/sidecar-pod.review.json: an application container and a watch-disabled
 * deepflow-agent, with its managedFields, labels, owner and status), 5% DaemonSet agents (normal,
 * one per node), one watch-only watcher. Each pod goes through the informer's transform
 * (`agentPodRecord`) into a Map, as the store keeps it, and into the AgentPodIndex, as the
 * controller's handlers file it. Reported per size: retained heap per pod after a full GC (store
 * and index); the first election, the median of 5 more, and one pod event (a pod replaced, filed,
 * and the election and tally that follow it).
 *
 *   npm run bench:controller-memory                       # 1k, 10k, 50k, 100k
 *   node --expose-gc --experimental-strip-types bench/controller_memory.ts --sizes 1000,10000
 */
import { readFileSync } from 'node:fs';
import { defaultConfig } from '../src/config/config.ts';
import { agentPodRecord } from '../src/controller/agent_pod_record.ts';
import type { Pod } from '../src/kube/objects.ts';
import { AgentPodIndex } from '../src/watcher_election/agent_pod_index.ts';
import type { PodFacts } from '../src/watcher_election/candidates.ts';

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
const transform = agentPodRecord(config);

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
  /** The store's records and the index's entries, after a full GC. */
  bytesPerPod: number;
  heapMB: number;
  firstElectionMs: number;
  electionMs: number;
  eventMs: number;
}

function timed(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return ms(t);
}

function measure(n: number): Row {
  const nodeCount = Math.max(1, Math.round(n * 0.05));
  const before = heapAfterGc();
  const store = new Map<string, PodFacts | null>();
  const index = new AgentPodIndex();
  for (let i = 0; i < n; i++) {
    const policy = i === 0 ? 'watch-only' : i % 20 === 0 ? '' : 'watch-disabled';
    const record = transform(podJson(i, nodeCount, policy));
    store.set(`ns-${i % 50}/pod-${i}`, record);
    index.update(undefined, record);
  }
  const after = heapAfterGc();
  const electAndTally = () => index.tally(index.elect(undefined));
  const firstElectionMs = timed(electAndTally);
  const warm = Array.from({ length: 5 }, () => timed(electAndTally));
  const events = Array.from({ length: 5 }, (_, r) => {
    const i = 1 + r;
    const key = `ns-${i % 50}/pod-${i}`;
    const record = transform(podJson(i, nodeCount, 'watch-disabled'));
    return timed(() => {
      index.update(store.get(key), record);
      store.set(key, record);
      electAndTally();
    });
  });
  store.clear();
  return {
    pods: n,
    bytesPerPod: Math.round((after - before) / n),
    heapMB: (after - before) / 1e6,
    firstElectionMs,
    electionMs: median(warm),
    eventMs: median(events),
  };
}

const rows = sizes.map((n) => {
  const row = measure(n);
  process.stderr.write(`[controller-memory] ${n} agent pods done\n`);
  return row;
});
const lines = [
  '| agent pods | heap per pod | heap in all | first election | election | one pod event |',
  '|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.pods.toLocaleString('en-US')} | ${r.bytesPerPod} B | ${r.heapMB.toFixed(1)} MB | ${r.firstElectionMs.toFixed(1)} ms | ${r.electionMs.toFixed(2)} ms | ${r.eventMs.toFixed(2)} ms |`,
  ),
];
process.stdout.write(`${lines.join('\n')}\n`);
process.stdout.write(`${JSON.stringify({ node: process.version, rows })}\n`);
