/** Where the local control plane keeps its module, its binary cache and its state. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The Go module of the tools, one version for every minor: kwok and helm. */
export const GO_MODULE_DIR = join(REPO_ROOT, 'test', 'cluster');
/** Committed kwok stages: nodes become Ready, pods become Running. */
export const KWOK_STAGES = join(GO_MODULE_DIR, 'kwok', 'stages.yaml');

/** The running cluster's files: pki, kubeconfig, pids, logs, etcd data (override: K8S_WATCH_POLICY_CLUSTER_DIR). */
export const STATE_DIR = process.env.K8S_WATCH_POLICY_CLUSTER_DIR ?? join(REPO_ROOT, '.cluster');
export const KUBECONFIG = join(STATE_DIR, 'kubeconfig');
export const LOG_DIR = join(STATE_DIR, 'logs');
export const PID_DIR = join(STATE_DIR, 'pids');
export const PKI_DIR = join(STATE_DIR, 'pki');
export const STATE_FILE = join(STATE_DIR, 'state.json');

/** The Kubernetes minors the harness builds, oldest first: one module each under test/cluster/kubernetes/. */
export function kubernetesMinors(): string[] {
  return readdirSync(join(GO_MODULE_DIR, 'kubernetes'))
    .filter((d) => /^1\.\d+$/.test(d))
    .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
}

const minorOf = (version: string) => version.replace(/^v/, '').split('.').slice(0, 2).join('.');
const requiredVersion = (goMod: string, module: string) =>
  new RegExp(`^\\s*(?:require\\s+)?${module.replaceAll('.', '\\.')} (v[^\\s]+)`, 'm').exec(goMod)?.[1];

/** The newest minor: what `up` runs unless told otherwise. */
export function defaultMinor(): string {
  return kubernetesMinors().at(-1)!;
}

/** The minor this process runs: $K8S_WATCH_POLICY_KUBERNETES (`1.30`), else the default. */
export function selectedMinor(): string {
  const wanted = process.env.K8S_WATCH_POLICY_KUBERNETES?.replace(/^v/, '');
  if (!wanted) return defaultMinor();
  const minor = minorOf(wanted);
  if (!kubernetesMinors().includes(minor))
    throw new Error(`no module builds Kubernetes ${wanted}: the harness has ${kubernetesMinors().join(', ')}`);
  return minor;
}

/** The Go module that builds a minor's Kubernetes binaries and etcd. */
export function kubernetesModuleDir(minor = selectedMinor()): string {
  return join(GO_MODULE_DIR, 'kubernetes', minor);
}

/** The versions the modules pin, read from their go.mod: Kubernetes and etcd of the minor, kwok and helm of the default module. */
export function moduleVersions(minor = selectedMinor()): {
  kubernetes: string;
  kwok: string;
  helm: string;
  etcd: string;
} {
  const main = readFileSync(join(GO_MODULE_DIR, 'go.mod'), 'utf8');
  const own = readFileSync(join(kubernetesModuleDir(minor), 'go.mod'), 'utf8');
  const version = (goMod: string, module: string) => {
    const found = requiredVersion(goMod, module);
    if (!found) throw new Error(`go.mod does not require ${module}`);
    return found;
  };
  return {
    kubernetes: version(own, 'k8s.io/kubernetes'),
    kwok: version(main, 'sigs.k8s.io/kwok'),
    helm: version(main, 'helm.sh/helm/v3'),
    etcd: version(own, 'go.etcd.io/etcd/server/v3'),
  };
}

/**
 * The binary cache for a minor: ~/.cache/k8s-watch-policy/kubernetes-<version>-<hash>/bin
 * (override the root with K8S_WATCH_POLICY_CACHE). The hash covers the go.mod, go.sum and etcd
 * main of the default module and of the minor's, so a changed pin builds anew instead of
 * reusing stale binaries.
 */
export function binDir(minor = selectedMinor()): string {
  const root =
    process.env.K8S_WATCH_POLICY_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'k8s-watch-policy');
  const hash = createHash('sha256');
  for (const file of [join(GO_MODULE_DIR, 'go.mod'), join(GO_MODULE_DIR, 'go.sum')]) hash.update(readFileSync(file));
  const own = kubernetesModuleDir(minor);
  for (const file of ['go.mod', 'go.sum', join('cmd', 'etcd', 'main.go')]) hash.update(readFileSync(join(own, file)));
  return join(root, `kubernetes-${moduleVersions(minor).kubernetes}-${hash.digest('hex').slice(0, 12)}`, 'bin');
}
