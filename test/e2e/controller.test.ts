/**
 * The watcher-election controller end to end: two replicas of the built CLI (`controller`),
 * leader-elected, against the local control plane, with agents created as real DaemonSets and
 * Deployments (scheduled by kube-scheduler, run by kwok).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KUBECONFIG } from '../cluster/paths.ts';
import { ControllerProcess } from '../support/processes.ts';
import { apply, CLI, eventually, getJson, kubectl, kubectlOk, sleep } from '../support/cluster_harness.ts';
import { agentContainer, FAKE_AGENT_IMAGE, policyEnv } from '../support/objects.ts';

const RUN = Math.random().toString(36).slice(2, 7);
const SYSTEM = `kwp-system-${RUN}`;
const AGENTS = `kwp-agents-${RUN}`;
const LEASE = 'k8s-watcher';
const IMAGE = FAKE_AGENT_IMAGE;
const dir = mkdtempSync(join(tmpdir(), 'kwp-controller-'));
const configFile = join(dir, 'config.yaml');

/** A controller replica with short leader-election timings (client-go's, scaled down). */
function replica(identity: string): ControllerProcess & { identity: string } {
  const args = [
    '--kubeconfig',
    KUBECONFIG,
    '--config',
    configFile,
    '--namespace',
    SYSTEM,
    '--identity',
    identity,
    '--lease-duration',
    '4s',
    '--renew-deadline',
    '3s',
    '--retry-period',
    '500ms',
    '--drain-delay',
    '0',
  ];
  return Object.assign(new ControllerProcess(args, identity), { identity });
}

const replicas = [replica('controller-a'), replica('controller-b')];

function lease(): any {
  const r = kubectl(['get', 'lease', LEASE, '-n', SYSTEM, '-o', 'json']);
  return r.status === 0 ? JSON.parse(r.stdout) : undefined;
}

function labelled(): string[] {
  return getJson(['get', 'pods', '-n', AGENTS, '-l', 'deepflow.io/k8s-watcher=true']).items.map(
    (p: any) => p.metadata.name,
  );
}

const agent = (policy?: string) => agentContainer(IMAGE, policyEnv(policy));

const daemonSet = (name: string, nodeSelector: Record<string, string> = { type: 'kwok' }) => ({
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: { name, namespace: AGENTS },
  spec: {
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { nodeSelector, containers: [agent()] } },
  },
});

const deployment = (name: string, containers: unknown[], extra: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: AGENTS },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists' }], containers, ...extra },
    },
  },
});

/** Samples the watcher label every 100 ms while `during` runs; returns the largest number of labelled pods seen at once. */
async function maxLabelledDuring(during: () => Promise<void>): Promise<number> {
  let max = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      max = Math.max(max, labelled().length);
      await sleep(100);
    }
  })();
  try {
    await during();
  } finally {
    done = true;
    await sampler;
  }
  return max;
}

const holder = () => lease()?.spec?.holderIdentity ?? null;

beforeAll(async () => {
  writeFileSync(configFile, `election:\n  namespaces: [${AGENTS}]\n  leaseName: ${LEASE}\n`);
  apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SYSTEM } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: AGENTS } },
  ]);
  await eventually('service accounts', () => kubectl(['get', 'sa', 'default', '-n', AGENTS]).status === 0);
  await Promise.all(replicas.map((r) => r.start()));
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  kubectl(['delete', 'namespace', SYSTEM, AGENTS, '--wait=false']);
  rmSync(dir, { recursive: true, force: true });
});

