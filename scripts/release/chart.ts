/**
 * The chart of a release: a copy of charts/k8s-watch-policy with `version`/`appVersion` set, the
 * image pinned by digest, Artifact Hub's annotations (the image with its platforms, links,
 * license, the signing key, the changes), checked by `helm lint --strict` and packaged by
 * `helm package`. Comments of Chart.yaml and values.yaml are kept (yaml's document API).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';

export interface ChartRelease {
  version: string;
  imageRepository: string;
  imageDigest: string;
  platforms: readonly string[];
  source: string;
  /** The public key that signs the release (cosign.pub), when signed with a key. */
  signKey?: { url: string; fingerprint: string };
  changes: readonly string[];
}

export function helmBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.HELM ?? 'helm';
}

function helm(args: string[], cwd: string): string {
  const r = spawnSync(helmBinary(), args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`helm (${helmBinary()}): ${r.error.message}; set HELM to a helm 3 binary`);
  if (r.status !== 0)
    throw new Error(`helm ${args.join(' ')} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`.trim());
  return r.stdout;
}

/** The annotations Artifact Hub reads (artifacthub.io/*), as YAML strings. */
export function artifactHubAnnotations(r: ChartRelease): Record<string, string> {
  const list = (items: readonly Record<string, unknown>[]) =>
    items
      .map(
        (item) =>
          `- ${Object.entries(item)
            .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
            .join('\n  ')}`,
      )
      .join('\n') + '\n';
  return {
    'artifacthub.io/images': list([
      { name: 'k8s-watch-policy', image: `${r.imageRepository}:${r.version}@${r.imageDigest}`, platforms: r.platforms },
    ]),
    'artifacthub.io/links': list([
      { name: 'source', url: r.source },
      { name: 'documentation', url: `${r.source}#readme` },
    ]),
    'artifacthub.io/license': 'Apache-2.0',
    ...(r.signKey
      ? { 'artifacthub.io/signKey': `fingerprint: ${r.signKey.fingerprint}\nurl: ${r.signKey.url}\n` }
      : {}),
    'artifacthub.io/changes': list(r.changes.map((description) => ({ kind: 'changed', description }))),
    'artifacthub.io/containsSecurityUpdates': 'false',
    'artifacthub.io/prerelease': String(r.version.includes('-')),
  };
}

/** Writes the release's chart into workDir and packages it; returns the .tgz path and Chart.yaml as data. */
export function packageChart(
  repoRoot: string,
  r: ChartRelease,
  workDir: string,
): { tgz: string; metadata: Record<string, unknown> } {
  const dir = join(workDir, 'k8s-watch-policy');
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  cpSync(join(repoRoot, 'charts', 'k8s-watch-policy'), dir, { recursive: true });

  const chartFile = join(dir, 'Chart.yaml');
  const chart = parseDocument(readFileSync(chartFile, 'utf8'));
  chart.set('version', r.version);
  chart.set('appVersion', r.version);
  const annotations = { ...((chart.toJSON() as { annotations?: Record<string, string> }).annotations ?? {}) };
  Object.assign(annotations, artifactHubAnnotations(r));
  chart.set('annotations', annotations);
  writeFileSync(chartFile, chart.toString({ lineWidth: 0 }));

  const valuesFile = join(dir, 'values.yaml');
  const values = parseDocument(readFileSync(valuesFile, 'utf8'));
  values.setIn(['image', 'repository'], r.imageRepository);
  values.setIn(['image', 'tag'], r.version);
  values.setIn(['image', 'digest'], r.imageDigest);
  writeFileSync(valuesFile, values.toString({ lineWidth: 0 }));

  helm(['lint', '--strict', dir], workDir);
  const out = helm(['package', dir, '--destination', workDir], workDir);
  const tgz = /saved it to: (.+\.tgz)/.exec(out)?.[1]?.trim();
  if (tgz === undefined) throw new Error(`helm package said: ${out}`);
  return { tgz, metadata: chart.toJSON() as Record<string, unknown> };
}
