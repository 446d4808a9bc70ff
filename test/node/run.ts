/**
 * `npm run e2e:node`: the release as users install it, on a real node. Starts a local cluster of
 * its own with one real node (containerd, kubelet, kube-proxy: `npm run cluster -- up --node`) in
 * .cluster/node-e2e and an OCI registry beside it (distribution, TLS by the cluster CA), runs
 * `npm run release` into that registry with a fresh cosign key, checks what it published
 * (test/published: signatures, tampering, SBOM attestations, the arm64 image under qemu, a second
 * build's digests), then `helm install`s the chart from the registry (oci://, the image pulled by
 * digest by the node's containerd), runs the release suite (test/installed) against it, then the
 * release's life (test/node: `helm upgrade` while pods are created, `helm uninstall`), and removes
 * the cluster, the registry and the node. Before all that, the real node on a fresh host
 * (test/node/fresh_host.ts: `up --node` and `down` twice in a new network namespace where no
 * iptables table exists yet). Last, the host must be exactly as it was: iptables rules, links,
 * routes, sysctls, directories.
 *
 *   npm run e2e:node                 # all of it (root on Linux; installs Debian packages)
 *   npm run e2e:node -- --keep       # leave the cluster up (KUBECONFIG=.cluster/node-e2e/kubeconfig)
 *
 * A host that cannot run a real node (not Linux, not root, no cgroups or overlayfs, packages that
 * cannot be installed) prints one SKIPPED line naming what is missing and exits 0.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Its own cluster: a developer's cluster in .cluster stays as it is, and no earlier test's objects are here.
process.env.K8S_WATCH_POLICY_CLUSTER_DIR ??= join(ROOT, '.cluster', 'node-e2e');

const { nodeHostProblem, recordHost, removeMountedPath } = await import('../cluster/node/host.ts');
const { down, kubectl, readState, up } = await import('../cluster/cluster.ts');
const { leftAfterDown } = await import('../cluster/node/real_node.ts');
const { waitFor } = await import('../cluster/processes.ts');
const { chartArgs, NAMESPACE, releaseValues, RELEASE, RELEASE_VERSION } = await import('./release.ts');
const { startRegistry } = await import('./registry.ts');
const { tool } = await import('../../scripts/release/tools.ts');
const { REAL_NODE_NAME } = await import('../cluster/node/config.ts');
const { KUBECONFIG, PKI_DIR, STATE_DIR } = await import('../cluster/paths.ts');
const { AFTER_INSTALL_NAMESPACE, AFTER_INSTALL_OPT_IN, createFromNow, describeAfterInstall } =
  await import('./after_install.ts');

const keep = process.argv.includes('--keep');
const step = (what: string) => process.stderr.write(`[e2e:node] ${what}\n`);
const started = Date.now();

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const r = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', env });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

async function main(): Promise<number> {
  const problem = nodeHostProblem();
  if (problem) {
    process.stdout.write(`[e2e:node] SKIPPED: ${problem}\n`);
    return 0;
  }
  mkdirSync(STATE_DIR, { recursive: true });

  let status = 1;
  await down(); // what an earlier run kept (--keep) or left: the host is recorded as it is without it
  const hostBefore = recordHost();
  try {
    step('the real node on a fresh host: up --node and down twice in a network namespace with no iptables table');
    if (freshHost() !== 0) return 1;
    step('starting a local cluster with a real node');
    await up({ node: true });
    const state = readState()!;
    const helm = join(state.bin, 'helm');
    const published = await publish(helm);
    if (published === undefined) return 1;
    await optedInNamespace(state.bin, AFTER_INSTALL_NAMESPACE);
    step(
      `helm install ${RELEASE} ${published.chart} --version ${RELEASE_VERSION} -n ${NAMESPACE} (on ${REAL_NODE_NAME})`,
    );
    const t0 = Date.now();
    const installed = run(helm, [
      '--kubeconfig',
      KUBECONFIG,
      'install',
      RELEASE,
      ...chartArgs(published),
      '-n',
      NAMESPACE,
      '--create-namespace',
      ...releaseValues(),
      '--wait',
      '--timeout',
      '4m',
    ]);
    if (installed !== 0) {
      diagnose(state.bin);
      return 1;
    }
    step(`installed and Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const images = pulledByDigest(state.bin, published.image);
    if (images !== undefined) {
      step(images);
      diagnose(state.bin);
      return 1;
    }
    step(`every pod of the release runs ${published.image}, pulled from the registry by containerd`);
    const afterInstall = await createFromNow(AFTER_INSTALL_NAMESPACE, 200);
    step(`after install: ${describeAfterInstall(afterInstall)}`);
    // Gone before the release suite, which counts the cluster's agent pods.
    kubectl(state.bin, ['delete', 'namespace', AFTER_INSTALL_NAMESPACE, '--wait=true', '--timeout=120s']);
    if (afterInstall.wrong.length > 0) {
      diagnose(state.bin);
      return 1;
    }
    const env = {
      ...process.env,
      NODE_OPTIONS: '--experimental-vm-modules',
      KUBECONFIG,
      KUBECTL: join(state.bin, 'kubectl'),
      HELM: helm,
      KWP_RELEASE_NAMESPACE: NAMESPACE,
      KWP_RELEASE_NAME: RELEASE,
      KWP_LEASE_NAME: 'k8s-watcher',
      KWP_CHART: published.chart,
      KWP_REGISTRY_CA: published.caFile,
    };
    const jest = join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
    step('the release suite (test/installed) against the release');
    const suite = run(process.execPath, [jest, '--selectProjects', 'installed', '--runInBand'], env);
    step("the release's life (test/node): helm upgrade under load, helm uninstall");
    const life = run(process.execPath, [jest, '--selectProjects', 'node', '--runInBand'], env);
    if (suite !== 0 || life !== 0) diagnose(state.bin);
    status = suite === 0 && life === 0 ? 0 : 1;
  } finally {
    if (keep)
      step(
        `kept: export KUBECONFIG=${KUBECONFIG}; remove with K8S_WATCH_POLICY_CLUSTER_DIR=${STATE_DIR} npm run cluster -- down`,
      );
    else {
      step('removing the cluster and the real node');
      await down();
      // down must leave the host as it was: no process, mount, bridge, chain, sysctl or directory of the node.
      const left = leftAfterDown(hostBefore);
      if (left.length > 0) {
        step(`down left the host changed:\n  ${left.join('\n  ')}`);
        status = 1;
      } else
        step(
          'the host is as it was before (processes, mounts, iptables rules, links, routes, network namespaces, sysctls, cgroups, directories)',
        );
    }
    step(`${status === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  return status;
}

interface Published {
  /** oci://HOST/charts/k8s-watch-policy */
  chart: string;
  /** HOST/k8s-watch-policy@sha256:... (the image index) */
  image: string;
  caFile: string;
}

