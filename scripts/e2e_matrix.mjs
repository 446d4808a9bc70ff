#!/usr/bin/env node
/**
 * `npm run e2e:matrix [-- --versions 1.30,1.33,1.37 | --oldest] [--node]`: the end-to-end and release suites
 * (test:e2e's e2e and installed projects, on kwok) on each Kubernetes minor in turn, each on a
 * state directory of its own (.cluster/matrix-<minor>), then a table: minor, patch, tests
 * passed and failed, build and test time. `--node` adds e2e:node on the oldest and the newest.
 * Every minor the harness has (test/cluster/go.mod and test/cluster/kubernetes/<minor>) by default.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { kubernetesMinors, moduleVersions } = await import('../test/cluster/paths.ts');

const args = process.argv.slice(2);
const at = args.indexOf('--versions');
const minors = args.includes('--oldest')
  ? [kubernetesMinors()[0]]
  : at >= 0
    ? (args[at + 1] ?? '').split(',').map((v) => v.trim().replace(/^v/, ''))
    : kubernetesMinors();
const unknown = minors.filter((m) => !kubernetesMinors().includes(m));
if (minors.length === 0 || unknown.length > 0) {
  process.stderr.write(
    `e2e:matrix: no module for ${unknown.join(', ') || '(none)'}; the harness has ${kubernetesMinors().join(', ')}\n`,
  );
  process.exit(64);
}
const withNode = args.includes('--node');
const step = (what) => process.stderr.write(`[e2e:matrix] ${what}\n`);

function run(command, commandArgs, env) {
  const started = Date.now();
  const r = spawnSync(command, commandArgs, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  return { status: r.status ?? 1, seconds: Math.round((Date.now() - started) / 1000) };
}

const rows = [];
for (const minor of minors) {
  const env = {
    K8S_WATCH_POLICY_KUBERNETES: minor,
    K8S_WATCH_POLICY_CLUSTER_DIR: join(ROOT, '.cluster', `matrix-${minor}`),
    NODE_OPTIONS: '--experimental-vm-modules',
  };
  mkdirSync(env.K8S_WATCH_POLICY_CLUSTER_DIR, { recursive: true });
  step(`Kubernetes ${minor}: build`);
  const build = run(process.execPath, [join(ROOT, 'test', 'cluster', 'main.ts'), 'build'], env);
  const results = join(env.K8S_WATCH_POLICY_CLUSTER_DIR, 'jest.json');
  rmSync(results, { force: true });
  step(`Kubernetes ${minor}: the e2e and installed suites`);
  const jest = join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
  const suites =
    build.status === 0
      ? run(
          process.execPath,
          [jest, '--selectProjects', 'e2e', 'installed', '--runInBand', '--json', '--outputFile', results],
          env,
        )
      : { status: 1, seconds: 0 };
  const counts = existsSync(results) ? JSON.parse(readFileSync(results, 'utf8')) : {};
  const node =
    withNode && (minor === minors[0] || minor === minors.at(-1))
      ? run('npm', ['run', 'e2e:node'], { K8S_WATCH_POLICY_KUBERNETES: minor })
      : undefined;
  rows.push({
    minor,
    patch: moduleVersions(minor).kubernetes,
    passed: counts.numPassedTests ?? 0,
    failed: counts.numFailedTests ?? (build.status === 0 ? '?' : 'build failed'),
    build: build.seconds,
    tests: suites.seconds,
    node: node ? (node.status === 0 ? `passed (${node.seconds} s)` : `FAILED (${node.seconds} s)`) : '',
    ok: build.status === 0 && suites.status === 0 && (!node || node.status === 0),
  });
}

const header = ['minor', 'patch', 'passed', 'failed', 'build s', 'tests s', ...(withNode ? ['e2e:node'] : [])];
const table = [
  header,
  ...rows.map((r) =>
    [r.minor, r.patch, r.passed, r.failed, r.build, r.tests, ...(withNode ? [r.node] : [])].map(String),
  ),
];
const widths = header.map((_, i) => Math.max(...table.map((r) => r[i].length)));
process.stdout.write(`\ne2e:matrix, ${new Date().toISOString().slice(0, 10)}\n\n`);
for (const r of table)
  process.stdout.write(
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd() + '\n',
  );
process.exitCode = rows.every((r) => r.ok) ? 0 : 1;
