// The chart tests need helm, not a cluster: $HELM, else the harness-built one (test/cluster),
// built here on a fresh checkout through the same command a user runs (`npm run cluster -- build`).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default async function globalSetup() {
  if (process.env.HELM) return;
  const build = spawnSync(process.execPath, [join(root, 'test/cluster/main.ts'), 'build'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (build.status !== 0)
    throw new Error('cannot build helm for the chart tests (see the [cluster] lines above), or set HELM=/path/to/helm');
}
