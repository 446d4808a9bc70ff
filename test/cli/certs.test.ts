/**
 * `k8s-watch-policy certs` through the built binary: a CA and a serving certificate signed by it,
 * with the requested names, written as the four files of a Kubernetes TLS Secret.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { killAll, lines, requireBuild, run, tempDir } from '../support/cli.ts';

// Every call of the CLI starts a Node process (about 1 s on a busy 2-core machine); each call has
// its own shorter timeout (helpers.ts), so a hang fails with the command line rather than here.
jest.setTimeout(60_000);

const FILES = ['ca.crt', 'ca.key', 'tls.crt', 'tls.key'];
const DAY_MS = 24 * 60 * 60 * 1000;

let tmp: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  requireBuild();
  tmp = await tempDir('certs');
});

afterAll(async () => {
  await killAll();
  await tmp?.cleanup();
});

function load(dir: string) {
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    ca: new X509Certificate(read('ca.crt')),
    cert: new X509Certificate(read('tls.crt')),
    caKey: createPrivateKey(read('ca.key')),
    key: createPrivateKey(read('tls.key')),
  };
}

describe('certs', () => {
  test('--out DIR --dns localhost,127.0.0.1: four files, a serving certificate signed by ca.crt with both names', async () => {
    const out = join(tmp.dir, 'nested', 'certs'); // created as needed
    const r = await run(['certs', '--out', out, '--dns', 'localhost,127.0.0.1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual(FILES.map((f) => `wrote ${join(out, f)}`));

    // The private keys are readable by their owner only.
    for (const f of ['ca.key', 'tls.key']) expect(statSync(join(out, f)).mode & 0o077).toBe(0);

    const { ca, cert, caKey, key } = load(out);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(ca.verify(ca.publicKey)).toBe(true); // self-signed
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(false);
    expect(ca.checkPrivateKey(caKey)).toBe(true);
    expect(cert.checkPrivateKey(key)).toBe(true);
    expect(cert.checkPrivateKey(caKey)).toBe(false);

    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('example.com')).toBeUndefined();
    expect(cert.checkIP('10.0.0.1')).toBeUndefined();
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth

    // Defaults: 365 days for the serving certificate, 3650 for the CA.
    const now = Date.now();
    expect(cert.validToDate.getTime()).toBeGreaterThan(now + 364 * DAY_MS);
    expect(cert.validToDate.getTime()).toBeLessThan(now + 366 * DAY_MS);
    expect(ca.validToDate.getTime()).toBeGreaterThan(now + 3649 * DAY_MS);
    expect(cert.validFromDate.getTime()).toBeLessThanOrEqual(now);
  });

  test("service names and --days; every run makes a new CA that does not sign the other run's certificate", async () => {
    const service = 'deepflow-watch-policy.deepflow.svc';
    const a = join(tmp.dir, 'a');
    const b = join(tmp.dir, 'b');
    const ra = await run(['certs', '--out', a, '--dns', `${service},${service}.cluster.local`, '--days', '30']);
    const rb = await run(['certs', '--out', b, '--dns', 'localhost']);
    expect([ra.code, rb.code]).toEqual([0, 0]);

    const first = load(a);
    const second = load(b);
    expect(first.cert.checkHost(service)).toBe(service);
    expect(first.cert.checkHost(`${service}.cluster.local`)).toBe(`${service}.cluster.local`);
    expect(first.cert.checkHost('localhost')).toBeUndefined();
    expect(first.cert.validToDate.getTime()).toBeLessThan(Date.now() + 31 * DAY_MS);

    expect(first.ca.subject).not.toBe(second.ca.subject);
    expect(first.cert.verify(second.ca.publicKey)).toBe(false);
    expect(first.cert.checkIssued(second.ca)).toBe(false);
  });
});
