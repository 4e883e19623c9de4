/**
 * Registry signatures: `dist.signatures` entries are ECDSA P-256 / SHA-256 signatures over
 * `${name}@${version}:${integrity}`, made with a registry key named by `keyid`. Keys come from
 * the upstream's `/-/npm/v1/keys` (cached), with a configured keys file as the offline fallback.
 * A key with `expires` only vouches for versions published before that time. Uses node:crypto
 * only; knows nothing of layers or policy beyond the findings it returns.
 */
import { createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Finding } from '../../types';
import { fetchRegistryJson } from './registry-json';

export interface RegistryKey {
  keyid: string;
  /** Versions published after this are not vouched for; null when the key does not expire. */
  expires: Date | null;
  publicKey: KeyObject;
}

/** The registry keys to check against, or why there are none. */
export type KeySet =
  { keys: RegistryKey[]; source: 'upstream' | 'fallback' } | { keys: undefined; reason: string };

export interface KeySource {
  load(signal?: AbortSignal): Promise<KeySet>;
}

export interface KeySourceOptions {
  /** Registry base URL with a trailing slash. */
  registry: string;
  /** A `/-/npm/v1/keys` body saved to a file, used when the upstream gives no keys. */
  fallbackFile?: string;
  /** How long an upstream answer is reused. Default one hour. */
  ttlMs?: number;
}

/** How soon an upstream that did not answer (network error, time limit) is asked again. */
export const KEYS_RETRY_MS = 60_000;

/**
 * Keys from the upstream, cached for `ttlMs`; the fallback file when the upstream has none.
 * An upstream answer without usable keys (404, a body with no ECDSA key) is cached for `ttlMs`
 * too, with the fallback it leads to; no answer at all for `KEYS_RETRY_MS`. Concurrent loads
 * share one request.
 * @throws TypeError naming the file, when the fallback file cannot be read or holds no keys.
 */
export function createKeySource(options: KeySourceOptions): KeySource {
  const ttl = options.ttlMs ?? 60 * 60 * 1000;
  const fallback = options.fallbackFile ? loadKeysFile(options.fallbackFile) : undefined;
  let cached: { until: number; set: KeySet } | undefined;
  let loading: Promise<KeySet> | undefined;

  async function fetchKeys(): Promise<{ set: KeySet; keepMs: number }> {
    const read = await fetchRegistryJson<unknown>(`${options.registry}-/npm/v1/keys`);
    let set: KeySet;
    if (read.ok) {
      try {
        set = { keys: toRegistryKeys(read.body), source: 'upstream' };
      } catch (err) {
        set = { keys: undefined, reason: `the upstream's keys are unusable: ${String(err)}` };
      }
    } else {
      set = { keys: undefined, reason: `the upstream serves no registry keys (${read.reason})` };
    }
    // an HTTP answer is an answer; a read that got none is retried sooner
    const keepMs = read.ok || read.status !== undefined ? ttl : Math.min(ttl, KEYS_RETRY_MS);
    if (!set.keys && fallback) set = { keys: fallback, source: 'fallback' };
    return { set, keepMs };
  }

  return {
    async load(signal) {
      if (cached && Date.now() < cached.until) return cached.set;
      // shared, so it follows no one job's signal; the read's own time limit bounds it
      loading ??= fetchKeys()
        .then(({ set, keepMs }) => {
          cached = { until: Date.now() + keepMs, set };
          return set;
        })
        .finally(() => {
          loading = undefined;
        });
      return signal ? untilAborted(loading, signal) : loading;
    },
  };
}

/** `promise`, or the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(signal.reason as Error);
    signal.addEventListener('abort', stop, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

/**
 * Reads a saved `/-/npm/v1/keys` body.
 * @throws TypeError naming the file and what is wrong with it.
 */
