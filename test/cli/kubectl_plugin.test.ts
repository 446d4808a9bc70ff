/**
 * The same binary installed as the kubectl plugin `kubectl-watch_policy` (package.json `bin`):
 * kubectl runs it as `kubectl watch-policy`, and that is the name its usage and errors show.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, killAll, lines, requireBuild, run, tempDir } from '../support/cli.ts';

// Every call of the CLI starts a Node process (about 1 s on a busy 2-core machine); each call has
// its own shorter timeout (helpers.ts), so a hang fails with the command line rather than here.
jest.setTimeout(60_000);

let tmp: Awaited<ReturnType<typeof tempDir>>;
let plugin: string;

beforeAll(async () => {
  requireBuild();
  tmp = await tempDir('kubectl');
  plugin = join(tmp.dir, 'kubectl-watch_policy');
  await symlink(CLI, plugin);
});

afterAll(async () => {
  await killAll();
  await tmp?.cleanup();
});

describe('kubectl-watch_policy', () => {
  test('--help shows the usage as `kubectl watch-policy`', async () => {
    const r = await run(['--help'], { script: plugin, cwd: tmp.dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage: kubectl watch-policy \[options\] \[command\]\n/);
    expect(r.stdout).not.toContain('k8s-watch-policy');
  });

  test('a subcommand help and an error use the plugin name too', async () => {
    const help = await run(['elect', '--help'], { script: plugin, cwd: tmp.dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: kubectl watch-policy elect \[options\]\n/);

    const bad = await run(['frobnicate'], { script: plugin, cwd: tmp.dir });
    expect(bad.code).toBe(64);
    expect(lines(bad.stderr)).toEqual([
      `kubectl watch-policy: unknown command 'frobnicate' (see kubectl watch-policy --help)`,
    ]);
  });

  test('the plugin works: inject from standard input', async () => {
    const watcher =
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n  template:\n    spec:\n      containers: [{name: deepflow-agent, image: deepflow-agent:v6.6}]\n';
    const r = await run(['inject', '-f', '-'], { script: plugin, cwd: tmp.dir, stdin: watcher });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('- name: K8S_WATCH_POLICY\n              value: watch-only\n');
  });

  test('under its own name the binary still says k8s-watch-policy', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: k8s-watch-policy \[options\] \[command\]\n/);
  });
});
