/**
 * The certificate the webhook serves, as `check` sees it: by a TLS handshake with the webhook's
 * URL or a ready endpoint (in the cluster, on a node, or where pod IPs are routed), else from
 * the TLS Secret its Deployment names (with the right to read it), else why neither worked.
 */
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import type { KubeObject } from '../kube/objects.ts';
import type { RestConfig } from '../kube/rest/config.ts';
import { resourcePath, SECRETS } from '../kube/paths.ts';
import { kubeRequest } from '../kube/rest/request.ts';
import { errorMessage } from '../log.ts';
import type { CheckInput, WebhookView } from './check_report.ts';
import { listAll } from './cluster_read.ts';
import type { ReadyEndpoints } from './endpoint_slices.ts';

/** The certificate a TLS server presents (PEM), without trusting it: what the API server will be shown. */
function peerCertificate(host: string, port: number, servername: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      rejectUnauthorized: false,
      timeout: 3_000,
      ...(servername && { servername }),
    });
    socket.once('secureConnect', () => {
      const raw = socket.getPeerCertificate().raw;
      socket.destroy();
      if (!raw) reject(new Error('no certificate presented'));
      else resolve(new X509Certificate(raw).toString());
    });
    socket.once('timeout', () => socket.destroy(new Error('no TLS answer within 3 s')));
    socket.once('error', reject);
  });
}

interface WebhookDeployment extends KubeObject {
  spec?: { template?: { spec?: { containers?: ContainerArgs; volumes?: Volumes } } };
}

type ContainerArgs = { args?: string[] }[] | undefined;
type Volumes = { name: string; secret?: { secretName?: string } }[] | undefined;

/** The TLS Secret of a webhook pod spec: its --tls-secret, or the Secret of its certs volume. */
function secretOfSpec(containers: ContainerArgs, volumes: Volumes): string | undefined {
  const args = containers?.[0]?.args ?? [];
  const i = args.indexOf('--tls-secret');
  return i >= 0 ? args[i + 1] : volumes?.find((v) => v.name === 'certs')?.secret?.secretName;
}

/** The served certificate as the webhook's Secret holds it (needs the right to read that Secret). */
async function servedBySecret(kc: RestConfig, namespace: string): Promise<CheckInput['served']> {
  const deployments = await listAll(
    kc,
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    (o) => (o as WebhookDeployment).spec?.template?.spec,
    { labelSelector: 'app.kubernetes.io/part-of=k8s-watch-policy,app.kubernetes.io/component=webhook' },
  );
  const spec = deployments.items[0];
  const name = spec && secretOfSpec(spec.containers, spec.volumes);
  if (!name) return { from: `no webhook Deployment in ${namespace} names its TLS Secret` };
  const secret = await kubeRequest<{ data?: Record<string, string> }>(
    kc,
    'GET',
    resourcePath(SECRETS, namespace, name),
  );
  const crt = secret.data?.['tls.crt'];
  const from = `secret ${namespace}/${name}`;
  return crt ? { cert: Buffer.from(crt, 'base64').toString('utf8'), from } : { from: `${from}: no tls.crt` };
}

/** The certificate a handshake with one of `targets` is shown, or the reasons none answered. */
async function servedByHandshake(
  targets: { host: string; port: number; servername: string; from: string }[],
): Promise<CheckInput['served']> {
  const tried: string[] = [];
  for (const t of targets)
    try {
      return { cert: await peerCertificate(t.host, t.port, t.servername), from: t.from };
    } catch (err) {
      tried.push(`${t.from}: ${errorMessage(err)}`);
    }
  return { from: tried.join('; ') };
}

/** The served certificate: by a handshake with the URL or one of the Service's ready `addresses`, else from the webhook's Secret. */
export async function readServed(
  kc: RestConfig,
  webhooks: WebhookView[],
  addresses: ReadyEndpoints['addresses'],
): Promise<CheckInput['served']> {
  const first = webhooks[0];
  if (!first) return { from: 'no webhook configured' };
  if (first.url) {
    const url = new URL(first.url);
    const port = Number(url.port || 443);
    return servedByHandshake([{ host: url.hostname, port, servername: url.hostname, from: url.host }]);
  }
  const svc = first.service!;
  const servername = `${svc.name}.${svc.namespace}.svc`;
  const shaken = await servedByHandshake(
    addresses.slice(0, 3).map((a) => ({ ...a, servername, from: `endpoint ${a.host}:${a.port}` })),
  );
  if (shaken.cert) return shaken;
  const secret = await servedBySecret(kc, svc.namespace).catch((err: unknown): CheckInput['served'] => ({
    from: errorMessage(err).slice(0, 160),
  }));
  return secret.cert ? secret : { from: [shaken.from, secret.from].filter(Boolean).join('; ') };
}
