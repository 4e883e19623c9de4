/**
 * Comparing the published tarball with the rebuilt one: the whole-tarball hash first, then
 * file by file after normalising what packing varies (entry order, mtimes, modes, owners,
 * gzip, the name of the top folder). Each differing, extra or missing file gets its two hashes,
 * a classification and, for small text files, a unified diff excerpt. package.json is compared
 * without the fields publishing adds. Pure apart from reading the archives in memory; depends
 * on tar and ./text-diff.
 */
import { createHash } from 'node:crypto';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import { normalise } from '../tarball-contents';
import { canonicalJson } from '../../index/canonical';
import { unifiedExcerpt } from './text-diff';
import { feedTarball } from '../../tar-feed';

/** What a file is, which decides how much a difference in it matters. */
export type FileClass =
  | 'metadata' // package.json, only fields publishing adds differ
  | 'manifest' // package.json, other fields differ (scripts, dependencies, entry points)
  | 'code' // executable source that is in the repository
  | 'build-output' // executable file the build produced (not in the repository)
  | 'binary' // native code, wasm, any file with NUL bytes
  | 'other'; // documentation, type declarations, source maps, data

export interface FileDifference {
  path: string;
  kind: 'differs' | 'extra' | 'missing';
  class: FileClass;
  /** sha256 hex of the file in the published tarball (absent for `missing`). */
  published?: string;
  /** sha256 hex of the file in the rebuilt tarball (absent for `extra`). */
  rebuilt?: string;
  /** A unified diff excerpt, for small text files. */
  diff?: string;
  /** package.json: the top-level fields that differ. */
  fields?: string[];
}

export interface Comparison {
  /** The two tarballs are byte for byte the same. */
  identical: boolean;
  /** Files with the same content in both. */
  same: number;
  differences: FileDifference[];
  /** package.json fields that only publishing adds and that differ (never a finding). */
  metadataFields: string[];
}

/** Fields npm (or an older npm) writes into a published package.json that no source has. */
export const PUBLISH_FIELDS: ReadonlySet<string> = new Set([
  'gitHead',
  'readme',
  'readmeFilename',
  '_id',
  '_from',
  '_resolved',
  '_integrity',
  '_shasum',
  '_npmVersion',
  '_nodeVersion',
  '_npmUser',
  '_npmOperationalInternal',
  '_hasShrinkwrap',
  '_spec',
  '_where',
  '_args',
  '_location',
  '_phantomChildren',
  '_requested',
  '_requiredBy',
  '_inBundle',
  '_development',
  '_optional',
  '_engineSupported',
  '_defaultsLoaded',
  'dist',
]);

const CODE_EXT = /\.(c?js|mjs|jsx|ts|tsx|cts|mts|json|sh|bash|py|node|wasm|coffee|vue|svelte)$/i;
const NON_CODE = /(\.d\.[cm]?ts|\.map|\.md|\.markdown|\.txt)$/i;
const BINARY_EXT = /\.(node|wasm|exe|dll|so|dylib)$/i;
const DIFF_MAX_BYTES = 64 * 1024;

interface FileInfo {
  sha256: string;
  size: number;
  /** The bytes, for files small enough to diff. */
  data?: Buffer;
  binary: boolean;
}

/**
 * @param inRepository whether a package path is a file of the source commit; a file that is not,
 *   and that the rebuild made, is build output.
 * @example const c = await compareTarballs(published, rebuilt, (p) => tree.has(p));
 */
