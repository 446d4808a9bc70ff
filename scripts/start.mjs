// `npm start`: the whole product running against a real Kubernetes API server.
//
// Without KUBECONFIG: brings the local control plane up (test/cluster, built from Go modules on
// the first run). Then: creates the demo namespace (labelled for injection) and the system
// namespace (with the config as the chart's ConfigMap, which `kubectl watch-policy status` reads),
// starts the webhook with its node cache and the watcher-election controller (its election
// limited to the demo namespace, so that it leaves other namespaces on the same control plane
// alone), registers the webhook configurations (by URL, with the CA as caBundle), writes the
// kubectl plugin `kubectl watch-policy` into <cluster dir>/bin, and says what to try next.
// With KUBECONFIG set: uses that cluster instead (its API server must reach WEBHOOK_URL).
//
// Ctrl-C stops what it started, in this order, one line each: the webhook configurations are
// removed first (a Fail webhook left pointing at a stopped server would block pod creation in
// opted-in namespaces), then the controller (it releases its leader Lease) and the webhook, each
// given STOP_TIMEOUT_MS before it is killed, then the local control plane if this script brought it up. The two processes run
// in their own process group so that Ctrl-C reaches this script alone and the order holds.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../dist/config/load.js';
import { webhookConfigurations } from '../dist/webhook/webhook_configuration.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/cli/main.js');
const port = process.env.PORT ?? '9443';
const metricsPort = process.env.METRICS_PORT ?? '8080';
const controllerPort = process.env.CONTROLLER_PORT ?? '8081';
const webhookUrl = process.env.WEBHOOK_URL ?? `https://127.0.0.1:${port}`;
const demo = process.env.DEMO_NAMESPACE ?? 'deepflow-demo';
const system = process.env.SYSTEM_NAMESPACE ?? 'deepflow-system';
const stopTimeoutMs = Number(process.env.STOP_TIMEOUT_MS ?? 5_000);
// test/cluster's own override of where the local control plane keeps its files.
const clusterDir = resolve(root, process.env.K8S_WATCH_POLICY_CLUSTER_DIR ?? '.cluster');
const NAME = 'k8s-watch-policy';
const PART_OF = { 'app.kubernetes.io/part-of': NAME };
const say = (line) => process.stderr.write(`[start] ${line}\n`);
const quote = (s) => `'${String(s).replaceAll("'", `'\\''`)}'`;

/** Runs a command to its end. Stop-time commands pass detached, so that a second Ctrl-C cannot cut them short. */
function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', ...options });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error || `exit ${r.signal ?? r.status}`}`);
  return r.stdout;
}

// The processes this script started, and how it stops them.
const children = new Map(); // name -> { child, closed: Promise<void>, done: boolean }
let stopping = false;
let configurationsRegistered = false;

function startChild(name, args) {
  // detached: a process group of its own, so Ctrl-C reaches this script only and it stops them in order.
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout.pipe(process.stdout);
  child.stderr.pipe(process.stderr);
  const entry = { child, done: false };
  entry.closed = new Promise((resolveClosed) =>
    child.once('close', (code, signal) => {
      entry.done = true;
      resolveClosed();
      if (!stopping) {
        say(`the ${name} exited (${signal ?? `exit code ${code}`}): stopping the rest`);
        void stop(1);
      }
    }),
  );
  child.once('error', (err) => say(`cannot run the ${name}: ${err.message}`));
  children.set(name, entry);
  return entry;
}

/** SIGTERM, then SIGKILL after stopTimeoutMs; resolves with one line saying what happened. */
async function stopChild(name, what) {
  const entry = children.get(name);
  if (!entry) return;
  if (entry.done) return say(`the ${name} had already exited`);
  const started = Date.now();
  entry.child.kill('SIGTERM');
  let timer;
  const inTime = await Promise.race([
    entry.closed.then(() => true),
    new Promise((r) => (timer = setTimeout(() => r(false), stopTimeoutMs))),
  ]);
  clearTimeout(timer);
  if (inTime) return say(`${name} stopped${what} (${Date.now() - started} ms)`);
  entry.child.kill('SIGKILL');
  await entry.closed;
  say(`${name} did not stop within ${stopTimeoutMs} ms of SIGTERM: killed`);
}

