/**
 * The real node's network: a network namespace of its own, joined to the host by a veth pair, the
 * way a kind node is a container. containerd, the kubelet and kube-proxy run in it (nsenter), so
 * their iptables rules (the kubelet's KUBE-FIREWALL, kube-proxy's services), the pods' bridge and
 * the network sysctls they set (ip_forward) live and die with the namespace: `down` deletes it and
 * nothing of it is left on the host, whatever tables the host had or lacked before.
 *
 * The host keeps two routes through the veth, and they go with it: the pods' range (kube-apiserver
 * calls the kubelet's pods and port-forwards) and the service range (kube-apiserver calls webhooks
 * by their Service's ClusterIP, which kube-proxy in the namespace translates), as a control plane
 * reaches the nodes of a real cluster.
 */
import { createHash } from 'node:crypto';
import { POD_CIDR } from './config.ts';

/** The veth pair's /30: the host's end (the API server's advertised address) and the node's (its InternalIP). */
export const NODE_LINK = { cidr: '10.245.0.0/30', hostIp: '10.245.0.1', nodeIp: '10.245.0.2', prefix: 30 } as const;
/** The node's end of the veth pair, inside its namespace. */
export const NODE_LINK_DEVICE = 'kwpn0';

export interface NodeNetwork {
  /** The network namespace (/run/netns/<name>). */
  netns: string;
  /** The host's end of the veth pair (at most 15 characters). */
  hostDevice: string;
}

/** One namespace per cluster directory, so that two directories never share one by accident. */
export function nodeNetwork(stateDir: string): NodeNetwork {
  const id = createHash('sha256').update(stateDir).digest('hex').slice(0, 8);
  return { netns: `kwp-node-${id}`, hostDevice: `kwph-${id}` };
}

/** The command line prefix that runs a program in the node's namespace (and nothing else of the host changed). */
export function inNodeNetns(network: NodeNetwork): string[] {
  return ['nsenter', `--net=/run/netns/${network.netns}`, '--'];
}

/** The `ip` invocations that make the namespace, the veth pair and the host's routes to it, in order. */
export function nodeNetworkSetup(network: NodeNetwork, serviceCidr: string): string[][] {
  const { netns, hostDevice } = network;
  const link = `/${NODE_LINK.prefix}`;
  return [
    ['netns', 'add', netns],
    ['-n', netns, 'link', 'set', 'lo', 'up'],
    ['link', 'add', hostDevice, 'type', 'veth', 'peer', 'name', NODE_LINK_DEVICE, 'netns', netns],
    ['addr', 'add', `${NODE_LINK.hostIp}${link}`, 'dev', hostDevice],
    ['link', 'set', hostDevice, 'up'],
    ['-n', netns, 'addr', 'add', `${NODE_LINK.nodeIp}${link}`, 'dev', NODE_LINK_DEVICE],
    ['-n', netns, 'link', 'set', NODE_LINK_DEVICE, 'up'],
    ['-n', netns, 'route', 'add', 'default', 'via', NODE_LINK.hostIp],
    ['route', 'add', POD_CIDR, 'via', NODE_LINK.nodeIp, 'dev', hostDevice],
    ['route', 'add', serviceCidr, 'via', NODE_LINK.nodeIp, 'dev', hostDevice],
  ];
}

/** Network sysctls set inside the namespace only: the node forwards between its veth and the pods' bridge. */
export const NODE_NETNS_SYSCTLS: Record<string, string> = { 'net/ipv4/ip_forward': '1' };