describe('a serverless cluster (scenario 2)', () => {
  test('only watch-disabled sidecars: no watcher, a NoWatcherCandidate Warning and watcher_elected 0', async () => {
    apply([
      deployment('shop', [{ name: 'shop', image: 'nginx:1.27' }, agent('watch-disabled')], {
        nodeSelector: { type: 'virtual-kubelet' },
      }),
    ]);
    await eventually('the Lease with no holder', () => {
      const l = lease();
      return (
        l && l.spec.holderIdentity == null && l.metadata.annotations?.['deepflow.io/election-reason'] === 'no-candidate'
      );
    });
    const events = await eventually('the Warning Event', () => {
      const items = getJson(['get', 'events', '-n', SYSTEM, '--field-selector', 'reason=NoWatcherCandidate']).items;
      return items.length > 0 && items;
    });
    expect(events[0]).toMatchObject({ type: 'Warning', involvedObject: { kind: 'Lease', name: LEASE } });
    expect(events[0].message).toMatch(/no deepflow-agent watches the Kubernetes API/);
    const leader = await eventually('a leader that sees the sidecar', async () => {
      const s = await Promise.all(replicas.map((r) => r.status()));
      return s.find(
        (x) =>
          x.isLeader &&
          x.candidates.length === 1 &&
          x.candidates[0].reason !== 'not-running' &&
          x.candidates[0].reason !== 'not-ready',
      );
    });
    expect(leader.candidates[0]).toMatchObject({
      namespace: AGENTS,
      policy: 'watch-disabled',
      eligible: false,
      reason: 'watch-disabled',
    });
    expect(leader.watcher).toBeNull();
    const leading = replicas.find((r) => r.identity === leader.identity)!;
    const metrics = await leading.metrics();
    expect(metrics).toMatch(/^k8s_watch_policy_watcher_elected 0$/m);
    // The warning is logged once per fall, not at every election (resyncs, pod status changes).
    await eventually('the warning in the log', () => leading.output.includes('no agent pod is eligible'));
    expect(leading.output.split('\n').filter((l) => l.includes('no agent pod is eligible'))).toHaveLength(1);
    expect(metrics).toMatch(/^k8s_watch_policy_candidates\{policy="watch-disabled",eligible="false"\} 1$/m);
    expect(metrics).toMatch(/^k8s_watch_policy_leader 1$/m);
  });

  test('then ordinary nodes with a DaemonSet: the oldest Ready agent becomes the watcher', async () => {
    apply([daemonSet('node-agent')]);
    const elected = await eventually('a watcher', () => holder());
    expect(elected).toMatch(new RegExp(`^${AGENTS}/node-agent-`));
    const pods = getJson(['get', 'pods', '-n', AGENTS, '-l', 'app=node-agent']).items;
    const readySince = (p: any) =>
      Date.parse(p.status.conditions.find((c: any) => c.type === 'Ready').lastTransitionTime);
    const oldest = Math.min(...pods.filter((p: any) => p.status.phase === 'Running').map(readySince));
    const winner = pods.find((p: any) => `${AGENTS}/${p.metadata.name}` === elected);
    expect(readySince(winner)).toBe(oldest);
    await eventually('the label on the watcher only', () => labelled().join() === elected.split('/')[1]);
  });
});

