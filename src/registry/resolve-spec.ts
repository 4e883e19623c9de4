/**
 * Turning what a user types (`express`, `express@4`, `@scope/name@latest`, `x@1.2.3`) into
 * exact name@version pairs, with npm-package-arg for the grammar and npm-pick-manifest for the
 * choice, so `vetted verify express@^4` means what `npm install express@^4` would install.
 */
import npa from 'npm-package-arg';
import pickManifest from 'npm-pick-manifest';
import type { Upstream } from './upstream';
import { VettedError, errorCode, errorMessage } from '../errors';

export interface ParsedSpec {
  name: string;
  /** Exact version when the spec gives one. */
  version?: string;
  /** The range or tag otherwise. */
  wanted: string;
}

/** @throws VettedError SPEC_INVALID when the text is not a registry package spec. */
export function parseSpec(text: string): ParsedSpec {
  let parsed;
  try {
    parsed = npa(text);
  } catch (err) {
    throw new VettedError('SPEC_INVALID', `"${text}" is not a package spec: ${errorMessage(err)}`);
  }
  if (!parsed.registry || !parsed.name) {
    throw new VettedError(
      'SPEC_INVALID',
      `"${text}" is not a registry package (name, name@version or name@range)`,
    );
  }
  const wanted = parsed.rawSpec === '' || parsed.rawSpec === '*' ? 'latest' : parsed.rawSpec;
  return parsed.type === 'version'
    ? { name: parsed.name, version: parsed.fetchSpec ?? wanted, wanted }
    : { name: parsed.name, wanted };
}

/** Resolves a spec to one exact version against the upstream's packument. */
export async function resolveSpec(
  upstream: Upstream,
  spec: ParsedSpec,
): Promise<{ name: string; version: string }> {
  if (spec.version) return { name: spec.name, version: spec.version };
  let packument;
  try {
    packument = await upstream.packument(spec.name);
  } catch (err) {
    if (errorCode(err) === 'E404')
      throw new VettedError('NOT_FOUND', `${spec.name} does not exist on ${upstream.registry}`);
    throw new VettedError(
      'UPSTREAM_UNAVAILABLE',
      `cannot read ${spec.name}: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  try {
    const picked = pickManifest(packument, spec.wanted);
    return { name: spec.name, version: picked.version };
  } catch (err) {
    throw new VettedError('NOT_FOUND', `no version of ${spec.name} matches ${spec.wanted}`, {
      cause: err,
    });
  }
}
