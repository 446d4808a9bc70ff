/** The pure parts of leader election: observed-time expiry, record <-> Lease spec, timings. */
import { describe, expect, test } from '@jest/globals';
import {
  JITTER_FACTOR,
  jitteredPeriod,
  leaseDurationSeconds,
  LeaseObservation,
  validateTimings,
} from '../../src/kube/leaderelection/lease_observation.ts';
import { formatMicroTime } from '../../src/kube/objects.ts';
import type { Lease } from '../../src/kube/objects.ts';
import { recordOf, snapshotOf, specOf, type LeaseSnapshot } from '../../src/kube/leaderelection/lease_lock.ts';

function snapshot(resourceVersion: string, spec: Lease['spec']): LeaseSnapshot {
  return snapshotOf({ metadata: { name: 'l', namespace: 'n', resourceVersion }, spec });
}

describe('LeaseObservation: expiry by the local clock only', () => {
  test('expires leaseDurationSeconds after the last observed change, whatever renewTime says', () => {
    for (const renewTime of ['2000-01-01T00:00:00.000000Z', '2100-01-01T00:00:00.000000Z', undefined]) {
      const o = new LeaseObservation();
      expect(o.expired(1e9, 15_000)).toBe(false); // nothing observed: nothing to take over
      expect(o.observe(snapshot('1', { holderIdentity: 'a', leaseDurationSeconds: 3, renewTime }), 1000)).toBe(true);
      expect(o.observedAt).toBe(1000);
      expect(o.expired(4000, 15_000)).toBe(false); // exactly the duration: not yet
      expect(o.expired(4001, 15_000)).toBe(true);
    }
  });

  test('re-reading an unchanged record does not move the observed time; any change does', () => {
    const o = new LeaseObservation();
    const spec = {
      holderIdentity: 'a',
      leaseDurationSeconds: 3,
      renewTime: '2024-01-01T00:00:00.000000Z',
      leaseTransitions: 2,
    };
    o.observe(snapshot('7', spec), 1000);
    expect(o.observe(snapshot('7', { ...spec }), 3500)).toBe(false);
    expect(o.observedAt).toBe(1000);
    expect(o.expired(4500, 15_000)).toBe(true);
    // A renewal (new renewTime), a new resourceVersion alone, a new holder: each restarts the wait.
    expect(o.observe(snapshot('7', { ...spec, renewTime: '2024-01-01T00:00:02.000000Z' }), 4600)).toBe(true);
    expect(o.expired(7000, 15_000)).toBe(false);
    expect(o.observe(snapshot('8', { ...spec, renewTime: '2024-01-01T00:00:02.000000Z' }), 7000)).toBe(true);
    expect(o.expired(9000, 15_000)).toBe(false);
    expect(
      o.observe(snapshot('8', { ...spec, holderIdentity: 'b', renewTime: '2024-01-01T00:00:02.000000Z' }), 9500),
    ).toBe(true);
    expect(o.holder).toBe('b');
    expect(o.expired(12_000, 15_000)).toBe(false);
    expect(o.expired(12_501, 15_000)).toBe(true);
  });

  test("uses the holder's duration, and the local one when the record has none", () => {
    const o = new LeaseObservation();
    o.observe(snapshot('1', { holderIdentity: 'a', leaseDurationSeconds: 1 }), 0); // a released lease
    expect(o.expired(1001, 15_000)).toBe(true);
    o.observe(snapshot('2', { holderIdentity: 'a' }), 0);
    expect(o.expired(14_000, 15_000)).toBe(false);
    expect(o.expired(15_001, 15_000)).toBe(true);
  });
});

describe('the Lease record', () => {
  test('MicroTime has six fractional digits in UTC', () => {
    expect(formatMicroTime(new Date(Date.UTC(2024, 1, 29, 23, 59, 58, 7)))).toBe('2024-02-29T23:59:58.007000Z');
    expect(formatMicroTime(new Date())).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  test('absent spec fields read as empty; a round trip keeps the fields leader election does not own', () => {
    expect(recordOf({ metadata: {} })).toEqual({ holderIdentity: '', leaseDurationSeconds: 0, leaseTransitions: 0 });
    expect(recordOf({ metadata: {}, spec: { holderIdentity: null, leaseTransitions: null } })).toEqual({
      holderIdentity: '',
      leaseDurationSeconds: 0,
      leaseTransitions: 0,
    });
    const previous = {
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      acquireTime: 't0',
      renewTime: 't1',
      leaseTransitions: 4,
      strategy: 'OldestEmulationVersion',
    };
    const spec = specOf(
      { holderIdentity: '', leaseDurationSeconds: 1, renewTime: 't2', leaseTransitions: 4 },
      previous,
    );
    expect(spec).toEqual({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      renewTime: 't2',
      leaseTransitions: 4,
      strategy: 'OldestEmulationVersion',
    });
    expect(recordOf({ metadata: {}, spec })).toEqual({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      renewTime: 't2',
      leaseTransitions: 4,
    });
  });
});

describe('timings', () => {
  test('the client-go constraints: leaseDuration > renewDeadline > 1.2 × retryPeriod > 0', () => {
    expect(() => validateTimings(15_000, 10_000, 2_000)).not.toThrow();
    expect(() => validateTimings(3_000, 2_000, 500)).not.toThrow();
    expect(() => validateTimings(10_000, 10_000, 2_000)).toThrow(/leaseDurationMs/);
    expect(() => validateTimings(15_000, 2_400, 2_000)).toThrow(/1.2 × retryPeriodMs/);
    expect(() => validateTimings(15_000, 10_000, 0)).toThrow(/positive/);
    expect(() => validateTimings(Number.NaN, 10_000, 2_000)).toThrow(/positive/);
  });

  test('jitter stays within [retryPeriod, (1 + 1.2) × retryPeriod]', () => {
    expect(jitteredPeriod(2000, () => 0)).toBe(2000);
    expect(jitteredPeriod(2000, () => 0.999999)).toBeCloseTo(2000 * (1 + JITTER_FACTOR), 0);
    for (let i = 0; i < 100; i++) {
      const p = jitteredPeriod(500);
      expect(p).toBeGreaterThanOrEqual(500);
      expect(p).toBeLessThan(500 * (1 + JITTER_FACTOR));
    }
  });

  test('the written duration is whole seconds, never shorter than configured', () => {
    expect(leaseDurationSeconds(15_000)).toBe(15);
    expect(leaseDurationSeconds(2_500)).toBe(3);
    expect(leaseDurationSeconds(200)).toBe(1);
  });
});