describe('an ordinary cluster (scenario 1)', () => {
  /**
   * What every test of this scenario starts from, whichever ran before it (or none): the DaemonSet
   * of agents and a watcher Deployment, applied as they are (idempotent), and a watcher pod elected
   * and labelled. After a test that took the watcher away, the only-watch pod wins it back (DESIGN
   * §6 rule 3: stickiness holds only within the winning tier).
   */
  async function ordinaryCluster(): Promise<string> {
    apply([
      daemonSet('node-agent'),
      deployment('watcher', [agent('watch-only')], { nodeSelector: { 'kubernetes.io/hostname': 'kwok-node-0' } }),
    ]);
    const elected = await eventually<string>(
      'a watcher pod elected',
      () => (holder()?.startsWith(`${AGENTS}/watcher-`) ? holder() : undefined),
      60_000,
    );
    await eventually('the label on it alone', () => labelled().join() === elected.split('/')[1]);
    return elected;
  }

  test('a watcher Deployment (only-watch) is elected over the DaemonSet agents, also on the same node', async () => {
    const elected = await ordinaryCluster();
    expect(lease().metadata.annotations).toMatchObject({
      'deepflow.io/watcher-policy': 'only-watch',
      'deepflow.io/watcher-node': 'kwok-node-0',
    });
    const events = getJson(['get', 'events', '-n', AGENTS, '--field-selector', 'reason=WatcherElected']).items;
    expect(events.some((e: any) => e.involvedObject.name === elected.split('/')[1])).toBe(true);
  });

  test('kubectl rollout restart of the watcher Deployment: exactly one transition, never two labelled pods', async () => {
    await ordinaryCluster();
    const before = lease();
    const max = await maxLabelledDuring(async () => {
      kubectlOk(['rollout', 'restart', 'deployment/watcher', '-n', AGENTS]);
      kubectlOk(['rollout', 'status', 'deployment/watcher', '-n', AGENTS, '--timeout=90s']);
      await eventually(
        'the new watcher pod elected',
        () => holder() !== before.spec.holderIdentity && holder()?.startsWith(`${AGENTS}/watcher-`),
      );
      await sleep(1500); // let any further (wrong) switch show
    });
    expect(max).toBe(1);
    expect(lease().spec.leaseTransitions).toBe(before.spec.leaseTransitions + 1);
  });

  test('deleting the watcher pod: another candidate is elected within seconds', async () => {
    const old = await ordinaryCluster();
    kubectlOk(['delete', 'pod', old.split('/')[1]!, '-n', AGENTS, '--wait=false']);
    await eventually('a new watcher', () => (holder() && holder() !== old ? holder() : undefined), 20_000);
    // The Lease names its watcher consistently (one read of it): the uid and node are its holder's.
    const record = lease();
    expect(record.spec.holderIdentity).not.toBe(old);
    const pod = getJson(['get', 'pod', record.spec.holderIdentity.split('/')[1], '-n', AGENTS]);
    expect(record.metadata.annotations).toMatchObject({
      'deepflow.io/watcher-uid': pod.metadata.uid,
      'deepflow.io/watcher-node': pod.spec.nodeName,
    });
  });

  test("the watcher's node going NotReady: another candidate on another node is elected within seconds", async () => {
    const watcherPod = (await ordinaryCluster()).split('/')[1]!;
    const node = getJson(['get', 'pod', watcherPod, '-n', AGENTS]).spec.nodeName;
    // Take the node away from kwok (which would report it Ready again), then report it NotReady.
    kubectlOk(['annotate', 'node', node, 'kwok.x-k8s.io/node-']);
    try {
      const conditions = getJson(['get', 'node', node]).status.conditions as any[];
      const i = conditions.findIndex((c) => c.type === 'Ready');
      kubectlOk([
        'patch',
        'node',
        node,
        '--subresource=status',
        '--type=json',
        '-p',
        JSON.stringify([{ op: 'replace', path: `/status/conditions/${i}/status`, value: 'False' }]),
      ]);
      await eventually(
        'a watcher on another node',
        () => {
          const h = holder();
          return (
            h &&
            h !== `${AGENTS}/${watcherPod}` &&
            lease().metadata.annotations['deepflow.io/watcher-node'] !== node &&
            h
          );
        },
        20_000,
      );
      const status = (await Promise.all(replicas.map((r) => r.status().catch(() => undefined)))).find(
        (x) => x?.isLeader,
      );
      expect(status.candidates.find((c: any) => c.name === watcherPod)).toMatchObject({
        eligible: false,
        reason: 'node-not-ready',
      });
    } finally {
      kubectlOk(['annotate', 'node', node, 'kwok.x-k8s.io/node=fake', '--overwrite']);
      await eventually(
        'the node Ready again',
        () => getJson(['get', 'node', node]).status.conditions.find((c: any) => c.type === 'Ready').status === 'True',
      );
    }
  });

  test('killing the leading replica: the other takes over within the lease duration and keeps the watcher', async () => {
    const watcher = await ordinaryCluster();
    const statuses = await Promise.all(replicas.map((r) => r.status()));
    const leaderIndex = statuses.findIndex((s) => s.isLeader);
    expect(leaderIndex).toBeGreaterThanOrEqual(0);
    const follower = replicas[1 - leaderIndex]!;
    const transitions = lease().spec.leaseTransitions;
    const killedAt = Date.now();
    await replicas[leaderIndex]!.stop('SIGKILL');
    await eventually('the follower leads', async () => (await follower.status()).isLeader || undefined, 15_000);
    expect(Date.now() - killedAt).toBeLessThan(4000 + 3000); // lease duration plus a retry period and start-up slack
    await sleep(1000);
    expect(holder()).toBe(watcher);
    expect(lease().spec.leaseTransitions).toBe(transitions);
    expect(labelled().join()).toBe(watcher.split('/')[1]);
  });
});

