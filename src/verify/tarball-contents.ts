/**
 * Reads a tarball's entries without writing anything to disk: names, types, sizes, link targets,
 * the first bytes of every file and the text of `package/package.json`. Hostile archives are
 * expected: the walk stops at entry and size limits, and unsafe entries are reported, not
 * followed.
 */
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import { posix } from 'node:path';
import { feedTarball } from '../tar-feed';

export interface TarEntry {
  path: string;
  type: string;
  size: number;
  mode?: number;
  linkpath?: string;
  /** First bytes of a regular file (magic numbers). */
  head?: Buffer;
}

export interface TarballContents {
  entries: TarEntry[];
  packageJson?: string;
  /** Why the archive cannot be trusted to unpack safely; empty when it can. */
  unsafe: Array<{ path: string; problem: string }>;
  truncated: boolean;
  unpackedSize: number;
}

export interface ReadLimits {
  maxEntries: number;
  maxUnpackedBytes: number;
  maxPackageJsonBytes: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = {
  maxEntries: 50_000,
  maxUnpackedBytes: 1024 * 1024 * 1024,
  maxPackageJsonBytes: 1024 * 1024,
};

const HEAD_BYTES = 8;

export async function readTarball(
  data: Buffer,
  limits: ReadLimits = DEFAULT_READ_LIMITS,
): Promise<TarballContents> {
  const out: TarballContents = { entries: [], unsafe: [], truncated: false, unpackedSize: 0 };
  const parser = new Parser({ strict: true });
  let stop = false;

  parser.on('entry', (entry: ReadEntry) => {
    if (stop) return entry.resume();
    if (
      out.entries.length >= limits.maxEntries ||
      out.unpackedSize + entry.size > limits.maxUnpackedBytes
    ) {
      out.truncated = true;
      stop = true;
      parser.abort(new Error('limit reached'));
      return entry.resume();
    }
    out.unpackedSize += entry.size;
    const item: TarEntry = { path: entry.path, type: entry.type, size: entry.size };
    if (entry.mode !== undefined) item.mode = entry.mode;
    if (entry.linkpath) item.linkpath = entry.linkpath;
    out.entries.push(item);
    const problem = unsafeEntry(item);
    if (problem) out.unsafe.push({ path: entry.path, problem });

    const isPackageJson = entry.type === 'File' && normalise(entry.path) === 'package.json';
    const chunks: Buffer[] = [];
    let taken = 0;
    entry.on('data', (chunk: Buffer) => {
      const want = isPackageJson ? limits.maxPackageJsonBytes : HEAD_BYTES;
      if (taken < want) {
        const part = chunk.subarray(0, want - taken);
        chunks.push(part);
        taken += part.length;
      }
    });
    entry.on('end', () => {
      const body = Buffer.concat(chunks);
      if (entry.type === 'File') item.head = body.subarray(0, HEAD_BYTES);
      if (isPackageJson) out.packageJson = body.toString('utf8');
    });
  });

  await new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('close', resolve);
    parser.on('abort', (err: Error) => (stop ? resolve() : reject(err)));
    parser.on('error', (err: Error) => (stop ? resolve() : reject(err)));
    void feedTarball(parser, data, () => stop);
  });
  return out;
}

/** The path inside the package: npm strips the first folder (`package/`), whatever its name. */
export function normalise(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  return parts.slice(1).join('/');
}

function unsafeEntry(entry: TarEntry): string | undefined {
  const { path, type, linkpath } = entry;
  if (path.startsWith('/') || /^[a-zA-Z]:/.test(path)) return 'absolute path';
  if (path.split(/[\\/]/).includes('..')) return 'path escapes the package directory';
  if (type === 'CharacterDevice' || type === 'BlockDevice' || type === 'FIFO') {
    return `device or special file (${type})`;
  }
  if ((type === 'SymbolicLink' || type === 'Link') && linkpath !== undefined) {
    if (linkpath.startsWith('/')) return `link to an absolute path (${linkpath})`;
    const base = type === 'Link' ? '.' : posix.dirname(path);
    const target = posix.normalize(posix.join(base, linkpath));
    if (target.startsWith('..')) return `link points outside the package (${linkpath})`;
  }
  return undefined;
}
