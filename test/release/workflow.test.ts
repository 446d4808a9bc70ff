/**
 * The release workflow stays thin: on a version tag it runs `npm ci` and `npm run release` (the
 * command e2e:node runs against its local registry) with keyless signing, and nothing else of its
 * own but the tools' setup.
 */
import { expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const workflow = parse(readFileSync(join(ROOT, '.github', 'workflows', 'release.yaml'), 'utf8'));

test('a version tag runs npm ci and npm run release --keyless into the owner registry, with OIDC', () => {
  expect(workflow.on.push.tags).toEqual(['v[0-9]+.[0-9]+.[0-9]+*']);
  expect(workflow.permissions).toEqual({ contents: 'read', packages: 'write', 'id-token': 'write' });
  const steps = workflow.jobs.release.steps as { uses?: string; run?: string }[];
  const runs = steps.filter((s) => s.run !== undefined).map((s) => s.run);
  expect(runs).toEqual([
    'sudo apt-get update && sudo apt-get install -y --no-install-recommends debian-archive-keyring',
    'npm ci',
    'npm run release -- --version "${GITHUB_REF_NAME#v}" --registry "ghcr.io/${GITHUB_REPOSITORY_OWNER}" --keyless',
  ]);
  expect(steps.filter((s) => s.uses).map((s) => s.uses!.split('@')[0])).toEqual([
    'actions/checkout',
    'actions/setup-node',
    'actions/setup-go',
    'azure/setup-helm',
  ]);
});

test('the helm it sets up is the one the tests build', () => {
  const goMod = readFileSync(join(ROOT, 'test', 'cluster', 'go.mod'), 'utf8');
  const helm = /helm\.sh\/helm\/v3 (v\S+)/.exec(goMod)![1];
  const setup = (workflow.jobs.release.steps as { uses?: string; with?: { version?: string } }[]).find((s) =>
    s.uses?.startsWith('azure/setup-helm'),
  );
  expect(setup?.with?.version).toBe(helm);
});
