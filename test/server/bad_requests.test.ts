import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { connect } from 'node:tls';
import type { WebhookServer } from '../../src/webhook/server.ts';
import { fixture, send, startTestWebhook } from '../support/webhook_server.ts';

let server: WebhookServer;
let ca: string;
let stop: () => Promise<void>;
const LIMIT = 64 * 1024;

beforeAll(async () => {
  ({ server, ca, stop } = await startTestWebhook({ maxBodyBytes: LIMIT }));
});

afterAll(() => stop());

const review = (request: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request, ...extra });
const minimal = {
  uid: 'u1',
  operation: 'CREATE',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  object: {},
};

describe('bad input gets a JSON reason and never a crash', () => {
  const cases: [string, string | undefined, Record<string, string>, number, string][] = [
    ['malformed JSON', '{"apiVersion": "admission.k8s.io/v1", "kind": ', {}, 400, 'body is not valid JSON'],
    ['an empty body', '', {}, 400, 'body is empty: expected an AdmissionReview'],
    ['an empty object', '{}', {}, 400, 'body is empty: expected an AdmissionReview'],
    ['a JSON array', '[]', {}, 400, 'body must be a JSON object (an AdmissionReview)'],
    ['a JSON string', '"hello"', {}, 400, 'body must be a JSON object (an AdmissionReview)'],
    [
      'the wrong content type',
      review(minimal),
      { 'content-type': 'text/plain' },
      400,
      'Content-Type must be application/json, got "text/plain"',
    ],
    ['no content type', review(minimal), { 'content-type': '' }, 400, 'Content-Type must be application/json, got ""'],
    [
      'the v1beta1 apiVersion',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: minimal }),
      {},
      400,
      'apiVersion must be admission.k8s.io/v1, got "admission.k8s.io/v1beta1"',
    ],
    [
      'the wrong kind',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'Pod', request: minimal }),
      {},
      400,
      'kind must be AdmissionReview, got "Pod"',
    ],
    [
      'a missing request',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
      {},
      400,
      'request is missing or not an object',
    ],
    [
      'a request without uid',
      review({ ...minimal, uid: undefined }),
      {},
      400,
      'request.uid must be a non-empty string',
    ],
    [
      'a request without kind',
      review({ ...minimal, kind: undefined }),
      {},
      400,
      'request.kind is missing or not an object',
    ],
    ['a CREATE without object', review({ ...minimal, object: null }), {}, 400, 'request.object is required for CREATE'],
    [
      'an object that is not an object',
      review({ ...minimal, object: 'pod' }),
      {},
      400,
      'request.object must be an object or null',
    ],
    [
      'an unsupported charset',
      review(minimal),
      { 'content-type': 'application/json; charset=latin9' },
      400,
      'unsupported charset "LATIN9"',
    ],
    ['a compressed body', review(minimal), { 'content-encoding': 'gzip' }, 400, 'unsupported content encoding "gzip"'],
  ];

  test.each(cases)('%s', async (_name, body, headers, status, reason) => {
    for (const path of ['/mutate', '/validate']) {
      const reply = await send(server.url, { path, body, headers, ca });
      expect(reply.status).toBe(status);
      expect(reply.json.error).toContain(reason);
    }
  });

  test('a body over the limit gets 413 and the connection is closed, not hung', async () => {
    const big = review({ ...minimal, object: { padding: 'x'.repeat(LIMIT) } });
    const reply = await send(server.url, { path: '/mutate', body: big, ca });
    expect(reply.status).toBe(413);
    expect(reply.json).toEqual({ error: `request body is larger than ${LIMIT} bytes` });
    expect(reply.headers.connection).toBe('close');
  });

  test('a body over the limit sent in chunks without a length also gets 413', async () => {
    const big = review({ ...minimal, object: { padding: 'x'.repeat(LIMIT) } });
    const reply = await send(server.url, {
      path: '/mutate',
      body: big,
      ca,
      headers: { 'transfer-encoding': 'chunked' },
    });
    expect(reply.status).toBe(413);
  });

  test('unknown paths and methods get 404 with a JSON reason', async () => {
    const reply = await send(server.url, { method: 'GET', path: '/mutate', ca });
    expect(reply.status).toBe(404);
    expect(reply.json.error).toMatch(/^not found/);
    for (const [method, path] of [
      ['POST', '/healthz'],
      ['PUT', '/mutate'],
      ['GET', '/'],
      ['DELETE', '/readyz'],
      ['GET', '/healthz/'],
      ['GET', '/HEALTHZ'],
    ]) {
      const other = await send(server.url, { method: method!, path: path!, body: '{"x":1}', ca });
      expect([method, path, other.status, other.headers['content-type'], other.json.error]).toEqual([
        method,
        path,
        404,
        'application/json; charset=utf-8',
        expect.stringMatching(/^not found/),
      ]);
    }
  });

  test('the probes answer HEAD like GET, without a body, and plain text', async () => {
    for (const path of ['/healthz', '/readyz', '/healthz?verbose']) {
      const get = await send(server.url, { method: 'GET', path, ca });
      const head = await send(server.url, { method: 'HEAD', path, ca });
      expect([path, get.status, get.text, get.headers['content-type']]).toEqual([
        path,
        200,
        'ok',
        'text/plain; charset=utf-8',
      ]);
      expect([path, head.status, head.text, head.headers['content-length']]).toEqual([path, 200, '', '2']);
    }
  });

  test('the server keeps answering after all of the above, with any spelling of UTF-8 and a query string', async () => {
    const good = await fixture('daemonset-pod-create.json');
    for (const [path, contentType] of [
      ['/mutate', 'application/json'],
      ['/mutate?timeout=10s', 'Application/JSON; charset="UTF-8"'],
      ['/mutate', 'application/json;charset=utf8'],
    ]) {
      const reply = await send(server.url, {
        path: path!,
        body: JSON.stringify(good),
        ca,
        headers: { 'content-type': contentType! },
      });
      expect([reply.status, reply.json.response.uid]).toEqual([200, good.request.uid]);
    }
  });

  test('plain HTTP on the HTTPS port is refused, TLS 1.1 is refused, TLS 1.2 is accepted', async () => {
    const http = await fetch(server.url.replace('https:', 'http:') + '/healthz').then(
      (r) => r.status,
      () => 'refused',
    );
    expect(http === 'refused' || http === 400).toBe(true);
    const port = Number(new URL(server.url).port);
    const handshake = (maxVersion: 'TLSv1.1' | 'TLSv1.2') =>
      new Promise<string>((resolve) => {
        const socket = connect(
          { host: '127.0.0.1', port, ca, servername: 'localhost', minVersion: 'TLSv1', maxVersion },
          () => {
            resolve(socket.getProtocol() ?? 'unknown');
            socket.end();
          },
        );
        socket.on('error', (err) => resolve(`error: ${err.message}`));
      });
    expect(await handshake('TLSv1.2')).toBe('TLSv1.2');
    expect(await handshake('TLSv1.1')).toMatch(/^error/);
  });
});
