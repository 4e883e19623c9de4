/**
 * Decoding a request path into the package name and version of a tarball. Every form clients
 * and Verdaccio use decodes to the same pair: `/name/-/name-1.0.0.tgz`,
 * `/@scope/name/-/name-1.0.0.tgz`, the `%2f`/`%2F`/`%40` encodings, and
 * `/@scope/name/-/@scope/name-1.0.0.tgz`. Any path whose package part is followed by a `-`
 * segment is claimed as a tarball route, so nothing that looks like one reaches Verdaccio's own
 * tarball route unchecked.
 */
import semver from 'semver';
import validateName from 'validate-npm-package-name';

export type TarballPath =
  | { kind: 'tarball'; name: string; version: string; filename: string }
  | { kind: 'invalid'; status: 400 | 404; message: string }
  | { kind: 'other' };

const MAX_PATH = 1024;

export function parseTarballPath(rawUrl: string): TarballPath {
  const query = rawUrl.indexOf('?');
  const raw = query === -1 ? rawUrl : rawUrl.slice(0, query);
  // fast path: metadata and API requests
  if (!raw.includes('/-/') && !/%2d/i.test(raw)) return { kind: 'other' };
  if (raw.length > MAX_PATH) return invalid(400, 'the request path is too long');

  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    return invalid(400, 'the request path is not valid percent-encoding');
  }
  if (path.startsWith('/-/') || !path.startsWith('/')) return { kind: 'other' };
  if (/[\u0000-\u001f\\]/.test(path)) return invalid(400, 'the request path has control characters');

  const parts = path.slice(1).split('/');
  const scoped = parts[0]?.startsWith('@') ?? false;
  const nameParts = parts.slice(0, scoped ? 2 : 1);
  const rest = parts.slice(nameParts.length);
  if (rest[0] !== '-') return { kind: 'other' };

  const name = nameParts.join('/');
  const nameCheck = validateName(name);
  if (!nameCheck.validForOldPackages || name.includes('..')) {
    return invalid(400, `"${printable(name)}" is not a valid package name`);
  }
  const base = scoped ? (nameParts[1] as string) : name;
  const file = rest.slice(1);
  // `/@scope/name/-/@scope/name-1.0.0.tgz`: the scope in the file part must be the package's
  const filename = file.length === 2 && scoped && file[0] === nameParts[0] ? file[1] : file.length === 1 ? file[0] : undefined;
  if (filename === undefined || !filename.endsWith('.tgz')) {
    return invalid(404, `no tarball at this path for ${name}; expected /${name}/-/${base}-<version>.tgz`);
  }
  if (!filename.startsWith(`${base}-`)) {
    return invalid(404, `tarball ${printable(filename)} does not belong to ${name}`);
  }
  const version = filename.slice(base.length + 1, -'.tgz'.length);
  if (!/^\d/.test(version) || semver.parse(version) === null) {
    return invalid(400, `"${printable(version)}" in ${printable(filename)} is not a valid version`);
  }
  return { kind: 'tarball', name, version, filename };
}

function invalid(status: 400 | 404, message: string): TarballPath {
  return { kind: 'invalid', status, message };
}

/** Keeps error messages short and free of control characters. */
function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 120)}…` : clean;
}