describe('reports and refusals', () => {
  test('an existing pod that still carries ONLY_WATCH_K8S_RESOURCE gets a DeprecatedEnv Warning and is counted', async () => {
    apply([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'legacy', namespace: AGENTS },
        spec: { containers: [{ ...agent(), env: [{ name: 'ONLY_WATCH_K8S_RESOURCE', value: '' }] }] },
      },
    ]);
    const events = await eventually('the DeprecatedEnv Event', () => {
      const items = getJson([
        'get',
        'events',
        '-n',
        AGENTS,
        '--field-selector',
        'reason=DeprecatedEnv,involvedObject.name=legacy',
      ]).items;
      return items.length > 0 && items;
    });
    expect(events[0]).toMatchObject({ type: 'Warning', involvedObject: { kind: 'Pod', name: 'legacy' } });
    expect(events[0].message).toBe(
      'ONLY_WATCH_K8S_RESOURCE is no longer supported and makes the agent exit; remove it and set K8S_WATCH_POLICY=watch-only',
    );
    // (one replica was killed above: ask whichever answers and leads)
    const leader = await eventually('the leading replica', async () => {
      for (const r of replicas) if ((await r.status().catch(() => undefined))?.isLeader) return r;
      return undefined;
    });
    expect(await leader.metrics()).toMatch(/^k8s_watch_policy_deprecated_env_pods 1$/m);
  });

  test('credentials without the RBAC it needs: one line naming every missing permission, exit 77', () => {
    kubectlOk(['create', 'serviceaccount', 'powerless', '-n', SYSTEM]);
    const token = kubectlOk(['create', 'token', 'powerless', '-n', SYSTEM]).trim();
    const admin = readFileSync(KUBECONFIG, 'utf8');
    const server = /server: (\S+)/.exec(admin)![1];
    const ca = /certificate-authority-data: (\S+)/.exec(admin)![1];
    const kubeconfig = join(dir, 'powerless.kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${server}", certificate-authority-data: ${ca}}}]
users: [{name: u, user: {token: ${token}}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`,
    );
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'controller',
        '--kubeconfig',
        kubeconfig,
        '--config',
        configFile,
        '--namespace',
        SYSTEM,
        '--metrics-port',
        '0',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.status).toBe(77);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^k8s-watch-policy: missing RBAC permissions: cannot list pods in namespace kwp-agents-\w+; .*cannot patch pods in namespace kwp-agents-\w+; .*cannot get leases.coordination.k8s.io in namespace kwp-system-\w+/,
    );
  });

  test('a bad config names the field and exits 78', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'election:\n  namespace: [typo]\n');
    const r = spawnSync(process.execPath, [CLI, 'controller', '--kubeconfig', KUBECONFIG, '--config', bad], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(78);
    expect(r.stderr.trim()).toBe(
      `k8s-watch-policy: config ${bad}: election.namespace: unknown field (known: namespaces, leaseName)`,
    );
  });
});
