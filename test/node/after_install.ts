/**
 * The refusal window after `helm install --wait`: agent pods created one after another from the
 * moment install returns, as a DaemonSet rolling out right after the chart would. With
 * self-managed certificates the caBundle starts empty; the webhook is Ready only once the
 * configurations trust what it serves (src/certs/ca_bundle_gate.ts), so none may be refused.
 */
import { createAgentPod, wrongCreate } from './agent_pods.ts';

export const AFTER_INSTALL_NAMESPACE = 'kwp-after-install';
export const AFTER_INSTALL_OPT_IN = { 'deepflow.io/k8s-watch-policy-injection': 'enabled' };

export interface AfterInstall {
  creates: number;
  seconds: number;
  /** Each create that was refused or admitted without its policy, with its offset from the start (s). */
  wrong: { at: number; what: string }[];
}

/** Creates `count` agent pods back to back from now, each as soon as the one before is answered. */
export async function createFromNow(namespace: string, count: number): Promise<AfterInstall> {
  const start = Date.now();
  const wrong: AfterInstall['wrong'] = [];
  for (let i = 0; i < count; i++) {
    const sent = Date.now();
    const what = wrongCreate(await createAgentPod(namespace, `after-install-${i}`));
    if (what) wrong.push({ at: (sent - start) / 1000, what });
  }
  return { creates: count, seconds: (Date.now() - start) / 1000, wrong };
}

export function describeAfterInstall({ creates, seconds, wrong }: AfterInstall): string {
  const head = `${creates} agent pods created over ${seconds.toFixed(1)} s from the moment helm install --wait returned: ${wrong.length} refused or without their policy`;
  if (wrong.length === 0) return head;
  const last = wrong[wrong.length - 1]!;
  return `${head}; the first at +${wrong[0]!.at.toFixed(2)} s (${wrong[0]!.what.slice(0, 200)}), the last at +${last.at.toFixed(2)} s`;
}
