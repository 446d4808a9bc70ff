/**
 * Loading a RestConfig from kubeconfig files and the in-cluster service account, proved by
 * requests that a TLS server with its own CA accepts (or by the error that names the field).
 */
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { stringify } from 'yaml';
import {
  inClusterConfig,
  loadClientNode,
  loadKubeconfigFiles,
  loadRestConfig,
} from '../../src/kube/rest/kubeconfig.ts';
import { kubeRequest } from '../../src/kube/rest/request.ts';
import { TOKEN_FILE_REREAD_MS } from '../../src/kube/rest/config.ts';
import { json, startFakeApiServer, type FakeApiServer } from './fake_api_server.ts';

let server: FakeApiServer;
let mtls: FakeApiServer;
let dir: string;

beforeAll(async () => {
  [server, mtls] = await Promise.all([startFakeApiServer(), startFakeApiServer({ requireClientCert: true })]);
  for (const s of [server, mtls])
    s.handler = (req, res) => json(res, 200, { kind: 'Namespace', metadata: { name: 'x' }, path: req.url });
  dir = mkdtempSync(join(tmpdir(), 'kwp-kubeconfig-'));
});

afterAll(async () => {
  await Promise.all([server.close(), mtls.close()]);
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  jest.restoreAllMocks();
  server.requests.length = 0;
  mtls.requests.length = 0;
});

let files = 0;
function write(name: string, content: string | object): string {
  const path = join(dir, `${files++}-${name}`);
  writeFileSync(path, typeof content === 'string' ? content : stringify(content));
  return path;
}

