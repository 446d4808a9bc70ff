/**
 * The built webhook against hostile and broken callers (anyone who reaches its Service can send
 * it anything): bounded metric labels and log lines, 400 (never 500) for bodies of the wrong
 * shape or nesting, and bounded memory under many concurrent maximum-size bodies, with normal
 * reviews still answered.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import fc from 'fast-check';
import { connect } from 'node:tls';
import { admissionBody } from '../fuzz/cases.ts';
import { eventually } from '../support/wait.ts';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { parse } from 'yaml';
import { exited, killAll, REPO, requireBuild, run, start, tempDir } from '../support/cli.ts';
import { freePort } from '../support/free_port.ts';

jest.setTimeout(120_000);

/** The chart's memory limit and heap caps of the webhook container (values.yaml webhook.resources, webhook.heap). */
const WEBHOOK_VALUES = parse(readFileSync(join(REPO, 'charts/k8s-watch-policy/values.yaml'), 'utf8')).webhook;
const CHART_LIMIT_BYTES = Number(/^(\d+)Mi$/.exec(WEBHOOK_VALUES.resources.limits.memory)![1]) * 1024 * 1024;
const CHART_HEAP = `--max-semi-space-size=${WEBHOOK_VALUES.heap.semiSpaceMB} --max-old-space-size=${WEBHOOK_VALUES.heap.maxOldSpaceMB}`;
const MAX_BODY = 6 * 1024 * 1024;

let tmp: Awaited<ReturnType<typeof tempDir>>;
let ca: string;
let child: ChildProcess;
let url: string;
let metricsUrl: string;
let output = '';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function post(
  path: string,
  body: string | Buffer,
  {
    method = 'POST',
    headers = { 'content-type': 'application/json' },
  }: { method?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${url}${path}`, { method, ca, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer from POST ${path} within 60 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

const review = (object: unknown, { uid = 'u-1', resource = 'pods', operation = 'CREATE' } = {}) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource },
      operation,
      object,
    },
  });

const agentPod = (
  containers: unknown[] = [
    { name: 'deepflow-agent', image: 'deepflow-agent:v7.1' },
    { name: 'app', image: 'nginx' },
  ],
) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'ns' },
  spec: { containers },
});

/** The peak resident memory of a process (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'))!;
  return Number(/(\d+)/.exec(line)![1]) * 1024;
}

beforeAll(async () => {
  requireBuild();
  tmp = await tempDir('kwp-hostile-');
  const certs = join(tmp.dir, 'certs');
  expect((await run(['certs', '--out', certs, '--dns', 'localhost,127.0.0.1'])).code).toBe(0);
  ca = readFileSync(join(certs, 'ca.crt'), 'utf8');
  const [port, metricsPort] = [await freePort(), await freePort()];
  // With the chart's heap caps (values.yaml webhook.heap).
  child = start(
    [
      'webhook',
      '--cert-dir',
      certs,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--metrics-port',
      String(metricsPort),
      '--drain-delay',
      '0',
    ],
    { cwd: REPO, env: { NODE_OPTIONS: CHART_HEAP, MALLOC_ARENA_MAX: '2' } },
  );
  child.stdout!.on('data', (c: Buffer) => (output += c));
  child.stderr!.on('data', (c: Buffer) => (output += c));
  // A webhook that dies under the load is the failure to see: its last words go to the test's output.
  child.once('exit', (code, signal) =>
    process.stdout.write(`webhook exited (${code ?? signal}):\n${output.slice(-3000)}\n`),
  );
  url = `https://127.0.0.1:${port}`;
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  await eventually('the webhook listening', () => output.includes('webhook listening'), {
    timeoutMs: 10_000,
    everyMs: 50,
  });
});

afterAll(async () => {
  child?.kill('SIGTERM');
  if (child) await exited(child);
  await killAll();
  await tmp?.cleanup();
});

describe('bounded metric labels and log lines', () => {
  test('1,000 distinct resource names and operations become one label value each: other', async () => {
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          post(
            '/mutate',
            review(agentPod(), {
              uid: `u-${i + j}`,
              resource: `r${i + j}-${'x'.repeat(1000)}`,
              operation: `OP${i + j}`,
            }),
          ),
        ),
      );
    }
    const text = await (await fetch(metricsUrl)).text();
    const series = text.split('\n').filter((l) => l.startsWith('k8s_watch_policy_admission_reviews_total{'));
    expect(series).toEqual([
      expect.stringMatching(
        /^k8s_watch_policy_admission_reviews_total\{resource="other",operation="other",result="unchanged"\} 1000$/,
      ),
    ]);
    expect(text.length).toBeLessThan(64 * 1024);
  });

  test('a 1 MiB uid is answered in full and logged cut, with its length', async () => {
    const uid = 'u'.repeat(1024 * 1024);
    const reply = await post('/mutate', review(agentPod(), { uid }));
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.text).response.uid).toBe(uid);
    const line = await eventually(
      'the review logged',
      () => output.split('\n').find((l) => l.includes(`(${uid.length} chars)`)),
      { timeoutMs: 5_000, everyMs: 50 },
    );
    expect(JSON.parse(line).uid).toBe(`${'u'.repeat(256)}...(1048576 chars)`);
    expect(line.length).toBeLessThan(2048);
  });
});

