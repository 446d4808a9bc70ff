/**
 * Whether a webhook configuration's caBundle trusts the served certificate (src/certs/bundle_trust.ts):
 * what the webhook's readiness and `check` both decide on.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { bundleTrusts, untrustingWebhooks } from '../../src/certs/bundle_trust.ts';
import { generateCa, issueServingCertificate, type CertificateAuthority } from '../../src/certs/generate.ts';

const DAY = 86_400_000;
const b64 = (pem: string) => Buffer.from(pem).toString('base64');
let ca: CertificateAuthority;
let other: CertificateAuthority;
let served: string;

beforeAll(async () => {
  [ca, other] = await Promise.all([generateCa(DAY), generateCa(DAY)]);
  served = (await issueServingCertificate(ca, ['svc.ns.svc'], DAY)).cert;
});

describe('bundleTrusts', () => {
  test('the issuing CA trusts it', () => expect(bundleTrusts(b64(ca.cert), served)).toBe(true));
  test('a bundle of two CAs (a rotation) trusts it through either position', () => {
    expect(bundleTrusts(b64(other.cert + ca.cert), served)).toBe(true);
    expect(bundleTrusts(b64(ca.cert + other.cert), served)).toBe(true);
  });
  test('another CA does not', () => expect(bundleTrusts(b64(other.cert), served)).toBe(false));
  test('an empty or missing caBundle trusts nothing', () => {
    expect(bundleTrusts('', served)).toBe(false);
    expect(bundleTrusts(undefined, served)).toBe(false);
  });
  test('garbage, or a broken block beside a good one, never throws', () => {
    expect(bundleTrusts(b64('garbage'), served)).toBe(false);
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    expect(bundleTrusts(b64(broken + ca.cert), served)).toBe(true);
    expect(bundleTrusts(b64(ca.cert), 'not a certificate')).toBe(false);
  });
  test('the serving certificate itself is not a CA that trusts itself', () =>
    expect(bundleTrusts(b64(served), served)).toBe(false));
});

describe('untrustingWebhooks', () => {
  test('names each webhook whose caBundle does not trust, and none when all do', () => {
    const configs = [
      {
        name: 'm',
        webhooks: [
          { name: 'a.x', caBundle: b64(ca.cert) },
          { name: 'b.x', caBundle: '' },
        ],
      },
      { name: 'v', webhooks: [{ name: 'c.x', caBundle: b64(other.cert) }] },
    ];
    expect(untrustingWebhooks(configs, served)).toEqual(['m: b.x', 'v: c.x']);
    expect(untrustingWebhooks([{ name: 'm', webhooks: [{ name: 'a.x', caBundle: b64(ca.cert) }] }], served)).toEqual(
      [],
    );
  });
  test('no configuration at all is not "all trust"', () =>
    expect(untrustingWebhooks([], served)).toEqual(['(no webhook configuration selected)']));
});
