import { expect, test } from '@jest/globals';
import { request } from 'node:https';
import { fixture, send, startTestWebhook } from '../support/webhook_server.ts';
import { connect } from 'node:tls';

test('close() stops accepting, lets the review in flight finish, then resolves', async () => {
  const { server, ca, stop } = await startTestWebhook();
  const body = Buffer.from(JSON.stringify(await fixture('daemonset-pod-create.json')));

  // A review whose body is only half sent when shutdown begins: the server has its headers.
  const arrived = new Promise<void>((resolve) => server.https.once('request', () => resolve()));
  let finishBody!: () => void;
  const inFlight = new Promise<{ status: number; connection: string | undefined; uid: string }>((resolve, reject) => {
    const req = request(
      new URL('/mutate', server.url),
      {
        method: 'POST',
        ca,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            connection: res.headers.connection,
            uid: JSON.parse(Buffer.concat(chunks).toString()).response.uid,
          }),
        );
      },
    );
    req.on('error', reject);
    req.write(body.subarray(0, 100));
    finishBody = () => req.end(body.subarray(100));
  });
  await arrived;

  let closed = false;
  const closing = server.close().then(() => (closed = true));
  expect(server.state.ready).toBe(false);
  await expect(send(server.url, { method: 'GET', path: '/healthz', ca, timeoutMs: 2000 })).rejects.toThrow(
    /ECONNREFUSED/,
  );
  expect(closed).toBe(false);

  finishBody(); // the rest of the body arrives after shutdown began
  const reply = await inFlight;
  expect(reply).toEqual({ status: 200, connection: 'close', uid: '0b9f5c2e-6f0e-4c1a-9d3f-5a2f8e7c1d44' });
  await closing;
  expect(closed).toBe(true);
  await expect(fetch(`${server.metricsUrl}/metrics`)).rejects.toThrow();
  await stop(); // idempotent: the server is closed already; removes the certificates
});

test("close() does not wait for connections that never sent a request (a client's spare keep-alive connections)", async () => {
  // A shutdown cap far beyond jest's timeout: waiting for the silent connection would fail the test.
  const { server, ca, stop } = await startTestWebhook({ shutdownTimeoutMs: 600_000 });
  const socket = connect({ host: '127.0.0.1', port: Number(new URL(server.url).port), ca, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined); // a reset is what is expected
  await stop();
  await socketClosed;
  expect(socket.destroyed).toBe(true);
});
