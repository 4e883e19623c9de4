/**
 * The analysis limits and thresholds, each with its default and why it is set there. Options
 * are checked once, when the layer is created, and frozen.
 */

export interface JsSignalsOptions {
  /**
   * Files larger than this are not read (a `JS_FILE_SKIPPED` finding names them). Default 5 MiB:
   * the largest hand-written files stay well below; what is above is generated bundles, which
   * the behaviour layer watches run instead.
   */
  maxFileBytes?: number;
  /** Stop reading files once this many bytes were analysed. Default 64 MiB. */
  maxTotalBytes?: number;
  /** Stop after this many files. Default 5,000 (lodash, one of the largest, has 1,048). */
  maxFiles?: number;
  /**
   * A line longer than this, in a file that is otherwise hand-written, is `JS_LONG_LINE`.
   * Default 5,000 characters; minified files (`.min.js`, or few short lines) are exempt.
   */
  longLineChars?: number;
  /** Base64 or hex strings at least this long are blobs. Default 200 characters. */
  minBlobChars?: number;
  /** Strings shorter than this are not scored for entropy. Default 48 characters. */
  minEntropyChars?: number;
  /**
   * Shannon entropy, in bits per character, from which a string without spaces is random-
   * looking. Default 4.9: random base64 of 48+ characters scores 5.0 to 6; in express, lodash,
   * react-dom, axios, webpack, babel, moment, core-js and ajv no other string of 48+ characters
   * without spaces scores above 4.7 (module paths, MIME types, URLs, locale tables); hex digests
   * score at most 4. Alphabets ("ABC…xyz") and mostly non-Latin text are exempt.
   */
  entropyBits?: number;
  /** Distinct `_0x…` names a file needs for `JS_HEX_IDENTIFIERS`. Default 10. */
  hexIdentifiers?: number;
  /** Distinct hard-coded wallet addresses a file needs for `JS_WALLET_ADDRESSES`. Default 5. */
  walletAddresses?: number;
  /** Occurrences listed in one finding's evidence. Default 10. */
  maxEvidence?: number;
  /**
   * Package analyses the layer keeps (by tarball digest) so that a version analysed as the one
   * being verified is not analysed again as the next version's baseline. Default 16.
   */
  cachedAnalyses?: number;
  /** Hosts never reported as hard-coded URLs, besides documentation hosts and the package's own. */
  quietHosts?: string[];
}

export type ResolvedOptions = Readonly<Required<JsSignalsOptions>>;

export const DEFAULT_OPTIONS: ResolvedOptions = Object.freeze({
  maxFileBytes: 5 * 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  maxFiles: 5_000,
  longLineChars: 5_000,
  minBlobChars: 200,
  minEntropyChars: 48,
  entropyBits: 4.9,
  hexIdentifiers: 10,
  walletAddresses: 5,
  maxEvidence: 10,
  cachedAnalyses: 16,
  quietHosts: [],
});

/**
 * Fills in the defaults.
 * @throws TypeError naming the option when a number is not a positive integer (or, for
 *   `entropyBits`, not between 0 and 8).
 * @example toResolvedOptions({ maxFileBytes: 1024 * 1024 })
 */
export function toResolvedOptions(options: JsSignalsOptions = {}): ResolvedOptions {
  const resolved = { ...DEFAULT_OPTIONS, ...stripUndefined(options) };
  for (const [name, value] of Object.entries(resolved)) {
    if (name === 'quietHosts') {
      if (!Array.isArray(value) || value.some((h) => typeof h !== 'string')) {
        throw new TypeError('quietHosts must be an array of host names');
      }
    } else if (name === 'entropyBits') {
      if (typeof value !== 'number' || !(value > 0 && value <= 8)) {
        throw new TypeError('entropyBits must be a number of bits per character in (0, 8]');
      }
    } else if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new TypeError(`${name} must be a positive integer`);
    }
  }
  return Object.freeze({ ...resolved, quietHosts: [...resolved.quietHosts] });
}

function stripUndefined(options: JsSignalsOptions): JsSignalsOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}
