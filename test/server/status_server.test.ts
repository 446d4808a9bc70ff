/**
 * The controller's status server (an express 5 app): its four GET routes, HEAD like GET, exact
 * paths, 405 naming GET for other methods, a plain-text 404, and no X-Powered-By or ETag.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Counter, Registry } from 'prom-client';
import { startStatusServer, statusJson } from '../../src/controller/status_server.ts';
import type { ControllerStatus } from '../../src/controller/status_server.ts';

let server: Awaited<ReturnType<typeof startStatusServer>>;
let synced = false;
let rows = 0;

/** Rows as the controller yields them: a generator, iterable once. */
function* candidateRows(n: number): Generator<ControllerStatus['candidates'] extends Iterable<infer R> ? R : never> {
  for (let i = 0; i < n; i++)
    yield {
      namespace: 'apps',
      name: `shop-${i}`,
      node: `node-${i % 7}`,
      policy: 'watch-disabled',
      eligible: false,
      reason: 'watch-disabled',
    };
}

const status = (): ControllerStatus => ({
  identity: 'a',
  leader: 'a',
  isLeader: true,
  synced,
  watcher: null,
  reason: null,
  candidates: candidateRows(rows),
  published: null,
  note: 'a note',
});

beforeAll(async () => {
  const registry = new Registry();
  new Counter({ name: 'kwp_test_total', help: 'a test counter', registers: [registry] }).inc(3);
  server = await startStatusServer({ host: '127.0.0.1', port: 0, status, registry });
});

afterAll(() => server.close());

test('GET /status is the controller status as JSON', async () => {
  const res = await fetch(`${server.url}/status`);
  expect([res.status, res.headers.get('content-type')]).toEqual([200, 'application/json; charset=utf-8']);
  expect(await res.json()).toEqual({ ...status(), candidates: [] });
  expect([res.headers.get('x-powered-by'), res.headers.get('etag')]).toEqual([null, null]);
});

test.each([0, 1, 499, 500, 1201])(
  'the body with %d candidates is JSON.stringify(status, null, 2), written in pieces of 500 rows',
  (n) => {
    rows = n;
    const pieces = [...statusJson(status())];
    expect(pieces.join('')).toBe(JSON.stringify({ ...status(), candidates: [...candidateRows(n)] }, null, 2) + '\n');
    expect(pieces).toHaveLength(Math.floor(n / 500) + 1);
    rows = 0;
  },
);

test('GET /status streams 20,000 rows whole', async () => {
  rows = 20_000;
  const body = (await (await fetch(`${server.url}/status`)).json()) as { candidates: { name: string }[] };
  rows = 0;
  expect(body.candidates).toHaveLength(20_000);
  expect(body.candidates.at(-1)?.name).toBe('shop-19999');
});

test("/readyz follows the informers' sync; /healthz is always ok", async () => {
  synced = false;
  const before = await fetch(`${server.url}/readyz`);
  expect([before.status, await before.text()]).toEqual([503, 'caches not synced']);
  synced = true;
  const after = await fetch(`${server.url}/readyz`);
  expect([after.status, await after.text()]).toEqual([200, 'ok']);
  const health = await fetch(`${server.url}/healthz`);
  expect([health.status, health.headers.get('content-type'), await health.text()]).toEqual([
    200,
    'text/plain; charset=utf-8',
    'ok',
  ]);
});

test('GET /metrics renders the registry', async () => {
  const res = await fetch(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('kwp_test_total 3');
});

test('HEAD answers like GET without a body', async () => {
  const res = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
  expect([res.status, res.headers.get('content-length'), await res.text()]).toEqual([200, '2', '']);
});

test('other methods get 405 naming GET; other paths, a trailing slash or another case get 404', async () => {
  const post = await fetch(`${server.url}/status`, { method: 'POST', body: '{}' });
  expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET']);
  for (const path of ['/', '/status/', '/STATUS', '/metrics/x']) {
    const res = await fetch(`${server.url}${path}`);
    expect([path, res.status, await res.text()]).toEqual([
      path,
      404,
      'not found: GET /status, /healthz, /readyz, /metrics\n',
    ]);
  }
});
