/**
 * Rollouts must not refuse pods: on shutdown the webhook turns unready but keeps accepting and
 * answering for the drain delay (the API server may still route to it), then stops accepting.
 * The same for the controller's /status server.
 */
import { expect, test } from '@jest/globals';
import { Agent } from 'node:https';
import { Registry } from 'prom-client';
import { startStatusServer } from '../../src/controller/status_server.ts';
import type { ControllerStatus } from '../../src/controller/status_server.ts';
import { fixture, send, startTestWebhook, type Reply } from '../support/webhook_server.ts';

test('under continuous load, close() with a drain delay: not ready at once, every review still answered, then refused', async () => {
  const { server, ca, stop } = await startTestWebhook({ drainDelayMs: 3_000 });
  const body = JSON.stringify(await fixture('daemonset-pod-create.json'));
  const keepAlive = new Agent({ keepAlive: true, ca });
  const replies: { reply?: Reply; error?: unknown; afterClose: boolean }[] = [];
  let closeStarted = false;
  let stopLoad = false;
  // Three clients: two on kept-alive connections (as the API server), one opening a connection per review.
  const client = async (agent: Agent | undefined) => {
    while (!stopLoad) {
      const afterClose = closeStarted;
      await send(server.url, { path: '/mutate', body, ca, ...(agent && { agent }) }).then(
        (reply) => replies.push({ reply, afterClose }),
        (error: unknown) => replies.push({ error, afterClose }),
      );
    }
  };
  const load = Promise.all([client(keepAlive), client(keepAlive), client(undefined)]);
  const answeredAfterClose = () => replies.filter((r) => r.afterClose && r.reply?.status === 200).length;
  // Some load before, then shutdown begins.
  while (replies.length < 30) await new Promise((r) => setImmediate(r));
  closeStarted = true;
  const closed = server.close();
  const ready = await send(server.url, { method: 'GET', path: '/readyz', ca });
  expect(ready.status).toBe(503);
  while (answeredAfterClose() < 60) await new Promise((r) => setImmediate(r));
  stopLoad = true;
  await load;

  expect(replies.filter((r) => r.error !== undefined || r.reply?.status !== 200)).toEqual([]);
  // During the drain every answer asks the client to reconnect, so no kept-alive connection is left to reset.
  const after = replies.filter((r) => r.afterClose).map((r) => r.reply!);
  expect(after.length).toBeGreaterThanOrEqual(60);
  expect(after.filter((r) => r.headers.connection !== 'close').length).toBeLessThanOrEqual(3); // at most the ones already being answered
  await closed;
  await expect(send(server.url, { path: '/mutate', body, ca })).rejects.toThrow(/ECONNREFUSED/);
  keepAlive.destroy();
  await stop();
}, 30_000);

test('the controller status server drains too: /readyz 503, /status still answered, then closed', async () => {
  const status = (): ControllerStatus => ({
    identity: 'a',
    leader: 'a',
    isLeader: true,
    synced: true,
    watcher: null,
    reason: null,
    candidates: [],
    published: null,
    note: '',
  });
  const { url, close } = await startStatusServer({ host: '127.0.0.1', port: 0, status, registry: new Registry() });
  expect((await fetch(`${url}/readyz`)).status).toBe(200);
  const closed = close(3_000);
  const ready = await fetch(`${url}/readyz`);
  expect([ready.status, await ready.text(), ready.headers.get('connection')]).toEqual([503, 'shutting down', 'close']);
  expect((await fetch(`${url}/status`)).status).toBe(200);
  await closed;
  await expect(fetch(`${url}/status`)).rejects.toThrow();
}, 30_000);
