/**
 * The SBOM of one image, CycloneDX 1.5 JSON: every Debian package of the base (purl pkg:deb), the
 * Node runtime (its npm package) and every npm package under /app/node_modules (purl pkg:npm).
 * Pure and deterministic: its serial number and timestamp come from the image, not the clock.
 */
import { createHash } from 'node:crypto';
import type { NpmPackage } from './app_tree.ts';

export interface SbomInput {
  name: string;
  version: string;
  architecture: string;
  /** The image manifest's digest (sha256:...). */
  digest: string;
  created: string;
  debianVersion: string;
  debian: readonly { name: string; version: string; architecture: string; source: string; sha256: string }[];
  node: { packageName: string; version: string; integrity: string };
  npm: readonly NpmPackage[];
}

export function npmPurl(name: string, version: string): string {
  const scoped = name.startsWith('@') ? `%40${name.slice(1)}` : name;
  return `pkg:npm/${scoped}@${encodeURIComponent(version)}`;
}

export function debPurl(p: { name: string; version: string; architecture: string }, debianVersion: string): string {
  return `pkg:deb/debian/${p.name}@${encodeURIComponent(p.version)}?arch=${p.architecture}&distro=debian-${debianVersion}`;
}

/** An SRI integrity (sha512-<base64>) as a CycloneDX hash. */
function integrityHash(integrity: string): { alg: string; content: string } | undefined {
  const m = /^sha(256|384|512)-(.+)$/.exec(integrity);
  if (!m) return undefined;
  return { alg: `SHA-${m[1]}`, content: Buffer.from(m[2]!, 'base64').toString('hex') };
}

function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function cycloneDx(input: SbomInput): Record<string, unknown> {
  const npmComponent = (p: NpmPackage) => {
    const hash = p.integrity ? integrityHash(p.integrity) : undefined;
    return {
      type: 'library',
      'bom-ref': npmPurl(p.name, p.version),
      name: p.name,
      version: p.version,
      purl: npmPurl(p.name, p.version),
      ...(p.license ? { licenses: [{ expression: p.license }] } : {}),
      ...(hash ? { hashes: [hash] } : {}),
      properties: [{ name: 'k8s-watch-policy:path', value: '/app/node_modules' }],
    };
  };
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${uuidFrom(input.digest)}`,
    version: 1,
    metadata: {
      timestamp: input.created,
      tools: { components: [{ type: 'application', name: 'k8s-watch-policy release', version: input.version }] },
      component: {
        type: 'container',
        'bom-ref': input.digest,
        name: input.name,
        version: input.version,
        hashes: [{ alg: 'SHA-256', content: input.digest.replace(/^sha256:/, '') }],
        properties: [{ name: 'k8s-watch-policy:architecture', value: input.architecture }],
      },
    },
    components: [
      ...input.debian.map((p) => ({
        type: 'library',
        'bom-ref': debPurl(p, input.debianVersion),
        name: p.name,
        version: p.version,
        purl: debPurl(p, input.debianVersion),
        hashes: [{ alg: 'SHA-256', content: p.sha256 }],
        properties: [{ name: 'k8s-watch-policy:debian-source', value: p.source }],
      })),
      {
        type: 'application',
        'bom-ref': npmPurl(input.node.packageName, input.node.version),
        name: 'node',
        version: input.node.version,
        purl: npmPurl(input.node.packageName, input.node.version),
        licenses: [{ license: { id: 'MIT' } }],
        ...(integrityHash(input.node.integrity) ? { hashes: [integrityHash(input.node.integrity)] } : {}),
        properties: [{ name: 'k8s-watch-policy:path', value: '/usr/local/bin/node' }],
      },
      ...input.npm.map(npmComponent),
    ],
  };
}
