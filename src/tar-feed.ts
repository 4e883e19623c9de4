/**
 * Feeding a gzip'd tarball held in memory to a tar parser a slice at a time. Shared by the
 * readers in verify/ and the unpacker in sandbox/, which must not import each other.
 */
import type { Parser } from 'tar';

/** Compressed bytes written at once: a gzip bomb inflates about 1000:1, so 64 MB at most. */
const FEED_BYTES = 64 * 1024;

/**
 * Writes the archive to `parser` in slices, yielding between them, until `stopped()` says the
 * reader has what it needs. Written whole, a 2 MB gzip bomb would inflate to gigabytes in
 * memory before the parser could stop it.
 * @returns false when it stopped early (the parser then never ends: the caller settles).
 */
export async function feedTarball(
  parser: Parser,
  data: Buffer,
  stopped: () => boolean,
): Promise<boolean> {
  for (let offset = 0; offset < data.length; offset += FEED_BYTES) {
    if (stopped()) return false;
    parser.write(data.subarray(offset, offset + FEED_BYTES));
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (stopped()) return false;
  parser.end();
  return true;
}