async function stop(code, why) {
  if (stopping) return;
  stopping = true;
  if (why) say(`${why}: stopping`);
  if (configurationsRegistered) {
    const started = Date.now();
    try {
      kubectl(
        [
          'delete',
          'mutatingwebhookconfiguration,validatingwebhookconfiguration',
          NAME,
          '--ignore-not-found',
          '--request-timeout=5s',
        ],
        { timeout: 10_000, detached: true },
      );
      say(`webhook configurations ${NAME} removed (${Date.now() - started} ms)`);
    } catch (err) {
      say(`could not remove the webhook configurations ${NAME} (remove them by hand): ${err.message.trim()}`);
    }
  }
  await Promise.all([stopChild('controller', ', its leader Lease released'), stopChild('webhook', '')]);
  if (ownCluster && !clusterWasUp) {
    const started = Date.now();
    try {
      run(process.execPath, ['test/cluster/main.ts', 'down'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      say(
        `local control plane stopped (${Date.now() - started} ms; its data stays in ${clusterDir}, \`npm run cluster -- up\` starts it again)`,
      );
    } catch (err) {
      say(`could not stop the local control plane (\`npm run cluster -- down\`): ${err.message.trim()}`);
    }
  } else if (ownCluster) {
    say(
      `the local control plane was running before npm start and is left running (\`npm run cluster -- down\` stops it)`,
    );
  } else {
    say(`the cluster of KUBECONFIG is left running (namespaces ${demo} and ${system} stay)`);
  }
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(signal, () =>
    stopping ? say(`${signal}: already stopping`) : void stop(0, signal === 'SIGINT' ? 'Ctrl-C' : signal),
  );
// Whatever else ends this script (an exception), the processes it started go with it.
process.on('exit', () => {
  for (const { child, done } of children.values()) if (!done) child.kill('SIGKILL');
});

let kubeconfig = process.env.KUBECONFIG;
let kubectlBin = 'kubectl';
const ownCluster = !kubeconfig;
let clusterWasUp = false;
function kubectl(args, options = {}) {
  return run(kubectlBin, ['--kubeconfig', kubeconfig, ...args], { timeout: 30_000, ...options });
}

/** GET url until it answers 200; rejects when `alive()` turns false or after `seconds`. */
async function ready(what, url, options, alive, seconds = 60) {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  for (const deadline = Date.now() + seconds * 1000; Date.now() < deadline;) {
    if (stopping) throw new Error('stopping');
    if (!alive()) throw new Error(`the ${what} exited before it was ready`);
    const ok = await new Promise((resolveOk) => {
      const req = request(
        url,
        { ...options, agent: false, timeout: 1000 },
        (res) => (res.resume(), resolveOk(res.statusCode === 200)),
      );
      req.on('error', () => resolveOk(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the ${what} was not ready within ${seconds} s (${url})`);
}

/** `kubectl watch-policy`: a plugin on PATH that runs this checkout's CLI with the Node running npm start. */
function writePlugin() {
  const bin = join(clusterDir, 'bin');
  const lib = join(clusterDir, 'plugin');
  mkdirSync(bin, { recursive: true });
  mkdirSync(lib, { recursive: true });
  // Named kubectl-watch_policy, so that the CLI calls itself `kubectl watch-policy` in its messages.
  rmSync(join(lib, 'kubectl-watch_policy'), { force: true });
  symlinkSync(cli, join(lib, 'kubectl-watch_policy'));
  const wrapper = join(bin, 'kubectl-watch_policy');
  writeFileSync(
    wrapper,
    `#!/bin/sh\n# written by npm start: the kubectl plugin \`kubectl watch-policy\` of ${root}\nexec ${quote(process.execPath)} ${quote(join(lib, 'kubectl-watch_policy'))} "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  return bin;
}

async function main() {
  if (ownCluster) {
    // A control plane that was already up (another terminal, a test run) is left up on Ctrl-C.
    clusterWasUp =
      spawnSync(process.execPath, ['test/cluster/main.ts', 'status'], { cwd: root, stdio: 'ignore' }).status === 0;
    say('no KUBECONFIG: bringing the local control plane up (npm run cluster -- up)');
    run(process.execPath, ['test/cluster/main.ts', 'up'], { stdio: ['ignore', 'ignore', 'inherit'] });
    kubeconfig = join(clusterDir, 'kubeconfig');
    kubectlBin = join(JSON.parse(readFileSync(join(clusterDir, 'state.json'), 'utf8')).bin, 'kubectl');
  }
  if (!existsSync(join(root, 'certs/tls.crt')))
    run(process.execPath, [cli, 'certs', '--out', 'certs', '--dns', 'localhost,127.0.0.1'], { stdio: 'inherit' });
  const caBundle = Buffer.from(readFileSync(join(root, 'certs/ca.crt'))).toString('base64');

  // Both processes read one config: CONFIG, else the defaults with the election limited to the demo namespace.
  let configFile = process.env.CONFIG && resolve(process.env.CONFIG);
  if (!configFile) {
    configFile = join(clusterDir, 'start-config.yaml');
    mkdirSync(clusterDir, { recursive: true });
    writeFileSync(
      configFile,
      `# written by npm start: the defaults, with the watcher elected among the agents of ${demo} only\nelection:\n  namespaces: [${demo}]\n`,
    );
  }
  const configText = readFileSync(configFile, 'utf8');
  const namespace = (name, labels) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  // The ConfigMap as the chart has it (label part-of, key config.yaml): `kubectl watch-policy status` reads it.
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `${NAME}-config`, namespace: system, labels: PART_OF },
    data: { 'config.yaml': configText },
  };
  kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        namespace(demo, { 'deepflow.io/k8s-watch-policy-injection': 'enabled' }),
        namespace(system, PART_OF),
        configMap,
      ],
    }),
  });

  // No drain delay: nothing routes to these through a Service, so Ctrl-C need not wait.
  const webhook = startChild('webhook', [
    'webhook',
    '--kubeconfig',
    kubeconfig,
    '--config',
    configFile,
    '--cert-dir',
    'certs',
    '--host',
    '127.0.0.1',
    '--port',
    port,
    '--metrics-port',
    metricsPort,
    '--drain-delay',
    '0',
  ]);
  const controller = startChild('controller', [
    'controller',
    '--kubeconfig',
    kubeconfig,
    '--config',
    configFile,
    '--namespace',
    system,
    '--identity',
    'local',
    '--host',
    '127.0.0.1',
    '--metrics-port',
    controllerPort,
    '--drain-delay',
    '0',
  ]);
  await Promise.all([
    ready(
      'webhook',
      `https://127.0.0.1:${port}/readyz`,
      { ca: readFileSync(join(root, 'certs/ca.crt')) },
      () => !webhook.done,
    ),
    ready('controller', `http://127.0.0.1:${controllerPort}/readyz`, {}, () => !controller.done),
  ]);

  const { mutating, validating } = webhookConfigurations({
    name: NAME,
    clientConfig: (path) => ({ url: `${webhookUrl}${path}`, caBundle }),
    excludeNamespaces: [system],
    failurePolicy: 'Fail',
    timeoutSeconds: 10,
    labels: PART_OF,
  });
  configurationsRegistered = true;
  kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [mutating, validating] }),
  });
  const pluginDir = writePlugin();

  const { election } = await loadConfig(configFile);
  const commands = (rows) => {
    const width = Math.max(...rows.filter(([, comment]) => comment).map(([command]) => command.length));
    return rows
      .map(([command, comment]) => `    ${comment ? `${command.padEnd(width)}   # ${comment}` : command}`)
      .join('\n');
  };
  say(`ready: the webhook on ${webhookUrl} (metrics http://127.0.0.1:${metricsPort}/metrics) and the controller
  (http://127.0.0.1:${controllerPort}/status), electing the watcher among the agents of ${election.namespaces.join(', ') || 'every namespace'}
  (config ${configFile}). In another shell:
${commands([
  [`cd ${root.replace(/\/$/, '')}`],
  ownCluster
    ? ['eval "$(npm run -s cluster -- env)"', 'KUBECONFIG and the built kubectl of the local control plane']
    : [`export KUBECONFIG=${kubeconfig}`],
  [`export PATH=${pluginDir}:$PATH`, 'the kubectl plugin: kubectl watch-policy'],
])}

  The watcher elected, then replaced:
${commands([
  [
    `kubectl apply -n ${demo} -f examples/ordinary-cluster.yaml`,
    'a DaemonSet (normal) and a one-replica watcher Deployment (watch-only)',
  ],
  ['kubectl watch-policy status', 'the elected watcher, the controller, every agent, the webhook'],
  [
    `kubectl get pods -n ${demo} -L deepflow.io/k8s-watcher`,
    'the watcher pod is labelled deepflow.io/k8s-watcher=true',
  ],
  [`kubectl get lease ${election.leaseName} -n ${system} -o yaml`, 'the Lease that publishes the watcher'],
  [
    `kubectl delete pod -n ${demo} -l app=deepflow-watcher`,
    'the watcher goes; its replacement is elected within seconds:',
  ],
  [`kubectl get pods -n ${demo} -L deepflow.io/k8s-watcher`, 'or kubectl watch-policy status again'],
  [`kubectl watch-policy audit -n ${demo}`, 'what every agent runs with and what the webhook would decide'],
])}

  The other policies:
${commands([
  [`kubectl apply -n ${demo} -f examples/serverless-sidecar.yaml`, 'the sidecar agents get watch-disabled'],
  [`kubectl apply -n ${demo} -f examples/legacy-only-watch.yaml`, 'refused: ONLY_WATCH_K8S_RESOURCE'],
  [
    `kubectl get pods -n ${demo} -o custom-columns=NAME:.metadata.name,NODE:.spec.nodeName,REASON:.metadata.annotations.deepflow\\.io/k8s-watch-policy-reason`,
  ],
])}

Ctrl-C removes the webhook configurations, stops the controller and the webhook${ownCluster ? ', then the local control plane (unless it was running before)' : ''}.`);
}

try {
  await main();
} catch (err) {
  if (!stopping) {
    say(err.message.trim());
    await stop(1);
  }
}