export function loadKeysFile(file: string): RegistryKey[] {
  try {
    return toRegistryKeys(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    throw new TypeError(`registry keys file ${file}: ${(err as Error).message}`);
  }
}

/**
 * Turns a `/-/npm/v1/keys` body into keys. Entries that are not ECDSA P-256 (by keytype or
 * by the key itself), or whose key or expiry does not parse, are skipped one by one.
 * @throws TypeError when the body has no usable key.
 */
export function toRegistryKeys(body: unknown): RegistryKey[] {
  const list = (body as { keys?: unknown })?.keys;
  if (!Array.isArray(list)) throw new TypeError('expected { "keys": [...] }');
  const keys: RegistryKey[] = [];
  for (const entry of list as Record<string, unknown>[]) {
    if (typeof entry?.keyid !== 'string' || typeof entry.key !== 'string') continue;
    if (entry.keytype !== undefined && entry.keytype !== 'ecdsa-sha2-nistp256') continue;
    const expires = typeof entry.expires === 'string' ? new Date(entry.expires) : null;
    if (expires && Number.isNaN(expires.getTime())) continue;
    const publicKey = toP256Key(entry.key);
    // one bad entry costs that key only, not the whole list
    if (publicKey) keys.push({ keyid: entry.keyid, expires, publicKey });
  }
  if (keys.length === 0) throw new TypeError('no ECDSA P-256 key in the list');
  return keys;
}

/** A base64 SPKI DER key, if it parses and is an EC key on P-256. */
function toP256Key(base64: string): KeyObject | undefined {
  try {
    const key = createPublicKey({
      key: Buffer.from(base64, 'base64'),
      format: 'der',
      type: 'spki',
    });
    const curve = key.asymmetricKeyDetails?.namedCurve;
    return key.asymmetricKeyType === 'ec' && curve === 'prime256v1' ? key : undefined;
  } catch {
    return undefined;
  }
}

export interface SignedVersion {
  name: string;
  version: string;
  integrity: string;
  /** `dist.signatures` as the packument gives it (untrusted shape). */
  signatures: unknown;
  /** `time[version]`; undefined when the packument does not say. */
  publishedAt?: Date;
}

export interface SignatureCheck {
  /** keyids whose signature verified. */
  verified: string[];
  findings: Finding[];
}

/**
 * Checks every signature of a version. One good signature from a known, unexpired key is
 * enough only when no other signature is bad: a signature that does not verify is a failure.
 * @example checkSignatures({ name, version, integrity, signatures, publishedAt }, keys)
 */
export function checkSignatures(v: SignedVersion, keys: RegistryKey[]): SignatureCheck {
  const message = Buffer.from(`${v.name}@${v.version}:${v.integrity}`, 'utf8');
  const entries = Array.isArray(v.signatures) ? (v.signatures as Record<string, unknown>[]) : [];
  const verified: string[] = [];
  const findings: Finding[] = [];
  for (const entry of entries) {
    const keyid = typeof entry?.keyid === 'string' ? entry.keyid : '(none)';
    const sig = typeof entry?.sig === 'string' ? entry.sig : '';
    const key = keys.find((k) => k.keyid === keyid);
    if (!key) {
      findings.push({
        code: 'SIGNATURE_KEY_UNKNOWN',
        severity: 'high',
        message: `signed with key ${keyid}, which the registry does not list`,
        evidence: { keyid, known: keys.map((k) => k.keyid) },
      });
      continue;
    }
    if (key.expires && (!v.publishedAt || v.publishedAt > key.expires)) {
      findings.push({
        code: 'SIGNATURE_KEY_EXPIRED',
        severity: 'high',
        message: `signed with key ${keyid}, which expired ${key.expires.toISOString()}, before this version was published (${v.publishedAt?.toISOString() ?? 'time unknown'})`,
        evidence: { keyid, expires: key.expires.toISOString(), publishedAt: v.publishedAt },
      });
      continue;
    }
    let good = false;
    try {
      good = verify('sha256', message, key.publicKey, Buffer.from(sig, 'base64'));
    } catch {
      good = false;
    }
    if (good) verified.push(keyid);
    else {
      findings.push({
        code: 'SIGNATURE_INVALID',
        severity: 'critical',
        message: `the registry signature by ${keyid} does not verify over ${v.name}@${v.version}:${v.integrity.slice(0, 20)}…`,
        evidence: { keyid, signed: message.toString('utf8') },
      });
    }
  }
  return { verified, findings };
}