describe('wrong shapes are 400 naming the field, never 500', () => {
  test.each([
    [
      'an env entry that is null',
      agentPod([{ name: 'deepflow-agent', env: [null] }]),
      'request.object.spec.containers[0].env[0] must be an object, got null',
    ],
    ['a null container', agentPod([null]), 'request.object.spec.containers[0] must be an object, got null'],
    [
      'containers as a string',
      agentPod('deepflow-agent' as never),
      'request.object.spec.containers must be a list, got string "deepflow-agent"',
    ],
    [
      'ownerReferences as a map',
      { ...agentPod(), metadata: { name: 'p', ownerReferences: { kind: 'ReplicaSet' } } },
      'request.object.metadata.ownerReferences must be a list, got an object',
    ],
    [
      'a toleration that is a number',
      { ...agentPod(), spec: { ...agentPod().spec, tolerations: [1] } },
      'request.object.spec.tolerations[0] must be an object, got number 1',
    ],
    [
      'matchFields as a string',
      {
        ...agentPod(),
        spec: {
          ...agentPod().spec,
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: 'metadata.name' }] },
            },
          },
        },
      },
      'request.object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields must be a list, got string "metadata.name"',
    ],
    [
      'a label value that is a number',
      { ...agentPod(), metadata: { name: 'p', labels: { app: 1 } } },
      'request.object.metadata.labels["app"] must be a string, got number 1',
    ],
  ])('%s', async (_name, object, message) => {
    const reply = await post('/mutate', review(object));
    expect([reply.status, JSON.parse(reply.text)]).toEqual([400, { error: message }]);
  });

  test("100,000-deep nesting anywhere (a field the rules do not read, a pod, an UPDATE's templates) is answered, never a 500", async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const head =
      '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE"';
    const pod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"x":${deep},"containers":[{"name":"deepflow-agent","x":${deep}},{"name":"app"}]}}`;
    const inRequest = await post('/mutate', `${head},"x":${deep}}}`);
    expect([inRequest.status, JSON.parse(inRequest.text).error]).toEqual([
      400,
      'request.object is required for CREATE',
    ]);
    const inPod = await post('/mutate', `${head},"object":${pod}}}`);
    expect(inPod.status).toBe(200);
    expect(JSON.parse(Buffer.from(JSON.parse(inPod.text).response.patch, 'base64').toString())).toEqual([
      {
        op: 'add',
        path: '/metadata/annotations',
        value: { 'deepflow.io/k8s-watch-policy-reason': 'watch-disabled/serverless-sidecar' },
      },
      { op: 'add', path: '/spec/containers/0/env', value: [{ name: 'K8S_WATCH_POLICY', value: 'watch-disabled' }] },
    ]);
    // An UPDATE of a Deployment whose (refused) template is compared with the old one.
    const template = (extra: string) =>
      `{"metadata":{"labels":{"app":"a"}},"spec":{"x":${extra},"containers":[{"name":"deepflow-agent","env":[{"name":"ONLY_WATCH_K8S_RESOURCE","value":"true"}]}]}}`;
    const deployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"ns"},"spec":{"template":${template(deep)}}}`;
    const update = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"apps","version":"v1","kind":"Deployment"},"resource":{"group":"apps","version":"v1","resource":"deployments"},"operation":"UPDATE","object":${deployment},"oldObject":${deployment}}}`;
    const answer = JSON.parse((await post('/validate', update)).text).response;
    // Deeper than 100 levels counts as changed: the refusal stands.
    expect(answer.allowed).toBe(false);
  });
});

describe('memory under concurrent maximum-size bodies', () => {
  test('32 concurrent 6 MiB reviews: each answered 200 or 429 with Retry-After, normal reviews still answered, peak RSS under the chart limit', async () => {
    // A pod of many env entries, just under the body limit: the most objects a body can hold.
    const env: { name: string; value: string }[] = [];
    const pod = agentPod([
      { name: 'deepflow-agent', image: 'deepflow-agent:v7.1', env },
      { name: 'app', image: 'nginx' },
    ]);
    const entry = JSON.stringify({ name: 'E_000000', value: 'v'.repeat(32) }).length + 1;
    for (let i = 0; i < (MAX_BODY - 1024) / entry; i++)
      env.push({ name: `E_${String(i).padStart(6, '0')}`, value: 'v'.repeat(32) });
    const big = Buffer.from(review(pod));
    expect(big.length).toBeGreaterThan(MAX_BODY - 4096);
    expect(big.length).toBeLessThanOrEqual(MAX_BODY);

    const large = Promise.all(Array.from({ length: 32 }, () => post('/mutate', big)));
    const normal: Reply[] = [];
    let done = false;
    const small = (async () => {
      while (!done) normal.push(await post('/mutate', review(agentPod())));
    })();
    const replies = await large;
    done = true;
    await small;

    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(statuses).toContain(200);
    for (const r of replies.filter((r) => r.status === 429)) expect(r.headers['retry-after']).toBe('1');
    expect(normal.length).toBeGreaterThan(0);
    expect(normal.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    const peak = peakRss(child.pid!);
    process.stdout.write(
      `hostile: 32 x ${big.length} B reviews: ${statuses.filter((s) => s === 200).length} answered, ${statuses.filter((s) => s === 429).length} asked to retry; peak RSS ${Math.round(peak / 2 ** 20)} MiB\n`,
    );
    expect(peak).toBeLessThan(CHART_LIMIT_BYTES);
  });
});

describe('HTTP fuzz against the running webhook', () => {
  test('2,000 generated reviews and malformed requests: only 200, 400, 404, 405, 413; normal reviews answered throughout', async () => {
    const bodies = fc.sample(admissionBody, { numRuns: 2000, seed: 20261128 }).map((b) => JSON.stringify(b) ?? 'null');
    const odd: [string, string | Buffer, { method?: string; headers?: Record<string, string> }][] = [
      ['/mutate', '{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionRev', {}],
      ['/mutate', '', {}],
      ['/mutate', 'null', {}],
      ['/mutate', '[]', {}],
      ['/mutate', '{}', { headers: { 'content-type': 'text/plain' } }],
      ['/mutate', '{}', { headers: { 'content-type': 'application/json; charset=latin1' } }],
      ['/mutate', '{}', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } }],
      ['/mutate', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), {}],
      ['/validate', '{}', { method: 'PUT' }],
      ['/mutate', '', { method: 'GET' }],
      ['/mutate?x=1', review(agentPod()), {}],
      ['/../mutate', review(agentPod()), {}],
      ['/nope', '{}', {}],
    ];
    const normal: Reply[] = [];
    let done = false;
    const background = (async () => {
      while (!done) normal.push(await post('/mutate', review(agentPod())));
    })();
    const statuses = new Map<number, number>();
    for (let i = 0; i < bodies.length; i += 20) {
      const batch = bodies.slice(i, i + 20).map((b, j) => post(j % 2 ? '/validate' : '/mutate', b));
      for (const r of await Promise.all(batch)) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    for (const [path, body, options] of odd) {
      const r = await post(path, body, options);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    done = true;
    await background;
    expect([...statuses.keys()].filter((s) => ![200, 400, 404, 405, 413].includes(s))).toEqual([]);
    expect(statuses.get(200)).toBeGreaterThan(100);
    expect(statuses.get(400)).toBeGreaterThan(100);
    expect(normal.length).toBeGreaterThan(0);
    expect(normal.filter((r) => r.status !== 200)).toEqual([]);
    expect(peakRss(child.pid!)).toBeLessThan(CHART_LIMIT_BYTES);
  });

  test('a client that sends half a body and stalls does not hold up other reviews', async () => {
    const body = Buffer.from(review(agentPod()));
    const { port } = new URL(url);
    const slow = connect({ host: '127.0.0.1', port: Number(port), ca, servername: 'localhost' });
    await new Promise<void>((resolve) => slow.once('secureConnect', () => resolve()));
    slow.write(
      `POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    slow.write(body.subarray(0, 50));
    const others = await Promise.all(Array.from({ length: 20 }, () => post('/mutate', review(agentPod()))));
    expect(others.map((r) => r.status)).toEqual(Array(20).fill(200));
    // The stalled client finishes and is answered too.
    const answer = new Promise<string>((resolve) => {
      let text = '';
      slow.on('data', (d: Buffer) => {
        text += d;
        if (text.includes('"uid":"u-1"')) resolve(text);
      });
    });
    slow.write(body.subarray(50));
    expect(await answer).toMatch(/^HTTP\/1\.1 200 /);
    slow.destroy();
  });
});
