/**
 * The file-level difference between two tarballs: each file's path, size and sha256, then
 * which were added, removed or changed. Reads the stored, verified bytes; writes nothing.
 * Used by the version page to compare a held version with the last admitted one.
 */
import { createHash } from 'node:crypto';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';

export interface FileHash {
  path: string;
  size: number;
  sha256: string;
}

export interface FileChange {
  path: string;
  change: 'added' | 'removed' | 'changed';
  before?: FileHash;
  after?: FileHash;
}

const MAX_FILES = 20_000;

/** Regular files of a .tgz, `package/` prefix removed, in path order. */
export async function hashTarballFiles(tarball: Buffer): Promise<FileHash[]> {
  const files: FileHash[] = [];
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      onReadEntry: (entry: ReadEntry) => {
        if (entry.type !== 'File' || files.length >= MAX_FILES) return entry.resume();
        const hash = createHash('sha256');
        let size = 0;
        entry.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          size += chunk.length;
        });
        entry.on('end', () =>
          files.push({
            path: entry.path.replace(/^[^/]+\//, ''),
            size,
            sha256: hash.digest('hex'),
          }),
        );
      },
    });
    parser.on('error', reject);
    parser.on('end', () => resolve());
    parser.end(tarball);
  });
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

/** What changed from `before` to `after`, in path order; unchanged files are left out. */
export function diffFiles(before: FileHash[], after: FileHash[]): FileChange[] {
  const old = new Map(before.map((f) => [f.path, f]));
  const changes: FileChange[] = [];
  for (const file of after) {
    const was = old.get(file.path);
    old.delete(file.path);
    if (!was) changes.push({ path: file.path, change: 'added', after: file });
    else if (was.sha256 !== file.sha256) {
      changes.push({ path: file.path, change: 'changed', before: was, after: file });
    }
  }
  for (const was of old.values()) changes.push({ path: was.path, change: 'removed', before: was });
  return changes.sort((a, b) => a.path.localeCompare(b.path));
}
