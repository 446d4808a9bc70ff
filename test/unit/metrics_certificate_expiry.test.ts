/** The certificate expiry gauge's values: what the served pair says, nothing while it is unknown. */
import { expect, test } from '@jest/globals';
import { certificateExpiries } from '../../src/webhook/metrics.ts';

const pair = { key: '', cert: '', digest: '' };

test.each([
  ['no pair yet', undefined, []],
  ['the throwaway pair (no expiry known)', { ...pair, notAfter: '' }, []],
  [
    'a pair from files without ca.crt',
    { ...pair, notAfter: 'Dec  6 12:00:00 2027 GMT' },
    [{ certificate: 'serving', seconds: Date.UTC(2027, 11, 6, 12) / 1000 }],
  ],
  [
    'a pair with its CA',
    { ...pair, notAfter: 'Dec  6 12:00:00 2027 GMT', caNotAfter: 'Dec  4 00:00:00 2036 GMT' },
    [
      { certificate: 'serving', seconds: Date.UTC(2027, 11, 6, 12) / 1000 },
      { certificate: 'ca', seconds: Date.UTC(2036, 11, 4) / 1000 },
    ],
  ],
])('%s', (_name, given, expected) => expect(certificateExpiries(given)).toEqual(expected));
