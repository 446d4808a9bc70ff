/**
 * The chart tests' access to helm: the binary the local control plane builds (test/cluster), or
 * $HELM. `helm template` renders without a cluster; its output is parsed into objects.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { binDir } from '../cluster/paths.ts';
import { defaultMinor, moduleVersions } from '../cluster/paths.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CHART = join(ROOT, 'charts', 'k8s-watch-policy');
export const RELEASE = 'kwp';
export const NAMESPACE = 'deepflow-system';
/** The full name of release `kwp` (the release name does not contain the chart name). */
export const FULLNAME = 'kwp-k8s-watch-policy';

export function helmBinary(): string {
  if (process.env.HELM) return process.env.HELM;
  const built = join(binDir(), 'helm');
  if (!existsSync(built)) throw new Error(`no helm at ${built}: run \`npm run cluster -- build\` (or set HELM)`);
  return built;
}

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[], input?: string): Run {
  const r = spawnSync(helmBinary(), args, { encoding: 'utf8', timeout: 60_000, ...(input !== undefined && { input }) });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

export interface TemplateOptions {
  values?: unknown;
  valuesFiles?: string[];
  release?: string;
  namespace?: string;
  apiVersions?: string[];
  /** The cluster version `helm template` assumes (--kube-version; default: the harness's newest). */
  kubeVersion?: string;
  /** Render the `helm test` hooks too (default: only what `helm install` applies). */
  tests?: boolean;
}

/** `helm template` arguments; `values` go in on standard input (`--values -`, JSON is YAML), after the files. */
function templateArgs(o: TemplateOptions): string[] {
  const args = ['template', o.release ?? RELEASE, CHART, '--namespace', o.namespace ?? NAMESPACE];
  for (const f of o.valuesFiles ?? []) args.push('--values', f);
  if (o.values !== undefined) args.push('--values', '-');
  for (const v of o.apiVersions ?? []) args.push('--api-versions', v);
  if (!o.tests) args.push('--skip-tests');
  // helm template assumes Kubernetes v1.20 unless told, which the chart's kubeVersion refuses.
  args.push('--kube-version', o.kubeVersion ?? moduleVersions(defaultMinor()).kubernetes);
  return args;
}

const stdin = (o: TemplateOptions) => (o.values === undefined ? undefined : JSON.stringify(o.values));

/** `helm template`, which must succeed; returns the objects, in order. */
export function template(o: TemplateOptions = {}): any[] {
  const r = helm(templateArgs(o), stdin(o));
  if (r.status !== 0) throw new Error(`helm template failed (${r.status}): ${r.stderr.trim()}`);
  return parseManifests(r.stdout);
}

/** `helm template`, which must fail; returns its error output. */
export function templateError(o: TemplateOptions): string {
  const r = helm(templateArgs(o), stdin(o));
  if (r.status === 0) throw new Error(`helm template succeeded, expected a failure for ${JSON.stringify(o.values)}`);
  return r.stderr;
}

export function parseManifests(text: string): any[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`rendered YAML does not parse: ${d.errors[0]!.message}`);
      return d.toJS();
    })
    .filter((o) => o !== null && o !== undefined);
}

export function find(objects: any[], kind: string, name: string, namespace?: string): any {
  const found = objects.find(
    (o) =>
      o.kind === kind && o.metadata?.name === name && (namespace === undefined || o.metadata?.namespace === namespace),
  );
  if (!found)
    throw new Error(
      `no ${kind} ${namespace ? `${namespace}/` : ''}${name} among ${objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`,
    );
  return found;
}

export function ofKind(objects: any[], kind: string): any[] {
  return objects.filter((o) => o.kind === kind);
}

/** Whether a matchLabels selector selects these labels. */
export function selects(matchLabels: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(matchLabels).every(([k, v]) => labels?.[k] === v);
}
