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

/**
 * Keys from the upstream, cached for `ttlMs`; the fallback file when the upstream has none.
 * @throws TypeError naming the file, when the fallback file cannot be read or holds no keys.
 */
export function createKeySource(options: KeySourceOptions): KeySource {
  const ttl = options.ttlMs ?? 60 * 60 * 1000;
  const fallback = options.fallbackFile ? loadKeysFile(options.fallbackFile) : undefined;
  let cached: { at: number; set: KeySet } | undefined;
  return {
    async load(signal) {
      if (cached && Date.now() - cached.at < ttl) return cached.set;
      const read = await fetchRegistryJson<unknown>(`${options.registry}-/npm/v1/keys`, signal);
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
      if (!set.keys && fallback) return { keys: fallback, source: 'fallback' };
      // a failed read is retried sooner than a good answer is refreshed
      cached = { at: set.keys ? Date.now() : Date.now() - ttl + 60_000, set };
      return set;
    },
  };
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
 * Turns a `/-/npm/v1/keys` body into keys. Entries that are not ECDSA P-256 are skipped.
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
    const publicKey = createPublicKey({
      key: Buffer.from(entry.key, 'base64'),
      format: 'der',
      type: 'spki',
    });
    keys.push({ keyid: entry.keyid, expires, publicKey });
  }
  if (keys.length === 0) throw new TypeError('no ECDSA P-256 key in the list');
  return keys;
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
