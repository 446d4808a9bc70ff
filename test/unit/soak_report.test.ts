/** The soak's report (test/soak/report.ts), its command line (main.ts) and the product names it spells (product_names.ts). */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import * as labels from '../../src/policy/labels.ts';
import { parseArgs } from '../soak/main.ts';
import * as names from '../soak/product_names.ts';
import { classRows, formatMemory, formatTable, memoryByReplica, percentile } from '../soak/report.ts';
import { FAULT_CLASSES } from '../soak/schedule.ts';

describe('percentile', () => {
  test.each([
    [[], 50, undefined],
    [[5], 99, 5],
    [[1, 2, 3, 4], 50, 2],
    [[4, 3, 2, 1], 99, 4],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9],
  ])('percentile(%j, %i) = %j', (xs, p, want) => expect(percentile(xs, p)).toBe(want));

  test('property: a percentile is one of the values, and grows with p', () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { minLength: 1 }), fc.integer({ min: 0, max: 100 }), (xs, p) => {
        expect(xs).toContain(percentile(xs, p));
        expect(percentile(xs, p)!).toBeLessThanOrEqual(percentile(xs, Math.min(100, p + 10))!);
      }),
    );
  });
});

test('classRows: one row per class and one for violations before any fault', () => {
  const rows = classRows(
    [
      { class: 'etcd-kill', convergeMs: 1000 },
      { class: 'etcd-kill', convergeMs: 3000 },
      { class: 'leader-kill', convergeMs: undefined },
    ],
    [
      { invariant: 'convergence', message: 'x', seq: 1, fault: 'leader-kill' },
      { invariant: 'admission', message: 'y', seq: 2, fault: undefined },
    ],
  );
  expect(rows.map((r) => r.class)).toEqual([...FAULT_CLASSES, 'none']);
  expect(rows.find((r) => r.class === 'etcd-kill')).toMatchObject({
    count: 2,
    converged: 2,
    p50Ms: 1000,
    p99Ms: 3000,
    maxMs: 3000,
    violations: 0,
  });
  expect(rows.find((r) => r.class === 'leader-kill')).toMatchObject({
    count: 1,
    converged: 0,
    p50Ms: undefined,
    violations: 1,
  });
  expect(rows.at(-1)).toMatchObject({ violations: 1 });
  const table = formatTable(rows);
  expect(table.split('\n')[0]).toMatch(/^fault class\s+count\s+converged\s+p50 s\s+p99 s\s+max s\s+violations$/);
  expect(table).toMatch(/etcd-kill\s+2\s+2\s+1\.0\s+3\.0\s+3\.0\s+0/);
});

describe('parseArgs', () => {
  test('flags', () => {
    expect(parseArgs(['--minutes', '3', '--seed', '7', '--json', 'out.json', '--keep'])).toEqual({
      minutes: 3,
      seed: 7,
      json: 'out.json',
      keep: true,
    });
    expect(parseArgs(['--help'])).toBe('help');
  });
  test.each([
    [['--minutes']],
    [['--minutes', 'x']],
    [['--minutes', '0']],
    [['--seed', '-1']],
    [['--json']],
    [['--bogus']],
  ])('bad command line %j', (argv) => {
    expect(parseArgs(argv)).toEqual(expect.stringMatching(/must|needs|unknown/));
  });
  test('property: any command line is parsed or refused, never throws', () => {
    fc.assert(fc.property(fc.array(fc.string()), (argv) => void parseArgs(argv)));
  });
});

test("the names the soak spells are the product's", () => {
  expect(names.WATCHER_LABEL).toBe(labels.WATCHER_LABEL);
  expect(names.REASON_ANNOTATION).toBe(labels.REASON_ANNOTATION);
  expect(names.INJECTION_LABEL).toBe(labels.INJECTION_LABEL);
  expect(names.ROLE_LABEL).toBe(labels.ROLE_LABEL);
  expect(names.POLICY_ENV).toBe(labels.POLICY_ENV);
  expect(names.DEPRECATED_ENV).toBe(labels.DEPRECATED_ENV);
});

describe('memoryByReplica', () => {
  const m = (samples: number, firstMiB: number, lastMiB: number, maxMiB: number) => ({
    samples,
    firstMiB,
    lastMiB,
    maxMiB,
  });

  test('one row per replica: its incarnations counted, the highest RSS, the longest-lived incarnation', () => {
    const rows = memoryByReplica({
      'webhook-1#1': m(10, 80, 84, 85),
      'soak-controller-0#1': m(4, 80, 83, 83),
      'soak-controller-0#2': m(40, 81, 86, 90),
      'soak-controller-0#3': m(2, 24, 78, 78),
    });
    expect(rows).toEqual([
      {
        replica: 'soak-controller-0',
        incarnations: 3,
        samples: 46,
        maxMiB: 90,
        longest: { key: 'soak-controller-0#2', samples: 40, firstMiB: 81, lastMiB: 86 },
      },
      {
        replica: 'webhook-1',
        incarnations: 1,
        samples: 10,
        maxMiB: 85,
        longest: { key: 'webhook-1#1', samples: 10, firstMiB: 80, lastMiB: 84 },
      },
    ]);
    expect(formatMemory(rows).split('\n')).toEqual([
      '  rss soak-controller-0: max 90 MiB over 3 process(es), 46 samples; longest-lived soak-controller-0#2: 81 -> 86 MiB (40 samples)',
      '  rss webhook-1: max 85 MiB over 1 process(es), 10 samples; longest-lived webhook-1#1: 80 -> 84 MiB (10 samples)',
    ]);
  });

  test('property: every incarnation is counted once, and no row claims more than its incarnations reached', () => {
    const entry = fc.tuple(
      fc.constantFrom('a', 'b', 'c'),
      fc.integer({ min: 1, max: 99 }),
      fc.integer({ min: 1, max: 500 }),
      fc.integer({ min: 1, max: 200 }),
    );
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: ([r, i]) => `${r}#${i}` }), (entries) => {
        const memory = Object.fromEntries(
          entries.map(([r, i, samples, mib]) => [`${r}#${i}`, m(samples, mib, mib, mib)]),
        );
        const rows = memoryByReplica(memory);
        expect(rows.reduce((n, r) => n + r.incarnations, 0)).toBe(entries.length);
        expect(rows.reduce((n, r) => n + r.samples, 0)).toBe(entries.reduce((n, [, , s]) => n + s, 0));
        for (const r of rows)
          expect(r.maxMiB).toBe(Math.max(...entries.filter(([x]) => x === r.replica).map(([, , , mib]) => mib)));
      }),
    );
  });
});
