/** Where the local control plane keeps its module, its binary cache and its state. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The Go module that builds every binary (go.mod, go.sum, cmd/etcd). */
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

/** The versions the module pins, read from go.mod. */
export function moduleVersions(): { kubernetes: string; kwok: string; helm: string; etcd: string } {
  const goMod = readFileSync(join(GO_MODULE_DIR, 'go.mod'), 'utf8');
  const version = (module: string) => {
    const match = new RegExp(`^\\s*(?:require\\s+)?${module.replaceAll('.', '\\.')} (v[^\\s]+)`, 'm').exec(goMod);
    if (!match) throw new Error(`go.mod does not require ${module}`);
    return match[1]!;
  };
  return {
    kubernetes: version('k8s.io/kubernetes'),
    kwok: version('sigs.k8s.io/kwok'),
    helm: version('helm.sh/helm/v3'),
    etcd: version('go.etcd.io/etcd/server/v3'),
  };
}

/**
 * The binary cache for this exact module: ~/.cache/k8s-watch-policy/<kubernetes version>-<hash>/bin
 * (override the root with K8S_WATCH_POLICY_CACHE). The hash covers go.mod, go.sum and the etcd
 * main, so a changed pin builds anew instead of reusing stale binaries.
 */
export function binDir(): string {
  const root =
    process.env.K8S_WATCH_POLICY_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'k8s-watch-policy');
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum', join('cmd', 'etcd', 'main.go')])
    hash.update(readFileSync(join(GO_MODULE_DIR, file)));
  return join(root, `kubernetes-${moduleVersions().kubernetes}-${hash.digest('hex').slice(0, 12)}`, 'bin');
}
