/**
 * The OCI registry of e2e:node: distribution's `registry` (built from Go modules with the
 * release's tools), serving HTTPS with a certificate of the cluster CA on the host's end of the
 * real node's veth pair, a host-only address that both the host (npm run release, helm, cosign)
 * and the node's containerd reach. containerd trusts it through a hosts.toml naming the CA. It
 * runs as a process of the cluster (its pid file), so `down` stops it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { nodeDirs } from '../cluster/node/config.ts';
import { NODE_LINK } from '../cluster/node/network.ts';
import { STATE_DIR } from '../cluster/paths.ts';
import { serverPair } from '../cluster/pki.ts';
import { startProcess, waitFor } from '../cluster/processes.ts';
import { tool } from '../../scripts/release/tools.ts';
import { freePort } from '../support/free_port.ts';

export interface LocalRegistry {
  /** host:port */
  host: string;
  caFile: string;
}

function answers(host: string, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`https://${host}/v2/`, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export async function startRegistry(caCertPath: string, caCert: string): Promise<LocalRegistry> {
  const address = NODE_LINK.hostIp;
  const port = await freePort(address);
  const host = `${address}:${port}`;
  const dir = join(STATE_DIR, 'registry');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const { certPath, keyPath } = await serverPair('registry', [address, '127.0.0.1']);
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    JSON.stringify({
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
      http: { addr: host, secret: randomBytes(16).toString('hex'), tls: { certificate: certPath, key: keyPath } },
    }),
  );
  startProcess(
    'registry',
    tool('registry', (line) => process.stderr.write(`[e2e:node] ${line}\n`)),
    ['serve', config],
    {
      ...process.env,
      OTEL_TRACES_EXPORTER: 'none',
    },
  );
  await waitFor(`the registry at https://${host}/v2/`, () => answers(host, caCert), 30_000);
  // containerd (in the node's namespace) reaches the same address; it trusts the cluster CA for it.
  const hosts = join(nodeDirs(STATE_DIR).registryHosts, host);
  mkdirSync(hosts, { recursive: true });
  writeFileSync(
    join(hosts, 'hosts.toml'),
    `server = "https://${host}"\n\n[host."https://${host}"]\n  capabilities = ["pull", "resolve"]\n  ca = ${JSON.stringify(caCertPath)}\n`,
  );
  return { host, caFile: caCertPath };
}
