/**
 * Decoding a request path into the package name and version of a tarball. Every form clients
 * and Verdaccio use decodes to the same pair: `/name/-/name-1.0.0.tgz`,
 * `/@scope/name/-/name-1.0.0.tgz`, the `%2f`/`%2F`/`%40` encodings, and
 * `/@scope/name/-/@scope/name-1.0.0.tgz`. Any path whose package part is followed by a `-`
 * segment is claimed as a tarball route, so nothing that looks like one reaches Verdaccio's own
 * tarball route unchecked.
 */
import semver from 'semver';
import { isPackageName } from '../registry/package-id';

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

  if (raw.startsWith('/-/') || !raw.startsWith('/')) return { kind: 'other' };

  // split as Express does (on literal slashes), then decode each segment
  let parts: string[];
  try {
    parts = raw
      .slice(1)
      .split('/')
      .map((segment) => decodeURIComponent(segment));
  } catch {
    return invalid(400, 'the request path is not valid percent-encoding');
  }
  if (parts.some((p) => /[\u0000-\u001f\\]/.test(p))) {
    return invalid(400, 'the request path has control characters');
  }
  // `@scope/name` arrives as two segments, or as one when the slash is encoded
  const first = parts[0] ?? '';
  const nameParts =
    first.startsWith('@') && !first.includes('/') ? parts.slice(0, 2) : parts.slice(0, 1);
  const rest = parts.slice(nameParts.length);
  if (rest[0] !== '-') return { kind: 'other' };
  const scoped = nameParts.join('/').startsWith('@');
  const name = nameParts.join('/');
  if (!isPackageName(name)) {
    return invalid(400, `"${printable(name)}" is not a valid package name`);
  }
  const base = scoped ? name.slice(name.indexOf('/') + 1) : name;
  const scope = scoped ? name.slice(0, name.indexOf('/')) : undefined;
  const file = rest.slice(1);
  // `/@scope/name/-/@scope/name-1.0.0.tgz`: the scope in the file part must be the package's
  const filename =
    file.length === 2 && scope !== undefined && file[0] === scope
      ? file[1]
      : file.length === 1
        ? file[0]
        : undefined;
  if (filename === undefined || !filename.endsWith('.tgz')) {
    return invalid(
      404,
      `no tarball at this path for ${printable(name)}; expected /${printable(name)}/-/${printable(base)}-<version>.tgz`,
    );
  }
  if (!filename.startsWith(`${base}-`)) {
    return invalid(404, `tarball ${printable(filename)} does not belong to ${printable(name)}`);
  }
  const version = filename.slice(base.length + 1, -'.tgz'.length);
  // npm normalises versions on publish: build metadata and padding never reach a tarball name
  if (semver.valid(version) !== version) {
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
