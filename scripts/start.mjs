// `npm start`: the product running against a real Kubernetes API server.
//
// Without KUBECONFIG: brings the local control plane up (test/cluster, built from Go modules on
// the first run), starts the webhook with its node cache, registers the webhook configurations
// (by URL, with the CA as caBundle), labels the demo namespace, and says what to try next.
// With KUBECONFIG set: uses that cluster instead (its API server must reach WEBHOOK_URL).
// Ctrl-C stops what it started, and removes the webhook configurations first: a Fail webhook
// left pointing at a stopped server would block pod creation in opted-in namespaces.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { webhookConfigurations } from '../dist/webhook/webhook_configuration.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/cli/main.js');
const port = process.env.PORT ?? '9443';
const metricsPort = process.env.METRICS_PORT ?? '8080';
const webhookUrl = process.env.WEBHOOK_URL ?? `https://127.0.0.1:${port}`;
const demo = process.env.DEMO_NAMESPACE ?? 'deepflow-demo';
const NAME = 'k8s-watch-policy';
const say = (line) => process.stderr.write(`[start] ${line}\n`);

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', ...options });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error || `exit ${r.status}`}`);
  return r.stdout;
}

let kubeconfig = process.env.KUBECONFIG;
let kubectlBin = 'kubectl';
const ownCluster = !kubeconfig;
if (ownCluster) {
  say('no KUBECONFIG: bringing the local control plane up (npm run cluster -- up)');
  run(process.execPath, ['test/cluster/main.ts', 'up'], { stdio: ['ignore', 'ignore', 'inherit'] });
  kubeconfig = join(root, '.cluster/kubeconfig');
  kubectlBin = join(JSON.parse(readFileSync(join(root, '.cluster/state.json'), 'utf8')).bin, 'kubectl');
}
const kubectl = (args, input) => run(kubectlBin, ['--kubeconfig', kubeconfig, ...args], { input });

if (!existsSync(join(root, 'certs/tls.crt'))) run(process.execPath, [cli, 'certs', '--out', 'certs', '--dns', 'localhost,127.0.0.1'], { stdio: 'inherit' });
const caBundle = Buffer.from(readFileSync(join(root, 'certs/ca.crt'))).toString('base64');

// No drain delay: nothing routes to this webhook through a Service, so Ctrl-C need not wait.
const args = [cli, 'webhook', '--kubeconfig', kubeconfig, '--cert-dir', 'certs', '--host', '127.0.0.1', '--port', port, '--metrics-port', metricsPort, '--drain-delay', '0'];
if (process.env.CONFIG) args.push('--config', process.env.CONFIG);
const webhook = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });

async function ready() {
  const ca = readFileSync(join(root, 'certs/ca.crt'));
  for (let i = 0; i < 300; i++) {
    if (webhook.exitCode !== null) throw new Error(`the webhook exited with ${webhook.exitCode}`);
    const ok = await new Promise((resolve) => {
      const req = request(`https://127.0.0.1:${port}/readyz`, { ca, agent: false, timeout: 1000 }, (res) => (res.resume(), resolve(res.statusCode === 200)));
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the webhook did not become ready within 30 s');
}

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  try {
    kubectl(['delete', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', NAME, '--ignore-not-found']);
  } catch (err) {
    say(`could not remove the webhook configurations: ${err.message}`);
  }
  if (webhook.exitCode === null) {
    webhook.kill('SIGTERM');
    await new Promise((r) => webhook.once('exit', r));
  }
  if (ownCluster) run(process.execPath, ['test/cluster/main.ts', 'down'], { stdio: ['ignore', 'ignore', 'inherit'] });
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stop(0));
webhook.on('exit', (code) => stop(code ?? 1));

try {
  await ready();
  const { mutating, validating } = webhookConfigurations({
    name: NAME,
    clientConfig: (path) => ({ url: `${webhookUrl}${path}`, caBundle }),
    excludeNamespaces: [],
    failurePolicy: 'Fail',
    timeoutSeconds: 10,
  });
  const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: demo, labels: { 'deepflow.io/k8s-watch-policy-injection': 'enabled' } } };
  kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [mutating, validating, namespace] }));
} catch (err) {
  say(err.message);
  await stop(1);
}
say(`ready. In another shell:
    export KUBECONFIG=${kubeconfig}${ownCluster ? `\n    export PATH=${join(kubectlBin, '..')}:$PATH` : ''}
    kubectl apply -n ${demo} -f examples/ordinary-cluster.yaml      # DaemonSet stays normal, watcher gets watch-only
    kubectl apply -n ${demo} -f examples/serverless-sidecar.yaml    # the sidecar agent gets watch-disabled
    kubectl apply -n ${demo} -f examples/legacy-only-watch.yaml     # refused: ONLY_WATCH_K8S_RESOURCE
    kubectl get pods -n ${demo} -o custom-columns=NAME:.metadata.name,NODE:.spec.nodeName,REASON:.metadata.annotations.deepflow\\.io/k8s-watch-policy-reason
Ctrl-C stops the webhook${ownCluster ? ' and the local cluster' : ''}.`);
