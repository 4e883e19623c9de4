/**
 * The content-addressed store of the bytes vetted verified (cacache under `<home>/tarballs`).
 * Reads are checked before anything is sent: tarballs up to 64 MiB are read and hashed whole;
 * larger ones stream with the last chunk held back until the digest matches, so an edited file
 * never reaches a client whole.
 *
 * Bodies that passed the check stay in memory (256 MiB in all, 16 MiB at most each), so a hot
 * tarball is served without re-reading and re-hashing it. Each hit still stats the file: if
 * its size or mtime changed, the copy is dropped and the file is checked again, so an edit on
 * disk is reported (STORE_CORRUPT) on the next request for it, and a re-verification that
 * puts the same bytes again replaces the damaged copy.
 * Depends on cacache and ssri; knows nothing of records or policy.
 */
import cacache from 'cacache';
import ssri from 'ssri';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import type { TransformCallback, Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import { VettedError } from '../errors';

export interface StoredTarball {
  integrity: string;
  size: number;
}

export interface TarballStore {
  put(key: string, data: Buffer): Promise<StoredTarball>;
  /**
   * The content, checked: `body` when it was read and verified whole, else a `stream` that
   * errors (STORE_CORRUPT) before its last chunk on a mismatch. Undefined when absent.
   * @throws VettedError STORE_CORRUPT when the stored bytes do not match.
   */
  open(integrity: string, key: string): Promise<OpenedTarball | undefined>;
  has(integrity: string): Promise<boolean>;
  /** Reads answered from the in-memory body cache (hits) or from disk (misses), since start. */
  cacheStats(): { hits: number; misses: number };
}

export type OpenedTarball =
  | { body: Buffer; stream?: undefined; size: number }
  | { body?: undefined; stream: Readable; size: number };

/** Above this size a tarball is streamed instead of read whole. */
const WHOLE_READ_MAX = 64 * 1024 * 1024;
/** Verified bodies kept in memory, in bytes, and the largest one kept. */
const BODY_CACHE_BYTES = 256 * 1024 * 1024;
const BODY_CACHE_ITEM_MAX = 16 * 1024 * 1024;

interface CachedBody {
  body: Buffer;
  mtimeMs: number;
}

export function createTarballStore(dir: string): TarballStore {
  // content path by integrity: cacache's index lookup is a file read per call
  const paths = new LRUCache<string, { path: string; size: number }>({ max: 50_000 });
  const bodies = new LRUCache<string, CachedBody>({
    maxSize: BODY_CACHE_BYTES,
    sizeCalculation: (entry) => entry.body.length,
  });
  const stats = { hits: 0, misses: 0 };

  return {
    async put(key, data) {
      const integrity = ssri.fromData(data, { algorithms: ['sha512'] }).toString();
      // cacache keeps content it already has for an integrity, so a copy damaged on disk would
      // survive a re-verification: it goes first
      if (await cacache.get.hasContent(dir, integrity)) {
        await cacache.get.byDigest(dir, integrity).catch(async (err: { code?: string }) => {
          if (err.code !== 'EINTEGRITY' && err.code !== 'EBADSIZE') throw err;
          await cacache.rm.content(dir, integrity);
        });
      }
      await cacache.put(dir, key, data, { integrity, algorithms: ['sha512'] });
      paths.delete(integrity);
      bodies.delete(integrity);
      return { integrity, size: data.length };
    },

    cacheStats: () => ({ ...stats }),

    async has(integrity) {
      return (await cacache.get.hasContent(dir, integrity)) !== false;
    },

    async open(integrity, key) {
      let where = paths.get(integrity);
      if (!where) {
        const info = await cacache.get.info(dir, key);
        if (!info || info.integrity !== integrity) return undefined;
        where = { path: info.path, size: info.size ?? 0 };
        paths.set(integrity, where);
      }
      const onDisk = await stat(where.path).catch(() => undefined);
      if (!onDisk) {
        paths.delete(integrity);
        return undefined;
      }
      const hot = bodies.get(integrity);
      if (hot && hot.mtimeMs === onDisk.mtimeMs && hot.body.length === onDisk.size) {
        stats.hits++;
        return { body: hot.body, size: hot.body.length };
      }
      bodies.delete(integrity);
      stats.misses++;
      if (onDisk.size !== where.size) {
        paths.delete(integrity);
        throw new VettedError('STORE_CORRUPT', `stored tarball for ${key} has the wrong size`, {
          context: { key, integrity, expected: where.size, found: onDisk.size },
        });
      }
      const sha512 = ssri.parse(integrity).sha512?.[0]?.digest;
      if (!sha512) throw new VettedError('STORE_CORRUPT', `no sha512 in ${integrity}`);
      if (where.size <= WHOLE_READ_MAX) {
        const body = await readFile(where.path);
        const found = createHash('sha512').update(body).digest('base64');
        if (found !== sha512) throw mismatch(key, sha512, found);
        if (body.length <= BODY_CACHE_ITEM_MAX)
          bodies.set(integrity, { body, mtimeMs: onDisk.mtimeMs });
        return { body, size: body.length };
      }
      const checked = createReadStream(where.path).pipe(new DigestGate(sha512, key));
      return { stream: checked, size: where.size };
    },
  };
}

/**
 * Passes bytes through while hashing them and holds back the last chunk until the whole
 * stream's sha512 matches; on a mismatch it errors instead of releasing it.
 */
class DigestGate extends Transform {
  readonly #hash = createHash('sha512');
  #held: Buffer | undefined;

  constructor(
    private readonly expected: string,
    private readonly key: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#hash.update(chunk);
    const previous = this.#held;
    this.#held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    const found = this.#hash.digest('base64');
    if (found !== this.expected) return done(mismatch(this.key, this.expected, found));
    done(null, this.#held);
  }
}

function mismatch(key: string, expected: string, found: string): VettedError {
  return new VettedError(
    'STORE_CORRUPT',
    `stored tarball for ${key} does not match its integrity`,
    {
      context: { key, expected: `sha512-${expected}`, found: `sha512-${found}` },
    },
  );
}
