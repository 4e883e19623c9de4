/**
 * Reading a package's JavaScript from its tarball, in memory. A first pass (the shared reader)
 * lists the entries and reads package.json; the files to analyse are then chosen (every `.js`,
 * `.cjs`, `.mjs`, plus entry points and install-script files whatever their name), the limits
 * applied in priority order, and a second pass reads just those bodies. Nothing is written to
 * disk; what the limits leave out is listed, not silently dropped.
 */
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import { normalise, readTarball } from '../tarball-contents';
import { feedTarball } from '../../tar-feed';
import type { ResolvedOptions } from './options';
import { isTestPath, toEntryFiles } from './roles';
import type { EntryFiles } from './roles';

export interface SourceFile {
  path: string;
  text: string;
}

export interface SkippedFile {
  path: string;
  size: number;
  reason: 'too large' | 'total size limit' | 'file count limit';
}

export interface PackageSources {
  packageJson?: Record<string, unknown>;
  /** Every regular file in the package, by path. */
  paths: ReadonlySet<string>;
  entries: EntryFiles;
  files: SourceFile[];
  skipped: SkippedFile[];
}

const SCRIPT_EXT = /\.(c|m)?js$/i;

/**
 * @throws Error when the tarball is not a readable gzip'd tar; the caller decides what it means.
 * @example const { files, skipped } = await readSources(tarball, toResolvedOptions());
 */
export async function readSources(
  tarball: Buffer,
  options: ResolvedOptions,
): Promise<PackageSources> {
  const listing = await readTarball(tarball);
  const packageJson = parseObject(listing.packageJson);
  const sizes = new Map<string, number>();
  for (const entry of listing.entries) {
    if (entry.type === 'File' || entry.type === 'OldFile') {
      sizes.set(normalise(entry.path), entry.size);
    }
  }
  const paths = new Set(sizes.keys());
  const entries = toEntryFiles(packageJson, paths);
  const referenced = new Set([...entries.install, ...entries.load]);

  // entry points first, then library code, then tests and docs: the limits cut the least useful
  const wanted = [...paths]
    .filter((p) => SCRIPT_EXT.test(p) || referenced.has(p))
    .sort((a, b) => rank(a, referenced) - rank(b, referenced) || a.localeCompare(b));
  const chosen = new Set<string>();
  const skipped: SkippedFile[] = [];
  let total = 0;
  for (const path of wanted) {
    const size = sizes.get(path) ?? 0;
    const reason =
      size > options.maxFileBytes
        ? 'too large'
        : chosen.size >= options.maxFiles
          ? 'file count limit'
          : total + size > options.maxTotalBytes
            ? 'total size limit'
            : undefined;
    if (reason) {
      skipped.push({ path, size, reason });
    } else {
      chosen.add(path);
      total += size;
    }
  }
  const bodies = await readBodies(tarball, chosen);
  const files = [...chosen]
    .filter((p) => bodies.has(p))
    .map((path) => ({
      path,
      text: bodies
        .get(path)!
        .toString('utf8')
        .replace(/^\uFEFF/, ''),
    }));
  return { packageJson, paths, entries, files, skipped };
}

function rank(path: string, referenced: ReadonlySet<string>): number {
  if (referenced.has(path)) return 0;
  return isTestPath(path) ? 2 : 1;
}

async function readBodies(
  tarball: Buffer,
  wanted: ReadonlySet<string>,
): Promise<Map<string, Buffer>> {
  const bodies = new Map<string, Buffer>();
  const parser = new Parser({ strict: false });
  parser.on('entry', (entry: ReadEntry) => {
    const path = normalise(entry.path);
    if ((entry.type !== 'File' && entry.type !== 'OldFile') || !wanted.has(path)) {
      entry.resume();
      return;
    }
    const chunks: Buffer[] = [];
    entry.on('data', (chunk: Buffer) => chunks.push(chunk));
    entry.on('end', () => bodies.set(path, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('close', resolve);
    parser.on('abort', reject);
    parser.on('error', reject);
    // in slices, so a gzip bomb is inflated a piece at a time; read to the end all the same,
    // because npm unpacks the last of two entries with one path
    feedTarball(parser, tarball, () => false).catch(reject);
  });
  return bodies;
}

function parseObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
