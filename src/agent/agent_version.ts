/**
 * The agent version an image tag names, and whether that agent predates `K8S_WATCH_POLICY`.
 *
 * `K8S_WATCH_POLICY` first shipped in deepflow-agent v6.6.6; agents v6.6.0-v6.6.5 (and older)
 * know only `ONLY_WATCH_K8S_RESOURCE`, while v6.6.6 and later exit when they find it. Only a tag
 * that names an older version for certain counts: `v6.5`, `v6.6.4`, `6.6.5-rc1`; `v6.6` (a
 * moving tag), `latest`, a digest alone or anything else proves nothing.
 */
export const POLICY_ENV_SINCE = 'v6.6.6';

const SINCE: readonly number[] = [6, 6, 6];

/** The numeric version of a tag such as `v6.6.4`, `6.6`, `v7.1.8-amd64`; undefined when the tag names none. */
export function tagVersion(image: string): number[] | undefined {
  let ref = image.trim();
  const at = ref.indexOf('@');
  if (at >= 0) ref = ref.slice(0, at);
  const colon = ref.lastIndexOf(':');
  if (colon < 0 || colon < ref.lastIndexOf('/')) return undefined;
  const match = /^v?(\d{1,4})\.(\d{1,4})(?:\.(\d{1,6}))?(?:[-+._].*)?$/.exec(ref.slice(colon + 1));
  if (!match) return undefined;
  return match
    .slice(1)
    .filter((part): part is string => part !== undefined)
    .map(Number);
}

/** True when the image's tag names an agent version older than v6.6.6 for certain. */
export function predatesPolicyEnv(image: string): boolean {
  const version = tagVersion(image);
  if (!version) return false;
  for (let i = 0; i < SINCE.length; i++) {
    const part = version[i];
    // `v6.6` may be any v6.6.x: not certainly older.
    if (part === undefined) return false;
    if (part !== SINCE[i]) return part < SINCE[i]!;
  }
  return false;
}
