/**
 * The deploy-time check of an installed package: its files on disk against the verified
 * tarball, file by file (sha256). A file edited, removed or added after install shows up here.
 * Nested `node_modules` belong to other packages and are checked as their own nodes.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import { feedTarball } from '../tar-feed';

export interface InstalledDiff {
  location: string;
  /** Files whose bytes differ from the verified tarball's. */
  modified: string[];
  /** Files in the verified tarball that are not on disk. */
  missing: string[];
  /** Files on disk the tarball does not have (an install script's build output, or an addition). */
  added: string[];
}

const MAX_FILES = 100_000;

/** sha256 of every regular file in a tarball, by its path inside the package. */
export async function tarballFileHashes(tarball: Buffer): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  const parser = new Parser({ strict: true });
  parser.on('entry', (entry: ReadEntry) => {
    if (entry.type !== 'File' || hashes.size >= MAX_FILES) return entry.resume();
    // the first path segment is the archive's root folder (`package/` by convention)
    const path = posix.normalize(entry.path.split('/').slice(1).join('/'));
    const hash = createHash('sha256');
    entry.on('data', (chunk: Buffer) => hash.update(chunk));
    entry.on('end', () => hashes.set(path, hash.digest('hex')));
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('error', reject);
    parser.on('abort', reject);
    parser.on('end', resolve);
    feedTarball(parser, tarball, () => false).catch(reject);
  });
  return hashes;
}

export async function compareInstalled(
  location: string,
  expected: Map<string, string>,
): Promise<InstalledDiff> {
  const onDisk = await listFiles(location);
  const diff: InstalledDiff = { location, modified: [], missing: [], added: [] };
  for (const [path, hash] of expected) {
    if (!onDisk.has(path)) {
      diff.missing.push(path);
      continue;
    }
    const bytes = await readFile(join(location, path)).catch(() => undefined);
    if (!bytes || createHash('sha256').update(bytes).digest('hex') !== hash) {
      diff.modified.push(path);
    }
  }
  for (const path of onDisk) if (!expected.has(path)) diff.added.push(path);
  diff.modified.sort();
  diff.missing.sort();
  diff.added.sort();
  return diff;
}

/** Regular files under `root`, relative, skipping nested node_modules; symlinks are not followed. */
async function listFiles(root: string): Promise<Set<string>> {
  const out = new Set<string>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (out.size >= MAX_FILES) return;
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (entry.name === 'node_modules' || entry.name === '.bin') continue;
        await walk(join(dir, entry.name), path);
      } else if (entry.isFile()) {
        out.add(path);
      } else if (entry.isSymbolicLink()) {
        // compared by what it points at; a dangling link reads as modified
        out.add(path);
      }
    }
  };
  await walk(root, '');
  return out;
}
