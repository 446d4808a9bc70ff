/**
 * One watch stream (src/kube/rest/watch.ts) against a TLS server that writes what kube-apiserver
 * writes, and what it writes when things go wrong: lines split across chunks, an error status,
 * silence, a reset connection.
 */
import { afterAll, beforeAll, beforeEach, expect, test } from '@jest/globals';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { ApiError } from '../../src/kube/rest/request.ts';
import { RestConfig } from '../../src/kube/rest/config.ts';
import { openWatch } from '../../src/kube/rest/watch.ts';
import { json, startFakeApiServer, type FakeApiServer } from './fake_api_server.ts';

let server: FakeApiServer;
let kc: RestConfig;

beforeAll(async () => {
  server = await startFakeApiServer();
  kc = new RestConfig({ server: server.url, ca: server.caPem, token: 'w' });
});

afterAll(async () => {
  kc.close();
  await server.close();
});

beforeEach(() => {
  server.requests.length = 0;
});

interface Recorded {
  events: [string, unknown][];
  done: Promise<unknown>;
  doneCalls: number;
}

function recorder(): Recorded & { onEvent: (type: string, object: unknown) => void; onDone: (err?: unknown) => void } {
  let resolve: (err: unknown) => void = () => {};
  const r = {
    events: [] as [string, unknown][],
    done: new Promise<unknown>((res) => (resolve = res)),
    doneCalls: 0,
    onEvent: (type: string, object: unknown) => void r.events.push([type, object]),
    onDone: (err?: unknown) => {
      r.doneCalls++;
      resolve(err ?? 'closed');
    },
  };
  return r;
}

const line = (type: string, name: string, rv: string) =>
  JSON.stringify({ type, object: { kind: 'Pod', metadata: { name, resourceVersion: rv } } }) + '\n';

function streaming(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
  res.flushHeaders();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('events in order, lines split across chunks; the server ending the stream is a normal close', async () => {
  server.handler = async (_req, res) => {
    streaming(res);
    const text =
      line('ADDED', 'a', '1') +
      line('MODIFIED', 'a', '2') +
      '\n' +
      line('BOOKMARK', '', '3') +
      line('DELETED', 'a', '4');
    let from = 0;
    for (const to of [7, 50, 51, 130, text.length]) {
      res.write(text.slice(from, to));
      from = to;
      await sleep(5);
    }
    res.end();
  };
  const r = recorder();
  await openWatch(
    kc,
    '/api/v1/namespaces/ns/pods',
    { resourceVersion: '0', labelSelector: 'app=x' },
    5000,
    r.onEvent,
    r.onDone,
  );
  expect(await r.done).toBe('closed');
  expect(
    r.events.map(([type, o]) => `${type}:${(o as { metadata: { resourceVersion: string } }).metadata.resourceVersion}`),
  ).toEqual(['ADDED:1', 'MODIFIED:2', 'BOOKMARK:3', 'DELETED:4']);
  expect(server.requests[0]!.url).toBe('/api/v1/namespaces/ns/pods?resourceVersion=0&labelSelector=app%3Dx&watch=1');
  expect(server.requests[0]!.headers.authorization).toBe('Bearer w');
  expect(r.doneCalls).toBe(1);
});

test('an error status (410 Gone) rejects the open with the Status message and code', async () => {
  server.handler = (_req, res) =>
    json(res, 410, { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 1 (5)' });
  const r = recorder();
  const opened = openWatch(kc, '/api/v1/pods', { resourceVersion: '1' }, 5000, r.onEvent, r.onDone);
  await expect(opened).rejects.toBeInstanceOf(ApiError);
  await expect(opened).rejects.toMatchObject({
    status: 410,
    message: expect.stringContaining('too old resource version'),
  });
  expect(r.doneCalls).toBe(0);
});

test('a silent stream ends with a TimeoutError after the idle limit', async () => {
  server.handler = (_req, res) => streaming(res);
  const r = recorder();
  await openWatch(kc, '/api/v1/pods', {}, 300, r.onEvent, r.onDone);
  const err = (await r.done) as Error;
  expect(err.name).toBe('TimeoutError');
  expect(err.message).toContain('nothing received for 300 ms');
});

test('abort ends the connection and calls no onDone', async () => {
  let closed!: Promise<unknown>;
  server.handler = (req, res) => {
    streaming(res);
    res.write(line('ADDED', 'a', '1'));
    closed = once(req.socket, 'close');
  };
  const r = recorder();
  const handle = await openWatch(kc, '/api/v1/pods', {}, 5000, r.onEvent, r.onDone);
  while (r.events.length === 0) await sleep(5);
  handle.abort();
  await closed;
  await sleep(50);
  expect(r.doneCalls).toBe(0);
  expect(r.events).toHaveLength(1);
});

test('a line that is not JSON ends the stream with an error; nothing after it is delivered', async () => {
  server.handler = (_req, res) => {
    streaming(res);
    res.write(line('ADDED', 'a', '1') + '<html>proxy error</html>\n' + line('ADDED', 'b', '2'));
  };
  const r = recorder();
  await openWatch(kc, '/api/v1/pods', {}, 5000, r.onEvent, r.onDone);
  expect(String(await r.done)).toContain('not JSON: <html>proxy error');
  expect(r.events).toHaveLength(1);
});

test('a connection reset mid-stream is an error, not a normal close', async () => {
  server.handler = (req, res) => {
    streaming(res);
    res.write(line('ADDED', 'a', '1'));
    setTimeout(() => req.socket.destroy(), 20);
  };
  const r = recorder();
  await openWatch(kc, '/api/v1/pods', {}, 5000, r.onEvent, r.onDone);
  const err = await r.done;
  expect(err).not.toBe('closed');
  expect(err).toMatchObject({ message: expect.stringMatching(/closed mid-stream|aborted|ECONNRESET|socket hang up/) });
  expect(r.events).toHaveLength(1);
  expect(r.doneCalls).toBe(1);
});

test('a server that cannot be reached rejects the open', async () => {
  const nowhere = new RestConfig({ server: 'https://127.0.0.1:1', ca: server.caPem });
  await expect(
    openWatch(
      nowhere,
      '/api/v1/pods',
      {},
      5000,
      () => {},
      () => {},
    ),
  ).rejects.toThrow(/ECONNREFUSED/);
});
