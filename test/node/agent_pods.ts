/**
 * Agent pods as the real-node tests create them: straight to the API server with the admin's
 * credentials, so that every answer (201, or the refusal and its message) is seen as a client sees it.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { readState } from '../cluster/cluster.ts';
import { PKI_DIR } from '../cluster/paths.ts';
import { POLICY_LABEL } from '../../src/policy/labels.ts';
import { agentContainer, FAKE_AGENT_IMAGE } from '../support/objects.ts';

/** An agent pod (fake image: kwok runs it; the real node's taint keeps it off). */
export const agentPod = (namespace: string, name: string, labels: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels },
  spec: {
    containers: [agentContainer(FAKE_AGENT_IMAGE)],
    terminationGracePeriodSeconds: 0,
  },
});

export interface Created {
  status: number;
  body: any;
}

/** POSTs an agent pod labelled watch-disabled: status code and the stored pod or the error. */
export function createAgentPod(namespace: string, name: string): Promise<Created> {
  const state = readState()!;
  const body = JSON.stringify(agentPod(namespace, name, { app: 'churn', [POLICY_LABEL]: 'watch-disabled' }));
  return new Promise((resolve) => {
    const req = request(
      new URL(`/api/v1/namespaces/${namespace}/pods`, state.server),
      {
        method: 'POST',
        ca: readFileSync(join(PKI_DIR, 'ca.crt')),
        cert: readFileSync(join(PKI_DIR, 'admin.crt')),
        key: readFileSync(join(PKI_DIR, 'admin.key')),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        agent: false,
        timeout: 60_000,
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in 60 s')));
    req.on('error', (err) => resolve({ status: 0, body: { message: err.message } }));
    req.end(body);
  });
}

/** The K8S_WATCH_POLICY the webhook gave the pod's agent container, if any. */
export const policyOf = (pod: any): string | undefined =>
  pod.spec?.containers
    ?.find((c: any) => c.name === 'deepflow-agent')
    ?.env?.find((e: any) => e.name === 'K8S_WATCH_POLICY')?.value;

/** What went wrong with a create: refused, or admitted without its policy; undefined when right. */
export function wrongCreate(r: Created): string | undefined {
  if (r.status !== 201) return `${r.status} ${r.body.message}`;
  if (policyOf(r.body) !== 'watch-disabled') return `${r.body.metadata?.name} admitted without K8S_WATCH_POLICY`;
  return undefined;
}
