/**
 * Injecting one fault of the plan and healing it: SIGKILL and restart of kube-apiserver or etcd
 * (by their pid files, restarted with the command line they ran with), SIGKILL of the leading
 * controller or a webhook replica (restarted), SIGSTOP/SIGCONT of the leader, and its own relay
 * to kube-apiserver cut or slowed.
 */
import { readFileSync } from 'node:fs';
import { isRunning, runningPid, startProcess } from '../cluster/processes.ts';
import type { TcpRelay } from '../support/tcp_relay.ts';
import { sleep } from '../support/wait.ts';
import type { Api } from './api.ts';
import type { History } from './history.ts';
import type { Replica } from './replica.ts';
import type { Fault } from './schedule.ts';

export interface FaultTargets {
  api: Api;
  history: History;
  controllers: Replica[];
  /** controllers[i] reaches kube-apiserver through relays[i]. */
  relays: TcpRelay[];
  webhooks: Replica[];
  /** The controllers' leader Lease. */
  leaderLeasePath: string;
  /** The path of the pod labelled as the watcher, if any. */
  watcherPod: () => Promise<string | undefined>;
  /** Before a webhook replica is killed: read its counters one last time. */
  beforeWebhookKill: (replica: Replica) => Promise<void>;
}

async function apiReady(api: Api): Promise<boolean> {
  return api.request<string>('GET', '/readyz', undefined, undefined, 3000).then(
    () => true,
    () => false,
  );
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(200);
  }
}

/** SIGKILL of a control-plane component; returns its command line for the restart. */
async function killComponent(name: string): Promise<string[]> {
  const pid = runningPid(name);
  if (pid === undefined) throw new Error(`${name} is not running`);
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    .split('\0')
    .filter((a) => a !== '');
  process.kill(pid, 'SIGKILL');
  await until(`${name} gone`, () => !isRunning(name), 10_000);
  return argv;
}

/** The replica that holds the controllers' leader Lease (waits for one). */
export async function leader(t: FaultTargets, timeoutMs = 60_000): Promise<number> {
  let index = -1;
  await until(
    'a controller leader',
    async () => {
      const lease = await t.api.find(t.leaderLeasePath).catch(() => undefined);
      const holder = lease?.spec?.holderIdentity;
      index = t.controllers.findIndex((c) => c.name === holder && c.running && !c.paused);
      return index >= 0;
    },
    timeoutMs,
  );
  return index;
}

/** Injects the fault, holds it, heals it; resolves when it is healed (processes back and ready). */
export async function inject(fault: Fault, t: FaultTargets): Promise<void> {
  const { history } = t;
  const note = (detail: string) => history.add('fault', `${fault.class} #${fault.index}: ${detail}`);
  switch (fault.class) {
    case 'apiserver-kill':
    case 'etcd-kill': {
      const name = fault.class === 'etcd-kill' ? 'etcd' : 'kube-apiserver';
      const argv = await killComponent(name);
      note(`${name} killed; restart in ${fault.holdMs} ms`);
      await sleep(fault.holdMs);
      startProcess(name, argv[0]!, argv.slice(1));
      await until('kube-apiserver /readyz', () => apiReady(t.api), 120_000);
      note(`${name} restarted (pid ${runningPid(name)}), kube-apiserver ready`);
      return;
    }
    case 'leader-kill': {
      const c = t.controllers[await leader(t)]!;
      await c.kill('SIGKILL');
      note(`leader ${c.name} killed; restart in ${fault.holdMs} ms`);
      await sleep(fault.holdMs);
      if (!c.running) c.start();
      await c.ready(120_000);
      note(`${c.name} restarted`);
      return;
    }
    case 'webhook-kill': {
      const w = t.webhooks[fault.replica]!;
      await t.beforeWebhookKill(w);
      await w.kill('SIGKILL');
      note(`webhook ${w.name} killed; restart in ${fault.holdMs} ms`);
      await sleep(fault.holdMs);
      w.start();
      if (!(await w.ready(60_000))) throw new Error(`${w.name} did not become ready after its restart`);
      note(`${w.name} restarted`);
      return;
    }
    case 'leader-pause': {
      const c = t.controllers[await leader(t)]!;
      // Frozen in the middle of a publication: the watcher pod is deleted, so the leader moves the label.
      const watcher = await t.watcherPod();
      if (watcher) await t.api.delete(watcher).catch(() => undefined);
      await sleep(fault.freezeAfterMs);
      c.pause();
      note(
        `leader ${c.name} stopped (SIGSTOP) for ${fault.holdMs} ms, ${fault.freezeAfterMs} ms after ${watcher ? `deleting the watcher pod ${watcher.split('/').pop()}` : 'finding no watcher pod'}`,
      );
      await sleep(fault.holdMs);
      c.resume();
      note(`${c.name} continued (SIGCONT)`);
      return;
    }
    case 'leader-network-cut': {
      const i = await leader(t);
      t.relays[i]!.cut();
      note(`${t.controllers[i]!.name} cut from kube-apiserver for ${fault.holdMs} ms`);
      await sleep(fault.holdMs);
      t.relays[i]!.restore();
      note(`${t.controllers[i]!.name} reconnected`);
      return;
    }
    case 'leader-network-delay': {
      const i = await leader(t);
      t.relays[i]!.delay(fault.delayMs);
      note(`${t.controllers[i]!.name}'s traffic delayed ${fault.delayMs} ms each way for ${fault.holdMs} ms`);
      await sleep(fault.holdMs);
      t.relays[i]!.delay(0);
      note(`${t.controllers[i]!.name}'s traffic no longer delayed`);
      return;
    }
  }
}
