#!/usr/bin/env node
// npm run e2e:kind: the release suite (test/installed) against a real cluster with the real image,
// for machines with Docker (the development machines of this project have none, so it never runs
// in CI): create a kind cluster, build the image and load it into the cluster, `helm install` the
// chart with the defaults, run the suite through $KUBECONFIG, delete the cluster.
//
//   npm run e2e:kind                 # all of it (kind, docker, helm and kubectl on PATH)
//   npm run e2e:kind -- --keep       # leave the cluster (kind delete cluster --name kwp-e2e)
//   KIND=/path/kind HELM=/path/helm npm run e2e:kind
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const keep = process.argv.includes('--keep');
const CLUSTER = process.env.KWP_KIND_CLUSTER ?? 'kwp-e2e';
const IMAGE = 'k8s-watch-policy:e2e';
const NAMESPACE = 'deepflow-system';
const RELEASE = 'k8s-watch-policy';
const tools = {
  kind: process.env.KIND ?? 'kind',
  docker: process.env.DOCKER ?? 'docker',
  helm: process.env.HELM ?? 'helm',
  kubectl: process.env.KUBECTL ?? 'kubectl',
};
const dir = mkdtempSync(join(tmpdir(), 'kwp-kind-'));
const kubeconfig = join(dir, 'kubeconfig');
const env = { ...process.env, KUBECONFIG: kubeconfig };

function step(what) {
  process.stderr.write(`[e2e:kind] ${what}\n`);
}

function run(tool, args, { check = true, quiet = false } = {}) {
  const r = spawnSync(tools[tool] ?? tool, args, {
    cwd: root,
    env,
    stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    encoding: 'utf8',
  });
  if (r.error?.code === 'ENOENT') fail(`${tool} is not installed (or set ${tool.toUpperCase()}=/path/to/${tool})`);
  if (check && r.status !== 0)
    fail(
      `${tool} ${args.join(' ')} failed (exit ${r.status})${quiet ? `: ${(r.stderr ?? '').trim().split('\n').pop()}` : ''}`,
    );
  return r;
}

function fail(message) {
  process.stderr.write(`e2e:kind: ${message}\n`);
  cleanup();
  process.exit(1);
}

function cleanup() {
  if (!keep) spawnSync(tools.kind, ['delete', 'cluster', '--name', CLUSTER], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}

for (const tool of ['docker', 'kind', 'helm', 'kubectl'])
  run(tool, tool === 'kubectl' ? ['version', '--client'] : tool === 'helm' ? ['version', '--short'] : ['version'], {
    quiet: true,
  });

const clusters = run('kind', ['get', 'clusters'], { quiet: true }).stdout.split('\n');
if (clusters.includes(CLUSTER)) step(`kind cluster ${CLUSTER} exists; reusing it`);
else {
  step(`creating kind cluster ${CLUSTER}`);
  run('kind', ['create', 'cluster', '--name', CLUSTER, '--wait', '180s']);
}
run('kind', ['export', 'kubeconfig', '--name', CLUSTER, '--kubeconfig', kubeconfig], { quiet: true });

step(`building ${IMAGE}`);
run('docker', ['build', '-t', IMAGE, '.']);
step(`loading ${IMAGE} into the cluster`);
run('kind', ['load', 'docker-image', IMAGE, '--name', CLUSTER]);

step(`helm install ${RELEASE} (defaults, this image)`);
run('helm', [
  'upgrade',
  '--install',
  RELEASE,
  join(root, 'charts', 'k8s-watch-policy'),
  '--namespace',
  NAMESPACE,
  '--create-namespace',
  '--set',
  'image.repository=k8s-watch-policy',
  '--set',
  'image.tag=e2e',
  '--set',
  'image.pullPolicy=Never',
  '--wait',
  '--timeout',
  '5m',
]);

step('running the release suite (test/installed) against it');
const suite = spawnSync(
  process.execPath,
  [join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--selectProjects', 'installed', '--runInBand'],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...env, NODE_OPTIONS: '--experimental-vm-modules', KWP_RELEASE_NAMESPACE: NAMESPACE },
  },
);
if (suite.status !== 0) {
  step('the suite failed; the release as it is:');
  run(
    'kubectl',
    ['get', 'pods,lease,mutatingwebhookconfiguration,validatingwebhookconfiguration', '-n', NAMESPACE, '-o', 'wide'],
    { check: false },
  );
  run(
    'kubectl',
    ['logs', '-n', NAMESPACE, '-l', `app.kubernetes.io/instance=${RELEASE}`, '--all-containers', '--tail', '50'],
    { check: false },
  );
}
cleanup();
process.exit(suite.status ?? 1);
