/**
 * The abbreviated ("corgi", `application/vnd.npm.install-v1+json`) form of a packument, made
 * from the steered full document so both forms list the same versions. Keeps every field the
 * registry's abbreviated contract names (npm/registry docs/responses/package-metadata.md) plus
 * `time` for pnpm; `dist` passes through untouched (integrity, signatures, attestations).
 */
import type { Packument } from './steer';

export const ABBREVIATED_TYPE = 'application/vnd.npm.install-v1+json';

const VERSION_FIELDS = [
  'name',
  'version',
  'deprecated',
  'dependencies',
  'optionalDependencies',
  'devDependencies',
  'bundleDependencies',
  'bundledDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'acceptDependencies',
  'bin',
  'directories',
  'dist',
  'engines',
  '_hasShrinkwrap',
  'funding',
  'cpu',
  'os',
  'libc',
] as const;

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];

export function abbreviate(doc: Packument): Record<string, unknown> {
  const versions: Record<string, Record<string, unknown>> = {};
  for (const [version, manifest] of Object.entries(doc.versions ?? {})) {
    versions[version] = abbreviateVersion(manifest);
  }
  const out: Record<string, unknown> = {
    name: doc.name,
    modified: doc.time?.modified,
    'dist-tags': doc['dist-tags'] ?? {},
    versions,
  };
  if (doc.time) out.time = doc.time;
  const restrictions = doc.policyRestrictions as
    { message: string; versions: Record<string, Record<string, unknown>> } | undefined;
  if (restrictions) {
    const restricted: Record<string, Record<string, unknown>> = {};
    for (const [v, m] of Object.entries(restrictions.versions))
      restricted[v] = abbreviateVersion(m);
    out.policyRestrictions = { message: restrictions.message, versions: restricted };
  }
  return out;
}

function abbreviateVersion(manifest: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of VERSION_FIELDS) {
    if (manifest[field] !== undefined) out[field] = manifest[field];
  }
  const scripts = (manifest.scripts ?? {}) as Record<string, unknown>;
  // npm's registry also counts `binding.gyp` (gypfile), which runs `node-gyp rebuild` on install
  out.hasInstallScript =
    manifest.hasInstallScript === true ||
    manifest.gypfile === true ||
    INSTALL_SCRIPTS.some((s) => typeof scripts[s] === 'string');
  return out;
}
