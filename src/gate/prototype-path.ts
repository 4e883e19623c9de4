/**
 * Refusing version and tag lookups named like `Object.prototype` members. Verdaccio 6.8 answers
 * `GET /<name>/<version-or-tag>` by indexing plain objects, so `/express/constructor` finds an
 * inherited function and ends in a 500. Such a segment is never a version (not semver) and
 * would be a strange dist-tag, so vetted answers 404 before Verdaccio sees it.
 */

/** Whether `rawUrl` is `/<name>/<segment>` or `/@scope/<name>/<segment>` with such a segment. */
export function isPrototypeLookup(rawUrl: string): boolean {
  const query = rawUrl.indexOf('?');
  const raw = query === -1 ? rawUrl : rawUrl.slice(0, query);
  if (!raw.startsWith('/') || raw.startsWith('/-/')) return false;
  let parts: string[];
  try {
    parts = raw
      .slice(1)
      .split('/')
      .map((p) => decodeURIComponent(p));
  } catch {
    return false; // not ours to judge: Verdaccio answers bad encodings itself
  }
  const scoped = parts[0]?.startsWith('@') && !parts[0].includes('/');
  const segment = parts[scoped ? 2 : 1];
  return segment !== undefined && parts.length === (scoped ? 3 : 2) && segment in Object.prototype;
}
