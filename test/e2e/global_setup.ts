/**
 * Brings the local control plane up once for the end-to-end project (building the binaries on
 * the first run) and remembers whether it was already up, so that teardown only stops what the
 * test run started.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status, up } from '../cluster/cluster.ts';
import { STATE_DIR } from '../cluster/paths.ts';

export const STARTED_BY_TESTS = join(STATE_DIR, 'started-by-tests');

export default async function globalSetup(): Promise<void> {
  const before = existsSync(join(STATE_DIR, 'state.json')) ? await status() : undefined;
  await up();
  if (!before?.apiReady) writeFileSync(STARTED_BY_TESTS, String(process.pid));
}