export async function compareTarballs(
  published: Buffer,
  rebuilt: Buffer,
  inRepository: (packagePath: string) => boolean,
): Promise<Comparison> {
  const identical = published.equals(rebuilt);
  const [a, b] = await Promise.all([readFiles(published), readFiles(rebuilt)]);
  const differences: FileDifference[] = [];
  let same = 0;
  let metadataFields: string[] = [];
  for (const file of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const pub = a.get(file);
    const reb = b.get(file);
    if (pub && reb && pub.sha256 === reb.sha256) {
      same++;
      continue;
    }
    if (file === 'package.json' && pub?.data && reb?.data) {
      const fields = manifestDifference(pub.data, reb.data);
      if (fields.other.length === 0) {
        metadataFields = fields.publish;
        same++;
        continue;
      }
      differences.push({
        path: file,
        kind: 'differs',
        class: 'manifest',
        published: pub.sha256,
        rebuilt: reb.sha256,
        fields: fields.other,
        ...diffOf(pub, reb),
      });
      continue;
    }
    const kind = !pub ? 'missing' : !reb ? 'extra' : 'differs';
    const diff: FileDifference = {
      path: file,
      kind,
      // build output is what the rebuild made that the repository does not hold
      class: classify(file, (pub ?? reb) as FileInfo, !reb || inRepository(file)),
    };
    if (pub) diff.published = pub.sha256;
    if (reb) diff.rebuilt = reb.sha256;
    Object.assign(diff, diffOf(pub, reb));
    differences.push(diff);
  }
  return { identical, same, differences, metadataFields };
}

/** Whether a difference in a file of this class can change what runs. */
export function isExecutableClass(cls: FileClass): boolean {
  return cls === 'manifest' || cls === 'code' || cls === 'build-output' || cls === 'binary';
}

export function classify(
  file: string,
  info: { binary: boolean },
  inRepository: boolean,
): FileClass {
  if (BINARY_EXT.test(file) || info.binary) return 'binary';
  if (NON_CODE.test(file) || !CODE_EXT.test(file)) return 'other';
  return inRepository ? 'code' : 'build-output';
}

function diffOf(pub: FileInfo | undefined, reb: FileInfo | undefined): { diff?: string } {
  if (pub?.binary || reb?.binary) return {};
  if ((pub && !pub.data) || (reb && !reb.data)) return {};
  const before = reb?.data?.toString('utf8') ?? '';
  const after = pub?.data?.toString('utf8') ?? '';
  const diff = unifiedExcerpt(before, after, 'rebuilt', 'published');
  return diff ? { diff } : {};
}

/** Top-level package.json fields that differ, split into publish-added and other. */
function manifestDifference(pub: Buffer, reb: Buffer): { publish: string[]; other: string[] } {
  let a: Record<string, unknown>;
  let b: Record<string, unknown>;
  try {
    a = JSON.parse(pub.toString('utf8')) as Record<string, unknown>;
    b = JSON.parse(reb.toString('utf8')) as Record<string, unknown>;
  } catch {
    return { publish: [], other: ['(not JSON)'] };
  }
  const publish: string[] = [];
  const other: string[] = [];
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (canonicalJson(a[key] ?? null) === canonicalJson(b[key] ?? null)) continue;
    (PUBLISH_FIELDS.has(key) ? publish : other).push(key);
  }
  return { publish, other };
}

/** Every regular file and link by its path inside the package, hashed. */
async function readFiles(tarball: Buffer): Promise<Map<string, FileInfo>> {
  const files = new Map<string, FileInfo>();
  const parser = new Parser({ strict: true });
  parser.on('entry', (entry: ReadEntry) => {
    const rel = normalise(entry.path);
    const isFile =
      entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'ContiguousFile';
    const isLink = entry.type === 'SymbolicLink' || entry.type === 'Link';
    if (!rel || (!isFile && !isLink)) return entry.resume();
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let size = 0;
    let binary = false;
    if (isLink) hash.update(`link:${entry.linkpath ?? ''}`);
    entry.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      if (size < 8192 && chunk.subarray(0, 8192 - size).includes(0)) binary = true;
      size += chunk.length;
      if (size <= DIFF_MAX_BYTES) chunks.push(chunk);
    });
    entry.on('end', () => {
      const info: FileInfo = { sha256: hash.digest('hex'), size, binary };
      if (size <= DIFF_MAX_BYTES) info.data = Buffer.concat(chunks);
      files.set(rel, info);
    });
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('close', resolve);
    parser.on('error', reject);
    parser.on('abort', reject);
    // in slices: written whole, a gzip bomb inflates in memory before the parser sees it
    feedTarball(parser, tarball, () => false).catch(reject);
  });
  return files;
}
