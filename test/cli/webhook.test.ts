/**
 * `k8s-watch-policy webhook` through the built binary, with certificates made by
 * `k8s-watch-policy certs`: ready over HTTPS, answers an AdmissionReview, serves metrics on its own
 * port, and on SIGTERM exits 0 leaving no listener behind.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { exited, killAll, lines, REPO, requireBuild, run, start, tempDir } from '../support/cli.ts';
import { freePort } from '../support/free_port.ts';

// Every call of the CLI starts a Node process (about 1 s on a busy 2-core machine); each call has
// its own shorter timeout (helpers.ts), so a hang fails with the command line rather than here.
jest.setTimeout(60_000);

let tmp: Awaited<ReturnType<typeof tempDir>>;
let certDir: string;
let ca: string;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One request with a hard timeout (HTTPS verified against `ca` when given). */
function fetchText(
  url: string,
  { method = 'GET', body, ca: trust }: { method?: string; body?: string; ca?: string } = {},
): Promise<Reply> {
  const secure = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const options = {
      method,
      agent: false as const,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(secure && { ca: trust, minVersion: 'TLSv1.2' as const }),
    };
    const req = (secure ? httpsRequest : httpRequest)(url, options, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.setTimeout(3000, () => req.destroy(new Error(`no answer from ${method} ${url} within 3 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Resolves with the error code of a TCP connection attempt ('connected' if it succeeds). */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });
}

/** Polls GET /readyz until it answers 200, failing with what the process said if it does not. */
async function waitReady(url: string, child: ChildProcess, output: () => string, timeoutMs = 10_000): Promise<Reply> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`the webhook exited with ${child.exitCode} before it was ready:\n${output()}`);
    try {
      const reply = await fetchText(`${url}/readyz`, { ca });
      if (reply.status === 200) return reply;
      last = `HTTP ${reply.status}`;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the webhook was not ready within ${timeoutMs} ms (last: ${String(last)}):\n${output()}`);
}

function collect(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return { stdout: () => stdout, stderr: () => stderr };
}

beforeAll(async () => {
  requireBuild();
  tmp = await tempDir('webhook');
  certDir = join(tmp.dir, 'certs');
  const r = await run(['certs', '--out', certDir, '--dns', 'localhost,127.0.0.1']);
  if (r.code !== 0) throw new Error(`certs failed (${r.code}): ${r.stderr}`);
  ca = readFileSync(join(certDir, 'ca.crt'), 'utf8');
});

afterAll(async () => {
  await killAll();
  await tmp?.cleanup();
});

describe('webhook', () => {
  test('ready over HTTPS, answers an AdmissionReview, serves /metrics, and exits 0 on SIGTERM without a listener left', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const child = start([
      'webhook',
      '--cert-dir',
      certDir,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--metrics-port',
      String(metricsPort),
    ]);
    const out = collect(child);
    const url = `https://127.0.0.1:${port}`;

    const ready = await waitReady(url, child, () => out.stdout() + out.stderr());
    expect(ready.text).toBe('ok');
    expect((await fetchText(`${url}/healthz`, { ca })).status).toBe(200);

    // The serving certificate is the one `certs` wrote: a client with only the public roots refuses it.
    await expect(fetchText(`${url}/readyz`)).rejects.toThrow(/certificate/);

    const review = readFileSync(join(REPO, 'test/fixtures/admission/daemonset-pod-create.json'), 'utf8');
    const uid = (JSON.parse(review) as { request: { uid: string } }).request.uid;
    const reply = await fetchText(`${url}/mutate`, { method: 'POST', body: review, ca });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    // Without a cluster the webhook has no node cache, so this DaemonSet pod's target node is unknown:
    // normal, its env untouched (a DaemonSet pod is decided by its node alone, not by its toleration
    // of virtual-kubelet); like every agent pod it gets the reason annotation.
    const answer = JSON.parse(reply.text) as { response: { patch?: string } };
    expect(answer).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid, allowed: true, patchType: 'JSONPatch', patch: expect.any(String) },
    });
    expect(JSON.parse(Buffer.from(answer.response.patch!, 'base64').toString('utf8'))).toEqual([
      { op: 'add', path: '/metadata/annotations/deepflow.io~1k8s-watch-policy-reason', value: 'normal/default' },
    ]);

    const metrics = await fetchText(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain(
      'k8s_watch_policy_admission_reviews_total{resource="pods",operation="CREATE",result="patched"} 1\n',
    );
    expect(metrics.text).toContain('k8s_watch_policy_admission_duration_seconds_count{resource="pods"} 1\n');
    // Metrics are only on the metrics port, admission only on the HTTPS port.
    expect((await fetchText(`${url}/metrics`, { ca })).status).toBe(404);
    expect((await fetchText(`http://127.0.0.1:${metricsPort}/mutate`, { method: 'POST', body: review })).status).toBe(
      404,
    );

    child.kill('SIGTERM');
    expect(await exited(child, 10_000)).toEqual({ code: 0, signal: null });
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    expect(await tryConnect(metricsPort)).toBe('ECONNREFUSED');

    expect(out.stderr()).toBe('');
    // Logs: JSON lines on stdout, one per review, and the shutdown.
    const logs = lines(out.stdout()).map((l) => JSON.parse(l) as Record<string, unknown>);
    const milestones = ['webhook listening', 'admission review', 'shutting down', 'webhook stopped'];
    expect(logs.map((l) => l.msg).filter((m) => milestones.includes(m as string))).toEqual(milestones);
    expect(logs.find((l) => l.msg === 'admission review')).toMatchObject({
      uid,
      resource: 'pods',
      operation: 'CREATE',
      result: 'patched',
      policy: 'normal',
      rule: 'default',
    });
    expect(logs.find((l) => l.msg === 'shutting down')).toMatchObject({ signal: 'SIGTERM' });
  });

  test('a missing certificate directory: exit 70 with one line on stderr', async () => {
    const missing = join(tmp.dir, 'no-certs');
    const r = await run([
      'webhook',
      '--cert-dir',
      missing,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--metrics-port',
      '0',
    ]);
    expect(r.code).toBe(70);
    expect(r.stdout).not.toMatch(/webhook listening/); // stdout has the JSON logs, if any
    const err = lines(r.stderr);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(
      new RegExp(`^k8s-watch-policy: cannot load the serving certificate from ${missing}: ENOENT\\b.*tls\\.(crt|key)`),
    );
  });

  test('a port in use: exit 70 with one line on stderr, and the other port released', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = (busy.address() as { port: number }).port;
    try {
      const port = await freePort();
      const r = await run([
        'webhook',
        '--cert-dir',
        certDir,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--metrics-port',
        String(busyPort),
      ]);
      expect(r.code).toBe(70);
      expect(r.stdout).not.toMatch(/webhook listening/);
      expect(lines(r.stderr)).toEqual([
        `k8s-watch-policy: cannot listen: listen EADDRINUSE: address already in use 127.0.0.1:${busyPort}`,
      ]);
      expect(await tryConnect(port)).toBe('ECONNREFUSED');
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
