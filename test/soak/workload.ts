/**
 * The soak's workload: agent pods created and deleted all the time in one opted-in namespace, by
 * a DaemonSet over the kwok nodes, a watcher Deployment that is rolled and scaled, application
 * Deployments with agent sidecars, bare agent pods the soak creates itself (and now and then one
 * the webhook must refuse), and kwok nodes added, removed and turned NotReady. Every choice comes
 * from the seeded PRNG.
 */
import type { Api, Json } from './api.ts';
import { DEPRECATED_ENV, INJECTION_LABEL, ROLE_LABEL, WATCHER_LABEL } from './product_names.ts';
import type { Rng } from './prng.ts';
import { isAgentPod } from './invariants.ts';
import { agentContainer, type EnvEntry } from '../support/objects.ts';

export const NAMESPACE = 'soak';
export const AGENT_IMAGE = 'registry.example/deepflow/deepflow-agent:v7.1.0';
const NODE_ANNOTATION = 'kwok.x-k8s.io/node';
const SOAK_NODE_LABEL = 'soak.k8s-watch-policy/node';
const MAX_SOAK_NODES = 4;
const MAX_BARE_PODS = 4;
const APPS = ['app-0', 'app-1'];

const ns = (path: string) => `/api/v1/namespaces/${NAMESPACE}/${path}`;
const apps = (path: string) => `/apis/apps/v1/namespaces/${NAMESPACE}/${path}`;
const agent = (env: EnvEntry[] = []) => agentContainer(AGENT_IMAGE, env);

export function namespace(): Json {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NAMESPACE, labels: { [INJECTION_LABEL]: 'enabled' } },
  };
}

export function daemonSet(): Json {
  const labels = { app: 'agent' };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: NAMESPACE },
    spec: {
      selector: { matchLabels: labels },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } },
      template: {
        metadata: { labels },
        spec: {
          containers: [agent()],
          tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists' }],
          terminationGracePeriodSeconds: 1,
        },
      },
    },
  };
}

export function watcherDeployment(replicas = 1): Json {
  const labels = { app: 'watcher', [ROLE_LABEL]: 'k8s-watcher' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'watcher', namespace: NAMESPACE },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'watcher' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      template: { metadata: { labels }, spec: { containers: [agent()], terminationGracePeriodSeconds: 1 } },
    },
  };
}

export function appDeployment(name: string, replicas = 2): Json {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [{ name: 'app', image: 'registry.example/shop/app:1.0' }, agent()],
          terminationGracePeriodSeconds: 1,
        },
      },
    },
  };
}

export function barePod(name: string, refused = false): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { app: 'bare' } },
    spec: {
      containers: [agent(refused ? [{ name: DEPRECATED_ENV, value: 'true' }] : [])],
      terminationGracePeriodSeconds: 1,
    },
  };
}

export function kwokNode(name: string): Json {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
        [SOAK_NODE_LABEL]: 'true',
      },
    },
  };
}

/** What one step did; `created` when the soak created a pod itself (its admission answer). */
export interface Step {
  action: string;
  detail: string;
  created?: { expectDenied: boolean; code: number; message: string; pod: Json | undefined };
}

const ACTIONS = [
  'delete-agent-pod',
  'delete-agent-pod',
  'delete-watcher-pod',
  'create-bare-pod',
  'create-bare-pod',
  'create-refused-pod',
  'delete-bare-pod',
  'roll-watcher',
  'scale-watcher',
  'scale-app',
  'add-node',
  'remove-node',
  'node-not-ready',
  'node-ready',
] as const;

export class Workload {
  private counter = 0;

  private readonly api: Api;
  private readonly rng: Rng;

  constructor(api: Api, rng: Rng) {
    this.api = api;
    this.rng = rng;
  }

  /** The objects of a fresh run (the namespace is created by the caller first). */
  async setUp(): Promise<void> {
    await this.api.apply('/apis/apps/v1/namespaces/soak/daemonsets', daemonSet());
    await this.api.apply('/apis/apps/v1/namespaces/soak/deployments', watcherDeployment());
    for (const name of APPS) await this.api.apply('/apis/apps/v1/namespaces/soak/deployments', appDeployment(name));
    for (let i = 0; i < 2; i++) await this.api.apply('/api/v1/nodes', kwokNode(`soak-node-${this.counter++}`));
  }

