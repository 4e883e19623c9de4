/**
 * Dropping the versions of an upstream packument that Verdaccio 6.8 cannot store. Its local
 * storage merges uplink versions in a file-system callback and reads `dist.tarball` with
 * `url.parse`; a version that is not an object, or whose `dist` or `dist.tarball` has the wrong
 * type, throws there, outside any handler, and takes the whole process down. Such a version
 * could never be installed anyway, so leaving it out of the stored metadata loses nothing.
 */

/** Why a version entry is unusable, or undefined when Verdaccio can store it. */
export function malformedVersion(entry: unknown): string | undefined {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return 'not an object';
  const dist = (entry as { dist?: unknown }).dist;
  if (dist === undefined || dist === null) return undefined;
  if (typeof dist !== 'object' || Array.isArray(dist)) return 'dist is not an object';
  const { tarball, shasum, integrity } = dist as Record<string, unknown>;
  if (tarball !== undefined && typeof tarball !== 'string') return 'dist.tarball is not a string';
  if (shasum !== undefined && typeof shasum !== 'string') return 'dist.shasum is not a string';
  if (integrity !== undefined && typeof integrity !== 'string')
    return 'dist.integrity is not a string';
  return undefined;
}

/**
 * Removes, in place, the versions `malformedVersion` refuses.
 * @returns the removed version keys with the reason, for the log.
 * @example
 *   const dropped = dropMalformedVersions(packument); // [['1.0.0', 'dist.tarball is not a string']]
 */
export function dropMalformedVersions(packument: unknown): Array<[string, string]> {
  const versions = (packument as { versions?: unknown } | null)?.versions;
  if (typeof versions !== 'object' || versions === null) return [];
  const dropped: Array<[string, string]> = [];
  for (const key of Object.keys(versions)) {
    const why = malformedVersion((versions as Record<string, unknown>)[key]);
    if (why === undefined) continue;
    delete (versions as Record<string, unknown>)[key];
    dropped.push([key, why]);
  }
  return dropped;
}
