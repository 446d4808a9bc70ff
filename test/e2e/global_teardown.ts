/** Stops the local control plane if the test run started it (a cluster you brought up stays up). */
import { existsSync, rmSync } from 'node:fs';
import { down } from '../cluster/cluster.ts';
import { STARTED_BY_TESTS } from './global_setup.ts';

export default async function globalTeardown(): Promise<void> {
  if (!existsSync(STARTED_BY_TESTS)) return;
  await down();
  rmSync(STARTED_BY_TESTS, { force: true });
}
