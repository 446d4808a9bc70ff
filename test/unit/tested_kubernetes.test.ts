/**
 * The tested Kubernetes range (src/report/tested_kubernetes.ts): which server versions `check`
 * and `status` accept without a warning, managed clusters' version suffixes included.
 */
import { describe, expect, test } from '@jest/globals';
import { versionWarnings } from '../../src/report/status_report.ts';
import { TESTED_KUBERNETES, untestedVersion } from '../../src/report/tested_kubernetes.ts';

describe('untestedVersion', () => {
  test('the range is 1.30 to 1.37, as the chart and e2e:matrix say', () =>
    expect(TESTED_KUBERNETES).toEqual({ min: '1.30', max: '1.37' }));
  test.each(['v1.30.0', 'v1.30.14', 'v1.33.13', 'v1.37.2', 'v1.30.4-eks-a737599', 'v1.34.2-gke.1234000', '1.36.3'])(
    '%s is tested',
    (v) => expect(untestedVersion(v)).toBeUndefined(),
  );
  test.each([
    ['v1.29.15', /outside the versions this release is tested on \(1\.30 to 1\.37\)/],
    ['v1.38.0', /outside/],
    ['v2.0.0', /outside/],
    ['garbage', /cannot read the Kubernetes version "garbage"/],
  ])('%s is not', (v, why) => expect(untestedVersion(v)).toMatch(why));
});

test('status warns with kind kubernetes-version outside the range, and says nothing when the server did not say', () => {
  expect(versionWarnings('v1.29.15')).toEqual([
    {
      kind: 'kubernetes-version',
      message: 'Kubernetes v1.29.15 is outside the versions this release is tested on (1.30 to 1.37)',
    },
  ]);
  expect(versionWarnings('v1.31.4')).toEqual([]);
  expect(versionWarnings(undefined)).toEqual([]);
});