  /** One action chosen by the PRNG. A failed request (a fault in progress) is the step's outcome, not an error. */
  async step(): Promise<Step> {
    const action = this.rng.pick(ACTIONS);
    const roll = this.rng.next();
    const n = this.counter++;
    const pods = async () =>
      (await this.api.list(ns('pods'))).items.filter((p) => isAgentPod(p) && !p.metadata?.deletionTimestamp);
    const pickOf = <T>(xs: T[]): T | undefined => (xs.length ? xs[Math.floor(roll * xs.length)] : undefined);
    const soakNodes = async () =>
      (await this.api.list('/api/v1/nodes', { labelSelector: `${SOAK_NODE_LABEL}=true` })).items;
    switch (action) {
      case 'delete-agent-pod':
      case 'delete-watcher-pod': {
        const all = await pods();
        const pod = pickOf(
          action === 'delete-watcher-pod' ? all.filter((p) => p.metadata?.labels?.[WATCHER_LABEL] === 'true') : all,
        );
        if (!pod) return { action, detail: 'no pod to delete' };
        await this.api.delete(ns(`pods/${pod.metadata.name}`));
        return { action, detail: pod.metadata.name };
      }
      case 'create-bare-pod':
      case 'create-refused-pod': {
        const refused = action === 'create-refused-pod';
        if (!refused && (await pods()).filter((p) => p.metadata?.labels?.app === 'bare').length >= MAX_BARE_PODS)
          return { action, detail: 'enough bare pods' };
        const name = `bare-${n}`;
        try {
          const pod = await this.api.request('POST', ns('pods'), barePod(name, refused));
          return { action, detail: name, created: { expectDenied: refused, code: 201, message: '', pod } };
        } catch (err) {
          const status = (err as { status?: number }).status ?? 0;
          return {
            action,
            detail: `${name}: ${(err as Error).message}`,
            created: { expectDenied: refused, code: status, message: (err as Error).message, pod: undefined },
          };
        }
      }
      case 'delete-bare-pod': {
        const pod = pickOf((await pods()).filter((p) => p.metadata?.labels?.app === 'bare'));
        if (!pod) return { action, detail: 'no bare pod' };
        await this.api.delete(ns(`pods/${pod.metadata.name}`));
        return { action, detail: pod.metadata.name };
      }
      case 'roll-watcher':
        await this.api.request('PATCH', apps('deployments/watcher'), {
          spec: { template: { metadata: { annotations: { 'soak.k8s-watch-policy/rollout': String(n) } } } },
        });
        return { action, detail: `rollout ${n}` };
      case 'scale-watcher': {
        const replicas = roll < 0.15 ? 0 : roll < 0.75 ? 1 : 2;
        await this.api.request('PATCH', apps('deployments/watcher'), { spec: { replicas } });
        return { action, detail: `replicas ${replicas}` };
      }
      case 'scale-app': {
        const name = APPS[n % APPS.length]!;
        const replicas = Math.floor(roll * 4);
        await this.api.request('PATCH', apps(`deployments/${name}`), { spec: { replicas } });
        return { action, detail: `${name} replicas ${replicas}` };
      }
      case 'add-node': {
        if ((await soakNodes()).length >= MAX_SOAK_NODES) return { action, detail: 'enough nodes' };
        await this.api.request('POST', '/api/v1/nodes', kwokNode(`soak-node-${n}`));
        return { action, detail: `soak-node-${n}` };
      }
      case 'remove-node': {
        const node = pickOf(await soakNodes());
        if (!node) return { action, detail: 'no soak node' };
        await this.api.delete(`/api/v1/nodes/${node.metadata.name}`);
        return { action, detail: node.metadata.name };
      }
      case 'node-not-ready':
      case 'node-ready': {
        // kwok stops heartbeating a node without its annotation: kube-controller-manager marks it NotReady.
        const managed = action === 'node-ready';
        const node = pickOf(
          (await soakNodes()).filter((x) => (x.metadata?.annotations?.[NODE_ANNOTATION] === 'fake') !== managed),
        );
        if (!node) return { action, detail: 'no such node' };
        await this.api.request('PATCH', `/api/v1/nodes/${node.metadata.name}`, {
          metadata: { annotations: { [NODE_ANNOTATION]: managed ? 'fake' : null } },
        });
        return { action, detail: node.metadata.name };
      }
    }
  }
}
