// `npm start`: run the webhook locally on https://127.0.0.1:9443 (metrics on :8080) with
// certificates in certs/ (made on first start), the default config, and no other setup.
// The local Kubernetes control plane (issue 3) will plug in here.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const port = process.env.PORT ?? '9443';
const metricsPort = process.env.METRICS_PORT ?? '8080';

if (!existsSync(new URL('../certs/tls.crt', import.meta.url))) {
  const made = spawnSync(process.execPath, [cli, 'certs', '--out', 'certs', '--dns', 'localhost,127.0.0.1'], { cwd: root, stdio: 'inherit' });
  if (made.status !== 0) process.exit(made.status ?? 1);
}

const args = [cli, 'webhook', '--cert-dir', 'certs', '--host', '127.0.0.1', '--port', port, '--metrics-port', metricsPort];
if (process.env.CONFIG) args.push('--config', process.env.CONFIG);
console.error(`webhook: https://127.0.0.1:${port}/mutate and /validate (CA: certs/ca.crt), metrics: http://127.0.0.1:${metricsPort}/metrics; Ctrl-C stops it`);
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
