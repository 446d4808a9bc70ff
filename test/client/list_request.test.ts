/**
 * One list page (src/kube/rest/list_request.ts) against a TLS server: items handed over one by one
 * while the answer is still arriving, the metadata at the end, an error status as an ApiError, a
 * truncated answer and a failing reduction as errors that end the request.
 */
import { afterAll, beforeAll, beforeEach, expect, test } from '@jest/globals';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { KubeObject } from '../../src/kube/objects.ts';
import { ApiError } from '../../src/kube/rest/request.ts';
import { RestConfig } from '../../src/kube/rest/config.ts';
import { listRequest } from '../../src/kube/rest/list_request.ts';
import { json, startFakeApiServer, type FakeApiServer } from './fake_api_server.ts';

let server: FakeApiServer;
let kc: RestConfig;

beforeAll(async () => {
  server = await startFakeApiServer();
  kc = new RestConfig({ server: server.url, ca: server.caPem, token: 'l' });
});

afterAll(async () => {
  kc.close();
  await server.close();
});

beforeEach(() => {
  server.requests.length = 0;
});

const pod = (name: string) => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: '{"}' }] } });

async function write(res: ServerResponse, text: string): Promise<void> {
  if (!res.write(text)) await once(res, 'drain');
}

test('items arrive one by one before the answer ends; the metadata at the end', async () => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  server.handler = async (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    await write(res, '{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42","continue":"next"},');
    await write(res, `"items":[${JSON.stringify(pod('a'))},${JSON.stringify(pod('b')).slice(0, 20)}`);
    await held;
    res.end(`${JSON.stringify(pod('b')).slice(20)}]}`);
  };
  const seen: KubeObject[] = [];
  let onFirst: () => void = () => {};
  const first = new Promise<void>((resolve) => (onFirst = resolve));
  const listed = listRequest(kc, '/api/v1/pods', { query: { limit: 500 } }, (item) => {
    seen.push(item);
    onFirst();
  });
  await first;
  expect(seen.map((p) => p.metadata?.name)).toEqual(['a']); // the answer is not over yet
  release();
  await expect(listed).resolves.toEqual({ resourceVersion: '42', continue: 'next' });
  expect(seen).toEqual([pod('a'), pod('b')]);
  expect(server.requests[0]?.url).toBe('/api/v1/pods?limit=500');
});

test('an error status is an ApiError with the Status message; no item is handed over', async () => {
  server.handler = (_req, res) => json(res, 410, { kind: 'Status', code: 410, message: 'continue token expired' });
  const seen: unknown[] = [];
  const err = await listRequest(kc, '/api/v1/pods', {}, (item) => seen.push(item)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApiError);
  expect((err as ApiError).status).toBe(410);
  expect((err as ApiError).message).toContain('continue token expired');
  expect(seen).toEqual([]);
});

test('an answer cut off inside its JSON is an error, not a shorter list', async () => {
  server.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"metadata":{},"items":[${JSON.stringify(pod('a'))},{"metadata":`);
  };
  await expect(listRequest(kc, '/api/v1/pods', {}, () => {})).rejects.toThrow('ended before its JSON did');
});

test('a reduction that throws ends the request with its error', async () => {
  server.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"metadata":{},"items":[${JSON.stringify(pod('a'))},${JSON.stringify(pod('b'))}]}`);
  };
  const seen: string[] = [];
  const listed = listRequest(kc, '/api/v1/pods', {}, (item) => {
    seen.push(item.metadata?.name ?? '');
    throw new Error(`cannot keep ${item.metadata?.name}`);
  });
  await expect(listed).rejects.toThrow('cannot keep a');
  expect(seen).toEqual(['a']);
});

test('the continue token is told before the items; items wait for ready, the answer paused', async () => {
  let sent: () => void = () => {};
  const answered = new Promise<void>((resolve) => (sent = resolve));
  server.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      `{"metadata":{"continue":"page-2","resourceVersion":"7"},"items":[${JSON.stringify(pod('a'))},${JSON.stringify(pod('b'))}]}`,
      sent,
    );
  };
  let open: () => void = () => {};
  const ready = new Promise<void>((resolve) => (open = resolve));
  const seen: string[] = [];
  let told: () => void = () => {};
  const tokenTold = new Promise<string | undefined>((resolve) => (told = () => resolve(undefined)));
  const tokens: (string | undefined)[] = [];
  const listed = listRequest(
    kc,
    '/api/v1/pods',
    {
      ready,
      onContinue: (token) => {
        tokens.push(token);
        told();
      },
    },
    (item) => seen.push(item.metadata?.name ?? ''),
  );
  // The whole answer is sent, but nothing is read before ready.
  await answered;
  expect(seen).toEqual([]);
  expect(tokens).toEqual([]);
  open();
  await tokenTold;
  await expect(listed).resolves.toEqual({ continue: 'page-2', resourceVersion: '7' });
  expect(tokens).toEqual(['page-2']);
  expect(seen).toEqual(['a', 'b']);
});

test('a rejected ready ends the request with its error', async () => {
  server.handler = (_req, res) => json(res, 200, { metadata: {}, items: [pod('a')] });
  const seen: unknown[] = [];
  const ready = Promise.reject(new Error('the page before failed'));
  await expect(listRequest(kc, '/api/v1/pods', { ready }, (item) => seen.push(item))).rejects.toThrow(
    'the page before failed',
  );
  expect(seen).toEqual([]);
});