function kubeconfig({
  cluster = {},
  user = {},
  context = {},
  currentContext = 'ctx',
}: {
  cluster?: object;
  user?: object;
  context?: object;
  currentContext?: string;
}) {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    ...(currentContext && { 'current-context': currentContext }),
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', ...context } }],
  };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('kubeconfig files', () => {
  test('client certificate and CA as files relative to the kubeconfig: mutual TLS succeeds', async () => {
    const sub = join(dir, 'pki');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'ca.crt'), mtls.caPem);
    writeFileSync(join(sub, 'admin.crt'), mtls.client.cert);
    writeFileSync(join(sub, 'admin.key'), mtls.client.key);
    const path = join(dir, 'relative.kubeconfig');
    writeFileSync(
      path,
      stringify(
        kubeconfig({
          cluster: { server: mtls.url, 'certificate-authority': 'pki/ca.crt' },
          user: { 'client-certificate': 'pki/admin.crt', 'client-key': 'pki/admin.key' },
        }),
      ),
    );
    const kc = await loadRestConfig(path, {});
    const ns = await kubeRequest<{ path: string }>(kc!, 'GET', '/api/v1/namespaces/x');
    expect(ns.path).toBe('/api/v1/namespaces/x');
    expect(mtls.requests[0]).toMatchObject({ clientCN: 'admin', method: 'GET' });
    expect(mtls.requests[0]!.headers.authorization).toBeUndefined();
  });

  test('inline data and a bearer token; the server path prefix is kept', async () => {
    const path = write(
      'inline',
      kubeconfig({
        cluster: { server: `${server.url}/k8s/clusters/c-1/`, 'certificate-authority-data': b64(server.caPem) },
        user: { token: 'abc' },
      }),
    );
    const kc = await loadKubeconfigFiles([path]);
    const ns = await kubeRequest<{ path: string }>(kc, 'GET', '/api/v1/namespaces/x', {
      query: { labelSelector: 'a=b' },
    });
    expect(ns.path).toBe('/k8s/clusters/c-1/api/v1/namespaces/x?labelSelector=a%3Db');
    expect(server.requests[0]!.headers.authorization).toBe('Bearer abc');
  });

  test('one kept-alive connection for consecutive requests', async () => {
    const kc = await loadKubeconfigFiles([
      write(
        'keepalive',
        kubeconfig({
          cluster: { server: server.url, 'certificate-authority-data': b64(server.caPem) },
          user: { token: 't' },
        }),
      ),
    ]);
    for (let i = 0; i < 3; i++) await kubeRequest(kc, 'GET', '/api/v1/namespaces/x');
    await Promise.all([1, 2].map(() => kubeRequest(kc, 'GET', '/api/v1/namespaces/x')));
    const used = new Set(server.requests.map((r) => r.connection));
    expect(server.requests).toHaveLength(5);
    expect(used.size).toBeLessThanOrEqual(2); // the two concurrent ones may need a second
    kc.close();
  });

  test('tokenFile is re-read once a minute (rotated service account tokens)', async () => {
    const tokenPath = write('token', 'first\n');
    const kc = await loadKubeconfigFiles([
      write(
        'tokenfile',
        kubeconfig({
          cluster: { server: server.url, 'certificate-authority-data': b64(server.caPem) },
          user: { tokenFile: tokenPath },
        }),
      ),
    ]);
    await kubeRequest(kc, 'GET', '/api/v1/namespaces/x');
    writeFileSync(tokenPath, 'second\n');
    await kubeRequest(kc, 'GET', '/api/v1/namespaces/x');
    const now = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(now + TOKEN_FILE_REREAD_MS + 1);
    await kubeRequest(kc, 'GET', '/api/v1/namespaces/x');
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([
      'Bearer first',
      'Bearer first',
      'Bearer second',
    ]);
  });

  test('basic auth and insecure-skip-tls-verify', async () => {
    const kc = await loadKubeconfigFiles([
      write(
        'basic',
        kubeconfig({
          cluster: { server: server.url, 'insecure-skip-tls-verify': true },
          user: { username: 'me', password: 'pw' },
        }),
      ),
    ]);
    await kubeRequest(kc, 'GET', '/api/v1/namespaces/x');
    expect(server.requests[0]!.headers.authorization).toBe(`Basic ${b64('me:pw')}`);
  });

  test('without the CA the server is not trusted', async () => {
    const kc = await loadKubeconfigFiles([
      write('untrusted', kubeconfig({ cluster: { server: server.url }, user: { token: 't' } })),
    ]);
    await expect(kubeRequest(kc, 'GET', '/api/v1/namespaces/x')).rejects.toThrow(/certificate/);
    expect(server.requests).toHaveLength(0);
  });

  test('$KUBECONFIG lists are merged: the first current-context and the first definition of a name win', async () => {
    const first = write('first', {
      'current-context': 'ctx',
      clusters: [{ name: 'c', cluster: { server: server.url, 'certificate-authority-data': b64(server.caPem) } }],
    });
    const second = write('second', {
      'current-context': 'other',
      clusters: [{ name: 'c', cluster: { server: 'https://wrong.invalid' } }],
      users: [{ name: 'u', user: { token: 'from-second' } }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    });
    const kc = await loadRestConfig(undefined, { KUBECONFIG: [first, second].join(delimiter) });
    await kubeRequest(kc!, 'GET', '/api/v1/namespaces/x');
    expect(server.requests[0]!.headers.authorization).toBe('Bearer from-second');
  });

  test('--context picks another context than the current one; an unknown one is named', async () => {
    const path = write('two-contexts', {
      'current-context': 'wrong',
      clusters: [
        { name: 'c', cluster: { server: server.url, 'certificate-authority-data': b64(server.caPem) } },
        { name: 'bad', cluster: { server: 'https://wrong.invalid' } },
      ],
      users: [{ name: 'u', user: { token: 'picked' } }],
      contexts: [
        { name: 'wrong', context: { cluster: 'bad', user: 'u' } },
        { name: 'picked', context: { cluster: 'c', user: 'u' } },
      ],
    });
    const kc = await loadRestConfig(path, {}, 'picked');
    await kubeRequest(kc!, 'GET', '/api/v1/namespaces/x');
    expect(server.requests[0]!.headers.authorization).toBe('Bearer picked');
    await expect(loadRestConfig(path, {}, 'nope')).rejects.toThrow(/context "nope" is not among its contexts/);
    await expect(loadRestConfig(undefined, {}, 'picked')).rejects.toThrow(/--context "picked" needs a kubeconfig/);
  });

  test('an exec credential plugin is run (through @kubernetes/client-node)', async () => {
    const credential = {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: 'from-exec' },
    };
    const exec = {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: process.execPath,
      args: ['-e', `console.log(${JSON.stringify(JSON.stringify(credential))})`],
      interactiveMode: 'Never',
    };
    const kc = await loadKubeconfigFiles([
      write(
        'exec',
        kubeconfig({
          cluster: { server: server.url, 'certificate-authority-data': b64(server.caPem) },
          user: { exec },
        }),
      ),
    ]);
    expect(kc.source).toContain('client-node');
    await kubeRequest(kc, 'GET', '/api/v1/namespaces/x');
    expect(server.requests[0]!.headers.authorization).toBe('Bearer from-exec');
  });

  test.each([
    ['no current-context', () => kubeconfig({ currentContext: '' }), /no current-context/],
    [
      'an unknown current-context',
      () => kubeconfig({ currentContext: 'nope' }),
      /current-context "nope" is not among its contexts/,
    ],
    [
      'an unknown cluster',
      () => kubeconfig({ context: { cluster: 'gone' } }),
      /names cluster "gone", which is not defined/,
    ],
    [
      'an unknown user',
      () => kubeconfig({ cluster: { server: 'https://x' }, context: { user: 'ghost' } }),
      /names user "ghost", which is not defined/,
    ],
    ['a cluster without server', () => kubeconfig({}), /cluster "c" has no server/],
    ['a plain-HTTP server', () => kubeconfig({ cluster: { server: 'http://127.0.0.1:8080' } }), /is not https/],
    [
      'a missing CA file',
      () => kubeconfig({ cluster: { server: 'https://x', 'certificate-authority': 'missing/ca.crt' } }),
      /certificate-authority: ENOENT/,
    ],
    [
      'clusters that are not a list',
      () => ({ 'current-context': 'ctx', clusters: { c: {} } }),
      /clusters must be a list/,
    ],
    [
      'an entry without name',
      () => ({ 'current-context': 'ctx', users: [{ user: {} }] }),
      /users\[0\]\.name must be a string/,
    ],
    ['not YAML', () => 'clusters: [\n', /not YAML/],
    ['a YAML list', () => '- a\n- b\n', /not a kubeconfig/],
  ])('%s: the error names the file and the field', async (_what, content, message) => {
    const path = write('bad', content());
    await expect(loadKubeconfigFiles([path])).rejects.toThrow(message);
    await expect(loadKubeconfigFiles([path])).rejects.toThrow(path);
  });

  test('a missing file is an error naming it; no file and no cluster is undefined', async () => {
    await expect(loadRestConfig(join(dir, 'absent'), {})).rejects.toThrow(/absent: ENOENT/);
    await expect(loadRestConfig(undefined, {})).resolves.toBeUndefined();
  });
});

