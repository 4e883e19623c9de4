/**
 * The content-addressed store of the bytes vetted verified (cacache under `<home>/tarballs`).
 * Reads are checked: every byte streamed out is hashed, and the last chunk is held back until
 * the digest matches, so an edited file never reaches a client whole.
 * Depends on cacache and ssri; knows nothing of records or policy.
 */
import cacache from 'cacache';
import ssri from 'ssri';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
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
  /** A checked stream of the content, or undefined when the store has none. */
  open(integrity: string, key: string): Promise<{ stream: Readable; size: number } | undefined>;
  has(integrity: string): Promise<boolean>;
}

export function createTarballStore(dir: string): TarballStore {
  // content path by integrity: cacache's index lookup is a file read per call
  const paths = new LRUCache<string, { path: string; size: number }>({ max: 50_000 });

  return {
    async put(key, data) {
      const integrity = ssri.fromData(data, { algorithms: ['sha512'] }).toString();
      await cacache.put(dir, key, data, { integrity, algorithms: ['sha512'] });
      return { integrity, size: data.length };
    },

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
      const found = await stat(where.path).catch(() => undefined);
      if (!found) {
        paths.delete(integrity);
        return undefined;
      }
      if (found.size !== where.size) {
        paths.delete(integrity);
        throw new VettedError('STORE_CORRUPT', `stored tarball for ${key} has the wrong size`, {
          context: { key, integrity, expected: where.size, found: found.size },
        });
      }
      const sha512 = ssri.parse(integrity).sha512?.[0]?.digest;
      if (!sha512) throw new VettedError('STORE_CORRUPT', `no sha512 in ${integrity}`);
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
    if (found !== this.expected) {
      done(
        new VettedError(
          'STORE_CORRUPT',
          `stored tarball for ${this.key} does not match its integrity`,
          {
            context: {
              key: this.key,
              expected: `sha512-${this.expected}`,
              found: `sha512-${found}`,
            },
          },
        ),
      );
      return;
    }
    done(null, this.#held);
  }
}
