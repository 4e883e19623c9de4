/**
 * Decoding a request path into a metadata route: the packument (`/name`), one version or tag
 * (`/name/1.0.0`, `/name/latest`) and the dist-tags endpoint (`/-/package/name/dist-tags`).
 * Scoped names arrive as `@scope/name`, `@scope%2fname`, `@scope%2Fname` or `%40scope%2Fname`;
 * all decode to the same name; one trailing slash (`/ms/`) is the same route, as in Verdaccio.
 * Anything else is `undefined` and left to Verdaccio.
 */
import validateName from 'validate-npm-package-name';

export type MetadataPath =
  | { kind: 'packument'; name: string }
  | { kind: 'version'; name: string; spec: string }
  | { kind: 'dist-tags'; name: string };

const MAX_PATH = 1024;
const DIST_TAGS = /^\/-\/package\/(.+)\/dist-tags$/;

export function parseMetadataPath(rawUrl: string): MetadataPath | undefined {
  const query = rawUrl.indexOf('?');
  const path = query === -1 ? rawUrl : rawUrl.slice(0, query);
  // Verdaccio's routes (Express, non-strict) answer `/ms/` as `/ms`: one trailing slash is ours too
  const raw = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  if (raw.length > MAX_PATH || !raw.startsWith('/') || raw === '/') return undefined;
  const tags = DIST_TAGS.exec(raw);
  if (tags) {
    const name = decodeName(tags[1] ?? '');
    return name ? { kind: 'dist-tags', name } : undefined;
  }
  if (raw.startsWith('/-/')) return undefined;
  const parts = raw.slice(1).split('/');
  const first = safeDecode(parts[0] ?? '');
  if (first === undefined) return undefined;
  const scopedInTwo = first.startsWith('@') && !first.includes('/');
  const nameParts = scopedInTwo ? parts.slice(0, 2) : parts.slice(0, 1);
  const name = decodeName(nameParts.join('/'));
  if (!name) return undefined;
  const rest = parts.slice(nameParts.length);
  if (rest.length === 0) return { kind: 'packument', name };
  const spec = rest.length === 1 ? safeDecode(rest[0] ?? '') : undefined;
  if (!spec || spec === '-' || spec.startsWith('-') || /[\s/\\]/.test(spec)) return undefined;
  return { kind: 'version', name, spec };
}

/** `@scope%2fname`, `%40scope%2Fname` and `@scope/name` to `@scope/name`; undefined if invalid. */
function decodeName(encoded: string): string | undefined {
  const name = safeDecode(encoded);
  if (!name || name.includes('..')) return undefined;
  return validateName(name).validForOldPackages ? name : undefined;
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** The path Verdaccio's packument route expects for `name`. */
export function packumentPath(name: string): string {
  return `/${name.replace('/', '%2f')}`;
}
