/** The command lines of the control-plane components, on loopback, in start order. */
import { join } from 'node:path';
import { KUBECONFIG, KWOK_STAGES, PKI_DIR, STATE_DIR } from './paths.ts';
import type { Pki } from './pki.ts';

export interface Ports {
  etcd: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
  kwok: number;
}

export interface Component {
  name: string;
  binary: string;
  args: string[];
}

export const SERVICE_CIDR = '10.96.0.0/12';

/**
 * How long a kwok node's Lease lasts (`K8S_WATCH_POLICY_NODE_LEASE_SECONDS`, default 40, the
 * kubelet's). kwok renews it every quarter of that; kube-controller-manager marks a node NotReady
 * once its Lease is older than the grace period, 20 s less than the Lease (20 s at the default,
 * so that the tests see a dead node quickly). Large benchmark clusters take it longer: 5,000
 * nodes renewing every 10 s are 500 writes/s, more than kube-apiserver and etcd serve on 2
 * cores, and kwok needs minutes to take up that many new nodes, which must not count as dead.
 */
export function nodeLeaseSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.K8S_WATCH_POLICY_NODE_LEASE_SECONDS;
  if (raw === undefined || raw === '') return 40;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 40 || n > 3600) {
    throw new Error(
      `K8S_WATCH_POLICY_NODE_LEASE_SECONDS must be a whole number of seconds from 40 to 3600, got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

/**
 * With a real node (`up --node`), pods must reach kube-apiserver through the `kubernetes` Service:
 * it listens on every address and advertises `advertiseAddress` (the host's end of the node's veth
 * pair), which its endpoint reconciler publishes; it reaches the kubelet by the node's InternalIP
 * (the node's name would resolve to loopback, which its proxy refuses), with the admin
 * certificate the kubelet trusts.
 */
function apiserverNetworkArgs(loopback: string, pki: Pki, advertiseAddress: string | undefined): string[] {
  if (advertiseAddress === undefined) {
    return [
      `--bind-address=${loopback}`,
      `--advertise-address=${loopback}`,
      '--endpoint-reconciler-type=none', // 127.0.0.1 is not a valid endpoint for the kubernetes Service
    ];
  }
  return [
    '--bind-address=0.0.0.0',
    `--advertise-address=${advertiseAddress}`,
    '--kubelet-preferred-address-types=InternalIP',
    `--kubelet-client-certificate=${pki.adminCertPath}`,
    `--kubelet-client-key=${pki.adminKeyPath}`,
  ];
}

/** `apiserverArgs`: more flags for kube-apiserver (the soak's audit log). */
export function components(
  bin: string,
  ports: Ports,
  pki: Pki,
  leaseSeconds = nodeLeaseSeconds(),
  advertiseAddress?: string,
  apiserverArgs: readonly string[] = [],
): Component[] {
  const loopback = '127.0.0.1';
  return [
    {
      name: 'etcd',
      binary: join(bin, 'etcd'),
      args: [
        '--name=node0',
        `--data-dir=${join(STATE_DIR, 'etcd')}`,
        `--listen-client-urls=http://${loopback}:${ports.etcd}`,
        `--advertise-client-urls=http://${loopback}:${ports.etcd}`,
        `--listen-peer-urls=http://${loopback}:${ports.etcdPeer}`,
        `--initial-advertise-peer-urls=http://${loopback}:${ports.etcdPeer}`,
        `--initial-cluster=node0=http://${loopback}:${ports.etcdPeer}`,
        '--auto-compaction-retention=1',
        '--quota-backend-bytes=8589934592',
        '--unsafe-no-fsync=true', // a throwaway test cluster: durability buys nothing here
      ],
    },
    {
      name: 'kube-apiserver',
      binary: join(bin, 'kube-apiserver'),
      args: [
        `--etcd-servers=http://${loopback}:${ports.etcd}`,
        ...apiserverNetworkArgs(loopback, pki, advertiseAddress),
        `--secure-port=${ports.apiserver}`,
        `--cert-dir=${join(PKI_DIR, 'apiserver')}`,
        `--tls-cert-file=${pki.adminCertPath}`,
        `--tls-private-key-file=${pki.adminKeyPath}`,
        `--client-ca-file=${pki.caCertPath}`,
        `--service-account-key-file=${pki.serviceAccountPublicKeyPath}`,
        `--service-account-signing-key-file=${pki.adminKeyPath}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--proxy-client-cert-file=${pki.adminCertPath}`,
        `--proxy-client-key-file=${pki.adminKeyPath}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--authorization-mode=Node,RBAC',
        // The defaults plus the ones a production cluster runs; webhooks included by default.
        '--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,NodeRestriction,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ResourceQuota,PodSecurity',
        '--allow-privileged=true',
        // PodTemplates are watched straight from etcd: the informer test compacts etcd and needs the
        // 410 Gone a long-running cluster gives. A young watch cache instead replays its initial
        // state for a watch from any older version.
        '--watch-cache-sizes=podtemplates#0',
        ...apiserverArgs,
      ],
    },
    {
      name: 'kube-controller-manager',
      binary: join(bin, 'kube-controller-manager'),
      args: [
        `--kubeconfig=${KUBECONFIG}`,
        `--authentication-kubeconfig=${KUBECONFIG}`,
        `--authorization-kubeconfig=${KUBECONFIG}`,
        `--bind-address=${loopback}`,
        `--secure-port=${ports.controllerManager}`,
        `--root-ca-file=${pki.caCertPath}`,
        `--service-account-private-key-file=${pki.adminKeyPath}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--leader-elect=false',
        '--use-service-account-credentials=false',
        '--node-monitor-period=5s',
        `--node-monitor-grace-period=${leaseSeconds - 20}s`,
        '--kube-api-qps=1000',
        '--kube-api-burst=2000',
      ],
    },
    {
      name: 'kube-scheduler',
      binary: join(bin, 'kube-scheduler'),
      args: [
        `--kubeconfig=${KUBECONFIG}`,
        `--authentication-kubeconfig=${KUBECONFIG}`,
        `--authorization-kubeconfig=${KUBECONFIG}`,
        `--bind-address=${loopback}`,
        `--secure-port=${ports.scheduler}`,
        '--leader-elect=false',
      ],
    },
    {
      name: 'kwok',
      binary: join(bin, 'kwok'),
      args: [
        `--kubeconfig=${KUBECONFIG}`,
        `--config=${KWOK_STAGES}`,
        '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        `--tls-cert-file=${pki.adminCertPath}`,
        `--tls-private-key-file=${pki.adminKeyPath}`,
        `--node-ip=${loopback}`,
        `--node-port=${ports.kwok}`,
        `--server-address=${loopback}:${ports.kwok}`,
        `--node-lease-duration-seconds=${leaseSeconds}`,
      ],
    },
  ];
}
