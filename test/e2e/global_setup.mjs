// Brings the local control plane up once for the end-to-end project (building the binaries on the
// first run, with progress on stderr), through the same command a user runs. Remembers whether it
// was up already, so that teardown only stops what the test run started.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const stateDir = process.env.K8S_WATCH_POLICY_CLUSTER_DIR ?? join(root, '.cluster');
export const startedByTests = join(stateDir, 'started-by-tests');

const cluster = (command, stdio) =>
  spawnSync(process.execPath, [join(root, 'test/cluster/main.ts'), command], { cwd: root, stdio });

export default async function globalSetup() {
  const wasUp = cluster('status', 'ignore').status === 0;
  const up = cluster('up', ['ignore', 'ignore', 'inherit']);
  if (up.status !== 0) throw new Error('the local control plane did not come up (see the [cluster] lines above)');
  if (!wasUp) writeFileSync(startedByTests, String(process.pid));
}