describe('@kubernetes/client-node, loaded only when needed', () => {
  test('absent (the release image): an error that names the kubeconfig and what to do', async () => {
    const missing = Object.assign(new Error("Cannot find package '@kubernetes/client-node'"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    await expect(loadClientNode('kubeconfig /k', () => Promise.reject(missing))).rejects.toThrow(
      /kubeconfig \/k has an exec plugin, an auth-provider or a proxy-url, which need the package @kubernetes\/client-node; it is not installed here/,
    );
  });

  test('any other failure to load it is not hidden', async () => {
    await expect(loadClientNode('kubeconfig /k', () => Promise.reject(new TypeError('boom')))).rejects.toThrow('boom');
  });

  test('installed (npm ci, a dependency): loaded', async () => {
    const module = await loadClientNode('kubeconfig /k');
    expect(typeof module.KubeConfig).toBe('function');
  });
});

describe('in-cluster service account', () => {
  function serviceAccount(files: Record<string, string>): string {
    const sa = mkdtempSync(join(dir, 'sa-'));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(sa, name), content);
    return sa;
  }

  test('KUBERNETES_SERVICE_HOST/PORT, ca.crt and the token file', async () => {
    const sa = serviceAccount({ token: 'sa-token\n', 'ca.crt': server.caPem });
    const port = new URL(server.url).port;
    const kc = inClusterConfig({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, sa);
    await kubeRequest(kc, 'GET', '/api/v1/namespaces/x');
    expect(server.requests[0]!.headers.authorization).toBe('Bearer sa-token');
  });

  test('an IPv6 service host is bracketed', () => {
    const sa = serviceAccount({ token: 't', 'ca.crt': server.caPem });
    expect(
      inClusterConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, sa).server.href,
    ).toBe('https://[fd00::1]/');
  });

  test('a pod without a mounted token gets an error that says why', () => {
    const sa = serviceAccount({});
    expect(() => inClusterConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, sa)).toThrow(
      /token.*automountServiceAccountToken/,
    );
    expect(() => inClusterConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, sa)).toThrow(/KUBERNETES_SERVICE_PORT/);
  });
});
