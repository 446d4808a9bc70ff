/**
 * The Kubernetes minors this release is tested on (`npm run e2e:matrix` runs every one; the chart
 * says the same in its kubeVersion), and whether a server's version is among them: `check` and
 * `status` both warn when it is not.
 */
export const TESTED_KUBERNETES = { min: '1.30', max: '1.37' };

export interface TestedRange {
  min: string;
  max: string;
}

const minorOf = (v: string): number[] => (/^v?(\d+)\.(\d+)/.exec(v) ?? []).slice(1, 3).map(Number);
const compare = (a: number[], b: number[]) => (a[0] === b[0] ? a[1]! - b[1]! : a[0]! - b[0]!);

export const rangeText = ({ min, max }: TestedRange) => (min === max ? min : `${min} to ${max}`);

/** Why `gitVersion` (v1.36.3, v1.30.4-eks-a737599) is not a tested minor; undefined when it is. */
export function untestedVersion(gitVersion: string, tested: TestedRange = TESTED_KUBERNETES): string | undefined {
  const v = minorOf(gitVersion);
  if (v.length < 2) return `cannot read the Kubernetes version ${JSON.stringify(gitVersion)}`;
  if (compare(v, minorOf(tested.min)) < 0 || compare(v, minorOf(tested.max)) > 0)
    return `Kubernetes ${gitVersion} is outside the versions this release is tested on (${rangeText(tested)})`;
  return undefined;
}
