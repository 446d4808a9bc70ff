/**
 * The real node on a host that never ran one: `npm run e2e:node` runs this first, in a network
 * namespace made for it (`kwp-fresh-host`), where no iptables table exists yet, as on a machine
 * that never ran a kubelet. In it: `up --node`, a pod running on the node (its sandbox, CNI
 * bridge and kube-proxy's rules), `down`, twice, and after each `down` the namespace's
 * iptables-save and ip6tables-save must be exactly what they were (empty), its links and routes as
 * they were, and nothing of the node left. Last, a plain `up` of the same cluster must bring up no
 * node and hold no Node of the earlier one (the suites that follow count the Nodes).
 *
 *   nsenter --net=/run/netns/kwp-fresh-host -- node test/node/fresh_host.ts   (what e2e:node runs)
 *
 * Its cluster lives in .cluster/fresh-host; the binaries and the pause image come from the caches
 * the outer run filled (the namespace has no route to any registry).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
process.env.K8S_WATCH_POLICY_CLUSTER_DIR = join(ROOT, '.cluster', 'fresh-host');

const { down, kubectl, readState, up } = await import('../cluster/cluster.ts');
const { iptablesSave, recordHost, iptablesRulesText: rules } = await import('../cluster/node/host.ts');
const { leftAfterDown } = await import('../cluster/node/real_node.ts');
const { PAUSE_IMAGE, REAL_NODE_NAME, REAL_NODE_TAINT } = await import('../cluster/node/config.ts');

const ROUNDS = 2;
const step = (what: string) => process.stderr.write(`[fresh-host] ${what}\n`);

function pausePod(name: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      nodeName: REAL_NODE_NAME,
      tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Exists', effect: REAL_NODE_TAINT.effect }],
      containers: [{ name: 'pause', image: PAUSE_IMAGE, imagePullPolicy: 'Never' }],
      terminationGracePeriodSeconds: 0,
    },
  });
}

async function round(n: number): Promise<string[]> {
  const before = recordHost();
  step(`round ${n}: up --node`);
  const state = await up({ node: true });
  const pod = `fresh-host-${n}`;
  const created = kubectl(state.bin, ['apply', '-f', '-'], pausePod(pod));
  if (created.status !== 0) throw new Error(`cannot create the pod ${pod}: ${created.stderr.trim()}`);
  const running = kubectl(state.bin, [
    'wait',
    '--for=jsonpath={.status.phase}=Running',
    `pod/${pod}`,
    '-n',
    'default',
    '--timeout=90s',
  ]);
  if (running.status !== 0) throw new Error(`the pod ${pod} did not run on the real node: ${running.stderr.trim()}`);
  const ip = kubectl(state.bin, ['get', `pod/${pod}`, '-n', 'default', '-o', 'jsonpath={.status.podIP}']).stdout.trim();
  step(`round ${n}: pod ${pod} Running on ${REAL_NODE_NAME} at ${ip}; down`);
  kubectl(state.bin, ['delete', `pod/${pod}`, '-n', 'default', '--grace-period=0', '--force', '--wait=false']);
  await down();
  return leftAfterDown(before);
}

async function main(): Promise<number> {
  const tables = rules(iptablesSave('iptables')) + rules(iptablesSave('ip6tables'));
  if (tables !== '') {
    step(`this namespace is not a fresh host: it has iptables tables already:\n${tables}`);
    return 1;
  }
  let status = 0;
  try {
    for (let n = 1; n <= ROUNDS; n++) {
      const left = await round(n);
      if (left.length > 0) {
        step(`round ${n}: down left the fresh host changed:\n  ${left.join('\n  ')}`);
        status = 1;
      } else
        step(
          `round ${n}: iptables-save and ip6tables-save exactly as before (no table), links, routes, sysctls, directories as before`,
        );
    }
    const state = await up();
    const nodes = kubectl(state.bin, ['get', 'nodes', '-o', 'name']).stdout.split('\n').filter(Boolean);
    if (state.node || nodes.includes(`node/${REAL_NODE_NAME}`)) {
      step(
        `up after down: the real node is back (${state.node ? 'started again' : `its Node is still there: ${nodes.join(', ')}`})`,
      );
      status = 1;
    } else step(`up after down: no real node, Nodes ${nodes.join(', ')}`);
  } finally {
    if (readState()) await down();
  }
  return status;
}

if (process.getuid?.() === 0 && existsSync('/proc/self/ns/net')) {
  main().then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`fresh-host: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
} else {
  process.stderr.write('fresh-host: run as root in a new network namespace (npm run e2e:node does)\n');
  process.exitCode = 1;
}
