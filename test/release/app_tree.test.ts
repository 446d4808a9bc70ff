/** What the image's node_modules leaves out: a dependency and whatever only it needs, resolved as Node does. */
import { expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LEFT_OUT, unreachablePackages } from '../../scripts/release/app_tree.ts';

test('a left-out package goes with what only it needs; shared, nested and dev entries are decided by resolution', () => {
  const lock = {
    packages: {
      '': { dependencies: { big: '1', app: '1' }, devDependencies: { jest: '1' } },
      'node_modules/big': { dependencies: { shared: '1', onlybig: '1', nested: '1' } },
      'node_modules/big/node_modules/nested': { dependencies: { deep: '1' } },
      'node_modules/deep': {},
      'node_modules/onlybig': { peerDependencies: { peer: '1' } },
      'node_modules/peer': {},
      'node_modules/shared': {},
      'node_modules/app': { dependencies: { shared: '1', nested: '2' } },
      // app's own nested is the top-level one, not big's.
      'node_modules/nested': {},
      'node_modules/jest': { dev: true },
    },
  };
  expect(unreachablePackages(lock, ['big'])).toEqual([
    'node_modules/big',
    'node_modules/big/node_modules/nested',
    'node_modules/deep',
    'node_modules/onlybig',
    'node_modules/peer',
  ]);
  expect(unreachablePackages(lock, [])).toEqual([]);
});

test("on the project's lock: @kubernetes/client-node and what only it needs go; the other dependencies stay", () => {
  const lock = JSON.parse(readFileSync(fileURLToPath(new URL('../../package-lock.json', import.meta.url)), 'utf8'));
  const gone = unreachablePackages(lock, LEFT_OUT);
  expect(gone).toContain('node_modules/@kubernetes/client-node');
  for (const kept of ['express', 'pino', 'prom-client', 'yaml', 'selfsigned', 'commander', 'fast-json-patch'])
    expect(gone).not.toContain(`node_modules/${kept}`);
  expect(gone.length).toBeGreaterThan(10);
});