/**
 * The registry, a cosign key pair, `npm run release` into the registry, then test/published on
 * what it pushed; undefined when any of it failed.
 */
async function publish(helm: string): Promise<Published | undefined> {
  const caFile = join(PKI_DIR, 'ca.crt');
  const registry = await startRegistry(caFile, readFileSync(caFile, 'utf8'));
  step(`registry: https://${registry.host} (distribution, TLS by the cluster CA)`);
  const keys = join(STATE_DIR, 'cosign');
  rmSync(keys, { recursive: true, force: true });
  mkdirSync(keys, { recursive: true });
  const cosign = tool('cosign', step);
  const env = { ...process.env, COSIGN_PASSWORD: '', HELM: helm };
  if (spawnSync(cosign, ['generate-key-pair'], { cwd: keys, env, stdio: 'ignore' }).status !== 0) {
    step('cosign generate-key-pair failed');
    return undefined;
  }
  const out = join(STATE_DIR, 'release');
  step(`npm run release -- --version ${RELEASE_VERSION} --registry ${registry.host} --key cosign.key`);
  const args = ['--version', RELEASE_VERSION, '--registry', registry.host, '--registry-ca', caFile];
  const released = run(
    process.execPath,
    [join(ROOT, 'scripts', 'release', 'main.ts'), ...args, '--key', join(keys, 'cosign.key'), '--out', out],
    env,
  );
  if (released !== 0) return undefined;
  const result = JSON.parse(readFileSync(join(out, 'release.json'), 'utf8'));
  step('what the release published (test/published): signatures, tampering, SBOMs, arm64 under qemu, a second build');
  const jest = join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
  const checked = run(process.execPath, [jest, '--selectProjects', 'published', '--runInBand'], {
    ...env,
    NODE_OPTIONS: '--experimental-vm-modules',
    KWP_REGISTRY: registry.host,
    KWP_REGISTRY_CA: caFile,
    KWP_COSIGN_PUB: join(keys, 'cosign.pub'),
    KWP_RELEASE_OUT: out,
    KWP_RELEASE_VERSION: RELEASE_VERSION,
  });
  if (checked !== 0) return undefined;
  return { chart: result.chart.reference, image: `${result.image.repository}@${result.image.index}`, caFile };
}

