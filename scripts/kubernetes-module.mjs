#!/usr/bin/env node
/**
 * Writes the Go module that builds one Kubernetes minor for the local control plane:
 * test/cluster/kubernetes/<minor>/ with go.mod (k8s.io/kubernetes at the patch given, each of its
 * staging modules replaced by the matching v0 release, etcd at the version that release pins,
 * the Go behaviours of the Go version it was released with), go.sum, and the etcd main.
 *
 *   node scripts/kubernetes-module.mjs 1.30.14
 *
 * The modules are committed; run this only to add a minor or move one to a newer patch.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const version = process.argv[2]?.replace(/^v/, '');
if (!version || !/^1\.\d+\.\d+$/.test(version)) {
  process.stderr.write('usage: node scripts/kubernetes-module.mjs <1.MINOR.PATCH>\n');
  process.exit(64);
}
const minor = version.split('.').slice(0, 2).join('.');
const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' };
const go = (args, cwd) =>
  execFileSync('go', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

const info = JSON.parse(go(['mod', 'download', '-json', `k8s.io/kubernetes@v${version}`], ROOT));
const upstream = readFileSync(info.GoMod, 'utf8');
const staging = [...upstream.matchAll(/^\s*(k8s\.io\/[\w.-]+) => \.\/staging\/src\/k8s\.io\/[\w.-]+\s*$/gm)].map(
  (m) => m[1],
);
const etcd = /go\.etcd\.io\/etcd\/client\/v3 (v[\d.]+)/.exec(upstream)?.[1];
const goLine = /^go (\d+\.\d+)/m.exec(upstream)?.[1];
if (staging.length === 0 || !etcd || !goLine)
  throw new Error(`cannot read the staging modules, etcd or go of k8s.io/kubernetes v${version}`);

const dir = join(ROOT, 'test', 'cluster', 'kubernetes', minor);
mkdirSync(join(dir, 'cmd', 'etcd'), { recursive: true });
writeFileSync(
  join(dir, 'cmd', 'etcd', 'main.go'),
  `// etcd, built from go.etcd.io/etcd/server/v3 at the version k8s.io/kubernetes v${version} pins.
package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
\tetcdmain.Main(os.Args)
}
`,
);
const tools = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kubelet', 'kube-proxy'];
writeFileSync(
  join(dir, 'go.mod'),
  `// Kubernetes ${minor} for the local control plane (test/cluster): kube-apiserver,
// kube-controller-manager, kube-scheduler, kubectl, kubelet and kube-proxy of k8s.io/kubernetes
// v${version}, and etcd ${etcd}, the version it pins. Written by scripts/kubernetes-module.mjs.
module k8s-watch-policy/test/cluster/kubernetes/${minor}

go 1.26.0

// The Go behaviours of the Go version this release was built with (its go.mod says go ${goLine}).
godebug default=go${goLine}

tool (
${tools.map((t) => `\tk8s.io/kubernetes/cmd/${t}`).join('\n')}
)

require (
\tgo.etcd.io/etcd/server/v3 ${etcd}
\tk8s.io/kubernetes v${version}
)

// k8s.io/kubernetes is not meant to be a dependency: its staging modules are required at
// v0.0.0 and must be replaced, each by the release that matches v${version}.
replace (
${staging.map((m) => `\t${m} => ${m} v0.${version.split('.').slice(1).join('.')}`).join('\n')}
)
`,
);
go(['mod', 'tidy'], dir);
process.stdout.write(
  `wrote ${dir}: kubernetes v${version}, etcd ${etcd}, ${staging.length} staging modules, godebug go${goLine}\n`,
);
