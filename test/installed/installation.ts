/**
 * The installation the release suite tests, behind one interface:
 *
 * - `KWP_RELEASE_NAMESPACE` set (`npm run e2e:kind`): a release that `helm install` put on the
 *   cluster of $KUBECONFIG, its webhook and controller running as the chart's pods;
 * - otherwise (`npm test`): the local control plane of test/cluster, with the built webhook and
 *   controller as local processes, the webhook registered by URL with the configurations the
 *   chart ships (src/webhook/webhook_configuration.ts), the controller electing in the suite's
 *   namespace only.
 *
 * Either way the suite only talks to the API server: what it checks is what a user sees.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { webhookConfigurations } from '../../src/webhook/webhook_configuration.ts';
import { KUBECONFIG } from '../cluster/paths.ts';
import { ControllerProcess } from '../support/processes.ts';
import { apply, eventually, kubectl, WebhookProcess } from '../support/cluster_harness.ts';

export interface Installation {
  /** Where the controller publishes the watcher Lease. */
  releaseNamespace: string;
  leaseName: string;
  /** An opted-in namespace for the suite's workloads, created here. */
  agentsNamespace: string;
  /** An image whose containers keep running (the agent container only needs the name `deepflow-agent`). */
  image: string;
  /** How the controller's replicas name themselves (the leader's identity starts so). */
  controllerIdentityPrefix: string;
  /** How the webhook configurations are named (Mutating and Validating alike). */
  webhookConfigurationPrefix: string;
  /** Whether the suite made the installation, and so its config ConfigMap (an installed release ships its own). */
  ownsConfig: boolean;
  stop(): Promise<void>;
}

const RUN = Math.random().toString(36).slice(2, 7);
const OPT_IN = { 'deepflow.io/k8s-watch-policy-injection': 'enabled' };

async function agentsNamespace(name: string): Promise<void> {
  apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: OPT_IN } }]);
  await eventually('the default ServiceAccount', () => kubectl(['get', 'sa', 'default', '-n', name]).status === 0);
}

export async function installation(): Promise<Installation> {
  const agents = `kwp-release-agents-${RUN}`;
  const released = process.env.KWP_RELEASE_NAMESPACE;
  if (released) {
    await agentsNamespace(agents);
    const fullname = process.env.KWP_RELEASE_NAME ?? 'k8s-watch-policy';
    return {
      releaseNamespace: released,
      leaseName: process.env.KWP_LEASE_NAME ?? 'k8s-watcher',
      agentsNamespace: agents,
      image: process.env.KWP_AGENT_IMAGE ?? 'registry.k8s.io/pause:3.10',
      controllerIdentityPrefix: `${fullname}-controller-`,
      webhookConfigurationPrefix: fullname,
      ownsConfig: false,
      // The release's controller elects across the cluster: the next suite starts with none of these agents.
      stop: async () => void kubectl(['delete', 'namespace', agents, '--wait=true', '--timeout=120s']),
    };
  }
  return localInstallation(agents);
}

async function localInstallation(agents: string): Promise<Installation> {
  const release = `kwp-release-${RUN}`;
  const name = `kwp-release-${RUN}`;
  const dir = mkdtempSync(join(tmpdir(), 'kwp-release-'));
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, stringify({ election: { namespaces: [agents], leaseName: 'k8s-watcher' } }));
  apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: release } }]);
  await agentsNamespace(agents);

  const webhook = new WebhookProcess();
  const caBundle = Buffer.from(readFileSync(await webhook.makeCertificates(), 'utf8')).toString('base64');
  await webhook.start(['--config', configFile]);
  const { mutating, validating } = webhookConfigurations({
    name,
    clientConfig: (path) => ({ url: `${webhook.url}${path}`, caBundle }),
    excludeNamespaces: [release],
    failurePolicy: 'Fail',
    timeoutSeconds: 10,
  });
  apply([mutating, validating]);

  // A short grace period for MultipleWatchOnlyAgents (60 s by default; the chart's value
  // controller.multipleWatchOnlyGrace sets it for an installed release).
  const grace = ['--multiple-watch-only-grace', '2s', '--drain-delay', '0'];
  const controller = new ControllerProcess([
    '--kubeconfig',
    KUBECONFIG,
    '--config',
    configFile,
    '--namespace',
    release,
    '--identity',
    `release-${RUN}`,
    ...grace,
  ]);
  await controller.start();

  return {
    releaseNamespace: release,
    leaseName: 'k8s-watcher',
    agentsNamespace: agents,
    image: 'registry.example.com/deepflow-ce/deepflow-agent:v6.6',
    controllerIdentityPrefix: `release-${RUN}`,
    webhookConfigurationPrefix: name,
    ownsConfig: true,
    stop: async () => {
      kubectl(['delete', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', name, '--ignore-not-found']);
      await Promise.all([webhook.stop(), controller.stop()]);
      webhook.cleanup();
      kubectl(['delete', 'namespace', agents, release, '--wait=false']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The installation's config as the chart ships it, a ConfigMap in the release namespace (`status`,
 * `audit` and `check` read it there); a release installed by Helm has its own already.
 */
export function shipConfig(inst: Installation, config: unknown): void {
  if (!inst.ownsConfig) return;
  apply([
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'k8s-watch-policy-config',
        namespace: inst.releaseNamespace,
        labels: { 'app.kubernetes.io/part-of': 'k8s-watch-policy' },
      },
      data: { 'config.yaml': stringify(config) },
    },
  ]);
}
