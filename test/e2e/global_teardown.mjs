// Stops the local control plane if the test run started it (a cluster you brought up stays up).
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startedByTests } from './global_setup.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default async function globalTeardown() {
  if (!existsSync(startedByTests)) return;
  const down = spawnSync(process.execPath, [join(root, 'test/cluster/main.ts'), 'down'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  rmSync(startedByTests, { force: true });
  if (down.status !== 0) throw new Error('the local control plane did not stop cleanly');
}
