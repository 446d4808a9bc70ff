/**
 * `npm run e2e:node`: the chart as users install it, its pods running from the image on a real
 * node. Builds the image (`npm run image`), starts a local cluster of its own with one real node
 * (containerd, kubelet, kube-proxy: `npm run cluster -- up --node`) in .cluster/node-e2e, imports
 * the image into the node's containerd, `helm install`s the chart (image pull policy Never, its
 * pods on the real node), runs the release suite (test/installed) against the release, then the
 * release's life (test/node: `helm upgrade` while pods are created, `helm uninstall`), and removes
 * the cluster and the node. Before all that, the real node on a fresh host (test/node/fresh_host.ts:
 * `up --node` and `down` twice in a new network namespace where no iptables table exists yet).
 * Last, the host must be exactly as it was: iptables rules, links, routes, sysctls, directories.
 *
 *   npm run e2e:node                 # all of it (root on Linux; installs Debian packages)
 *   npm run e2e:node -- --keep       # leave the cluster up (KUBECONFIG=.cluster/node-e2e/kubeconfig)
 *
 * A host that cannot run a real node (not Linux, not root, no cgroups or overlayfs, packages that
 * cannot be installed) prints one SKIPPED line naming what is missing and exits 0.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Its own cluster: a developer's cluster in .cluster stays as it is, and no earlier test's objects are here.
process.env.K8S_WATCH_POLICY_CLUSTER_DIR ??= join(ROOT, '.cluster', 'node-e2e');

const { nodeHostProblem, recordHost, removeMountedPath } = await import('../cluster/node/host.ts');
const { down, kubectl, readState, up } = await import('../cluster/cluster.ts');
const { importImage, leftAfterDown } = await import('../cluster/node/real_node.ts');
const { waitFor } = await import('../cluster/processes.ts');
const { IMAGE_REPOSITORY, IMAGE_TAG, NAMESPACE, releaseValues, RELEASE } = await import('./release.ts');
const { REAL_NODE_NAME } = await import('../cluster/node/config.ts');
const { KUBECONFIG, STATE_DIR } = await import('../cluster/paths.ts');
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
  const archive = join(STATE_DIR, `image-${IMAGE_TAG}.tar`);
  step(`building the image ${IMAGE_REPOSITORY}:${IMAGE_TAG} (npm run image)`);
  if (
    run(process.execPath, [
      join(ROOT, 'scripts', 'image.mjs'),
      '--tag',
      `${IMAGE_REPOSITORY}:${IMAGE_TAG}`,
      '--save',
      archive,
    ]) !== 0
  )
    return 1;

  let status = 1;
  await down(); // what an earlier run kept (--keep) or left: the host is recorded as it is without it
  const hostBefore = recordHost();
  try {
    step('the real node on a fresh host: up --node and down twice in a network namespace with no iptables table');
    if (freshHost() !== 0) return 1;
    step('starting a local cluster with a real node');
    await up({ node: true });
    const state = readState()!;
    step(`importing the image into the node's containerd`);
    importImage(archive);
    const helm = join(state.bin, 'helm');
    await optedInNamespace(state.bin, AFTER_INSTALL_NAMESPACE);
    step(
      `helm install ${RELEASE} -n ${NAMESPACE} (image ${IMAGE_REPOSITORY}:${IMAGE_TAG}, pull policy Never, on ${REAL_NODE_NAME})`,
    );
    const t0 = Date.now();
    const installed = run(helm, [
      '--kubeconfig',
      KUBECONFIG,
      'install',
      RELEASE,
      join(ROOT, 'charts', 'k8s-watch-policy'),
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