/** undefined when every container of the release runs `image` and containerd has it by that digest; else what differs. */
function pulledByDigest(bin: string, image: string): string | undefined {
  const r = kubectl(bin, ['get', 'pods', '-n', NAMESPACE, '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'json']);
  if (r.status !== 0) return `kubectl get pods: ${r.stderr.trim()}`;
  const pods = JSON.parse(r.stdout).items as any[];
  const wrong: string[] = [];
  const digest = image.split('@')[1]!;
  for (const pod of pods) {
    for (const c of pod.spec.containers)
      if (c.image !== image) wrong.push(`${pod.metadata.name}/${c.name}: image ${c.image}`);
    for (const s of pod.status.containerStatuses ?? [])
      if (!String(s.imageID).endsWith(digest)) wrong.push(`${pod.metadata.name}/${s.name}: imageID ${s.imageID}`);
  }
  if (pods.length === 0) wrong.push('no pod of the release');
  return wrong.length > 0 ? `the release's pods do not run ${image}:\n  ${wrong.join('\n  ')}` : undefined;
}

/** An opted-in namespace with its default ServiceAccount (pods cannot be created before it exists). */
async function optedInNamespace(bin: string, name: string): Promise<void> {
  const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: AFTER_INSTALL_OPT_IN } };
  const applied = kubectl(bin, ['apply', '-f', '-'], JSON.stringify(namespace));
  if (applied.status !== 0) throw new Error(`cannot create the namespace ${name}: ${applied.stderr.trim()}`);
  await waitFor(
    `the default ServiceAccount of ${name}`,
    () => kubectl(bin, ['get', 'serviceaccount', 'default', '-n', name]).status === 0,
    60_000,
  );
}

/** Runs test/node/fresh_host.ts in a new network namespace (no iptables table, no route out), then deletes it. */
function freshHost(): number {
  const netns = 'kwp-fresh-host';
  const hadNetnsDir = existsSync('/run/netns');
  spawnSync('ip', ['netns', 'delete', netns], { stdio: 'ignore' });
  try {
    if (run('ip', ['netns', 'add', netns]) !== 0 || run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']) !== 0) return 1;
    return run('nsenter', [
      `--net=/run/netns/${netns}`,
      '--',
      process.execPath,
      join(ROOT, 'test', 'node', 'fresh_host.ts'),
    ]);
  } finally {
    spawnSync('ip', ['netns', 'delete', netns], { stdio: 'ignore' });
    if (!hadNetnsDir) removeMountedPath('/run/netns');
  }
}

function diagnose(bin: string): void {
  step('the release as it is:');
  const kubectl = (args: string[]) => run(join(bin, 'kubectl'), ['--kubeconfig', KUBECONFIG, ...args]);
  kubectl(['get', 'nodes,pods,services,endpointslices,leases', '-n', NAMESPACE, '-o', 'wide']);
  kubectl(['get', 'events', '-n', NAMESPACE, '--sort-by=.lastTimestamp']);
  kubectl([
    'logs',
    '-n',
    NAMESPACE,
    '-l',
    `app.kubernetes.io/instance=${RELEASE}`,
    '--all-containers',
    '--prefix',
    '--tail',
    '40',
  ]);
}

if (existsSync(join(ROOT, 'node_modules'))) {
  main().then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`e2e:node: ${(err as Error).stack ?? err}\n`);
      process.exitCode = 1;
    },
  );
} else {
  process.stderr.write('e2e:node: run npm ci first\n');
  process.exitCode = 1;
}
