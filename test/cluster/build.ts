/**
 * Builds the control plane from Go modules into the binary cache, one binary at a time, with
 * progress and timings. Nothing is downloaded but Go modules: no release binaries, no images.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { binDir, GO_MODULE_DIR, kubernetesModuleDir, moduleVersions, selectedMinor } from './paths.ts';

export interface Binary {
  name: string;
  pkg: string;
  ldflags: (v: ReturnType<typeof moduleVersions>) => string[];
  /** kwok and helm come from the default module, whatever the minor (one version across the range). */
  tool?: true;
}

function kubernetesVersionFlags(v: ReturnType<typeof moduleVersions>): string[] {
  const [major, minor] = v.kubernetes.replace(/^v/, '').split('.');
  const flags: string[] = [];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    flags.push(
      `-X ${pkg}.gitVersion=${v.kubernetes}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
      `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
    );
  }
  return flags;
}

export const BINARIES: readonly Binary[] = [
  { name: 'etcd', pkg: './cmd/etcd', ldflags: () => [] },
  { name: 'kube-apiserver', pkg: 'k8s.io/kubernetes/cmd/kube-apiserver', ldflags: kubernetesVersionFlags },
  {
    name: 'kube-controller-manager',
    pkg: 'k8s.io/kubernetes/cmd/kube-controller-manager',
    ldflags: kubernetesVersionFlags,
  },
  { name: 'kube-scheduler', pkg: 'k8s.io/kubernetes/cmd/kube-scheduler', ldflags: kubernetesVersionFlags },
  { name: 'kubectl', pkg: 'k8s.io/kubernetes/cmd/kubectl', ldflags: kubernetesVersionFlags },
  {
    name: 'kwok',
    pkg: 'sigs.k8s.io/kwok/cmd/kwok',
    ldflags: (v) => [`-X sigs.k8s.io/kwok/pkg/consts.Version=${v.kwok}`],
    tool: true,
  },
  {
    name: 'helm',
    pkg: 'helm.sh/helm/v3/cmd/helm',
    ldflags: (v) => [`-X helm.sh/helm/v3/internal/version.version=${v.helm}`],
    tool: true,
  },
  // The real node (`up --node`): most of their packages are the control plane's, so they build
  // in about a minute once it is built.
  { name: 'kubelet', pkg: 'k8s.io/kubernetes/cmd/kubelet', ldflags: kubernetesVersionFlags },
  { name: 'kube-proxy', pkg: 'k8s.io/kubernetes/cmd/kube-proxy', ldflags: kubernetesVersionFlags },
];

const log = (message: string) => process.stderr.write(`[cluster] ${message}\n`);

function goVersion(): string {
  const go = spawnSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new Error(
      'Go is needed to build the local control plane (go >= 1.26, see test/cluster/go.mod); `go` was not found on PATH',
    );
  }
  return go.stdout.trim();
}

function build(binary: Binary, out: string, minor: string): Promise<void> {
  const ldflags = ['-s', '-w', ...binary.ldflags(moduleVersions(minor))].join(' ');
  const args = ['build', '-trimpath', `-ldflags=${ldflags}`, '-o', out, binary.pkg];
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, {
      cwd: binary.tool ? GO_MODULE_DIR : kubernetesModuleDir(minor),
      env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly', CGO_ENABLED: '0' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`go build ${binary.pkg} failed (exit ${code})`)),
    );
  });
}

/** Makes sure every binary is in the cache; returns the directory. */
export async function ensureBinaries(minor = selectedMinor()): Promise<string> {
  const dir = binDir(minor);
  const missing = BINARIES.filter((b) => !existsSync(join(dir, b.name)));
  if (missing.length === 0) return dir;
  const versions = moduleVersions(minor);
  log(`building ${missing.map((b) => b.name).join(', ')} with ${goVersion()} into ${dir}`);
  log(
    `kubernetes ${versions.kubernetes}, etcd ${versions.etcd}, kwok ${versions.kwok}, helm ${versions.helm}; the first build takes a while (about 20-40 min on 2 cores)`,
  );
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  for (const [i, binary] of missing.entries()) {
    const t0 = Date.now();
    log(`[${i + 1}/${missing.length}] building ${binary.name} (${binary.pkg}) ...`);
    const ticker = setInterval(
      () => log(`    still building ${binary.name}: ${Math.round((Date.now() - t0) / 1000)} s`),
      30_000,
    );
    const tmp = join(dir, `.${binary.name}.tmp`);
    try {
      await build(binary, tmp, minor);
      renameSync(tmp, join(dir, binary.name)); // atomic: a cut-off build never leaves a half binary
    } finally {
      clearInterval(ticker);
      rmSync(tmp, { force: true });
    }
    log(`[${i + 1}/${missing.length}] built ${binary.name} in ${Math.round((Date.now() - t0) / 1000)} s`);
  }
  log(`all binaries built in ${Math.round((Date.now() - started) / 1000)} s`);
  return dir;
}
