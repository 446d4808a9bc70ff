import { describe, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import {
  applyStep,
  nextStep,
  rotationPolicy,
  splitPem,
  type RotationPolicy,
  type TlsMaterial,
} from '../../src/certs/rotation.ts';
import { materialOf, secretWith } from '../../src/certs/tls_secret.ts';

const S = 1000;
const policy: RotationPolicy = {
  hosts: ['svc.ns.svc', '127.0.0.1'],
  caValidityMs: 90 * S,
  servingValidityMs: 30 * S,
  caRenewBeforeMs: 30 * S,
  servingRenewBeforeMs: 10 * S,
  graceMs: 3 * S,
};
const T0 = Date.parse('2026-11-22T04:00:00Z');

async function created(): Promise<TlsMaterial> {
  return (await applyStep('create', undefined, policy, T0))!;
}

describe('nextStep: the life of self-managed certificates', () => {
  test('nothing or garbage: create; a fresh set: nothing to do', async () => {
    expect(nextStep(undefined, policy, T0, false)).toBe('create');
    expect(nextStep({ ca: { cert: 'x', key: 'y' }, cert: 'x', key: 'y', bundle: 'x' }, policy, T0, true)).toBe(
      'create',
    );
    const m = await created();
    expect(nextStep(m, policy, T0 + 1 * S, true)).toBe('none');
    expect(new X509Certificate(m.cert).checkIssued(new X509Certificate(m.ca.cert))).toBe(true);
    expect(splitPem(m.bundle)).toHaveLength(1);
  });

  test('the serving certificate is renewed when a third of its life is left, with the same CA', async () => {
    const m = await created();
    expect(nextStep(m, policy, T0 + 21 * S, true)).toBe('renew-serving');
    const renewed = (await applyStep('renew-serving', m, policy, T0 + 21 * S))!;
    expect(renewed.cert).not.toBe(m.cert);
    expect(renewed.ca).toBe(m.ca);
    expect(nextStep(renewed, policy, T0 + 22 * S, true)).toBe('none');
  });

  test('a serving certificate that lacks a configured name is reissued', async () => {
    const m = await created();
    expect(nextStep(m, { ...policy, hosts: [...policy.hosts, 'new.ns.svc'] }, T0 + S, true)).toBe('renew-serving');
  });

  test('CA rotation: stage (bundle of two, old chain still served), switch only once injected and after the grace, then drop', async () => {
    let m = await created();
    const now = T0 + 61 * S;
    expect(nextStep(m, policy, now, true)).toBe('stage-ca');
    const staged = (await applyStep('stage-ca', m, policy, now))!;
    expect(splitPem(staged.bundle)).toHaveLength(2);
    expect(staged.cert).toBe(m.cert); // still the old chain
    expect(nextStep(staged, policy, now + 5 * S, false)).toBe('none'); // not injected yet
    expect(nextStep(staged, policy, now + 1 * S, true)).toBe('none'); // grace not over
    expect(nextStep(staged, policy, now + 4 * S, true)).toBe('switch-ca');
    m = (await applyStep('switch-ca', staged, policy, now + 4 * S))!;
    expect(m.ca).toBe(staged.next);
    expect(m.next).toBeUndefined();
    expect(new X509Certificate(m.cert).checkIssued(new X509Certificate(m.ca.cert))).toBe(true);
    expect(splitPem(m.bundle)).toHaveLength(2); // the old CA is still trusted during the grace
    expect(nextStep(m, policy, now + 5 * S, true)).toBe('none');
    expect(nextStep(m, policy, now + 8 * S, true)).toBe('drop-old-ca');
    const dropped = (await applyStep('drop-old-ca', m, policy, now + 8 * S))!;
    expect(splitPem(dropped.bundle)).toEqual([expect.stringContaining('BEGIN CERTIFICATE')]);
    expect(new X509Certificate(splitPem(dropped.bundle)[0]!).fingerprint256).toBe(
      new X509Certificate(m.ca.cert).fingerprint256,
    );
  });

  test('an expired CA is replaced outright', async () => {
    expect(nextStep(await created(), policy, T0 + 100 * S, true)).toBe('create');
  });
});

describe('the TLS Secret', () => {
  test('material written into a Secret reads back the same, staged CA and timestamps included', async () => {
    const m = (await applyStep('stage-ca', await created(), policy, T0 + 61 * S))!;
    const secret = secretWith(undefined, 'ns', 'tls', m, { 'app.kubernetes.io/managed-by': 'k8s-watch-policy' });
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret.data!).sort()).toEqual([
      'ca-bundle.crt',
      'ca.crt',
      'ca.key',
      'next-ca.crt',
      'next-ca.key',
      'tls.crt',
      'tls.key',
    ]);
    expect(materialOf(secret)).toEqual(m);
    expect(materialOf({ data: { 'tls.crt': 'eA==' } })).toBeUndefined();
  });
});

describe('rotationPolicy: the CLI flags turned into a policy', () => {
  test.each([
    // validities (CA, serving) -> renew before (CA, serving), grace
    [10 * 365 * 86_400_000, 90 * 86_400_000, Math.round((10 * 365 * 86_400_000) / 3), 30 * 86_400_000, 30_000],
    [3_600_000, 60_000, 1_200_000, 20_000, 6_000],
  ])('CA %d ms, serving %d ms', (ca, serving, caRenew, servingRenew, grace) => {
    expect(rotationPolicy(['svc.ns.svc'], ca, serving)).toEqual({
      hosts: ['svc.ns.svc'],
      caValidityMs: ca,
      servingValidityMs: serving,
      caRenewBeforeMs: caRenew,
      servingRenewBeforeMs: servingRenew,
      graceMs: grace,
    });
  });
});
