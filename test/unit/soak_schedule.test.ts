/** The soak's fault plan (test/soak/schedule.ts) and its PRNG: deterministic, every class early, holds in bounds. */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { parseSeed, rng } from '../soak/prng.ts';
import { FAULT_CLASSES, FAULT_DESCRIPTIONS, planFaults, startsNext } from '../soak/schedule.ts';

const LEASE = { leaseMs: 6000 };

describe('rng', () => {
  test('the same seed gives the same sequence, another seed another one', () => {
    const a = rng(42);
    const b = rng(42);
    const xs = Array.from({ length: 20 }, () => a.next());
    expect(Array.from({ length: 20 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 20 }, () => rng(43).next())).not.toEqual(xs);
  });

  test('int stays in its bounds, shuffle keeps the elements', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        (seed, min, span) => {
          const r = rng(seed);
          for (let i = 0; i < 20; i++) {
            const n = r.int(min, min + span);
            expect(n).toBeGreaterThanOrEqual(min);
            expect(n).toBeLessThanOrEqual(min + span);
          }
          expect(r.shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
        },
      ),
    );
  });

  test.each([
    ['0', 0],
    ['4294967295', 4294967295],
    ['4294967296', undefined],
    ['-1', undefined],
    ['1.5', undefined],
    ['', undefined],
    ['abc', undefined],
  ])('parseSeed(%j) = %j', (text, seed) => expect(parseSeed(text)).toBe(seed));
});

describe('planFaults', () => {
  test('every class has a description', () => {
    for (const c of FAULT_CLASSES) expect(FAULT_DESCRIPTIONS[c]).toBeTruthy();
  });

  test('the first faults are every class once, whatever the seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (seed) => {
        const plan = planFaults(seed, 30, LEASE);
        expect(plan).toHaveLength(30);
        expect(new Set(plan.slice(0, FAULT_CLASSES.length).map((f) => f.class)).size).toBe(FAULT_CLASSES.length);
      }),
    );
  });

  test('deterministic in the seed; holds, gaps and targets in their bounds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 40 }), (seed, count) => {
        const plan = planFaults(seed, count, LEASE);
        expect(planFaults(seed, count, LEASE)).toEqual(plan);
        expect(plan.length).toBe(Math.max(count, FAULT_CLASSES.length));
        plan.forEach((f, i) => {
          expect(f.index).toBe(i);
          expect(f.gapMs).toBeGreaterThanOrEqual(2000);
          expect(f.gapMs).toBeLessThanOrEqual(8000);
          expect([0, 1]).toContain(f.replica);
          if (f.class === 'leader-pause' || f.class === 'leader-network-cut')
            expect(f.holdMs).toBeGreaterThan(LEASE.leaseMs);
          expect(f.freezeAfterMs).toBeLessThanOrEqual(f.class === 'leader-pause' ? 400 : 0);
          if (f.class === 'leader-network-delay') expect(f.delayMs).toBeGreaterThanOrEqual(200);
          else expect(f.delayMs).toBe(0);
        });
      }),
    );
  });

  test('the plan of a given seed (a change here changes what a recorded seed replays)', () => {
    expect(planFaults(20261205, 8, LEASE).map((f) => f.class)).toEqual([
      'leader-pause',
      'webhook-kill',
      'leader-network-cut',
      'etcd-kill',
      'leader-network-delay',
      'apiserver-kill',
      'leader-kill',
      'webhook-kill',
    ]);
  });
});

describe('startsNext', () => {
  test.each([
    [0, 10_000_000, 60_000, true],
    [FAULT_CLASSES.length - 1, 10_000_000, 60_000, true],
    [FAULT_CLASSES.length, 59_999, 60_000, true],
    [FAULT_CLASSES.length, 60_000, 60_000, false],
  ])('fault %i after %i ms of a %i ms budget: %s', (index, elapsed, budget, starts) =>
    expect(startsNext(index, elapsed, budget)).toBe(starts),
  );
});
