/**
 * The audit log: an append-only list of decisions, each entry holding the sha256 of the one
 * before it, so an edit, a deletion or a reordering anywhere is found by `verifyAuditChain`.
 * Pure functions; the index does the storing.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical';
import type { AuditEntry } from '../types';

export const GENESIS = '0'.repeat(64);

export type AuditInput = Omit<AuditEntry, 'seq' | 'prev' | 'hash' | 'at'> & { at?: string };

export function hashEntry(entry: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256').update(canonicalJson(entry)).digest('hex');
}

export function toAuditEntry(input: AuditInput, seq: number, prev: string): AuditEntry {
  const body = { ...input, at: input.at ?? new Date().toISOString(), seq, prev };
  return { ...body, hash: hashEntry(body) };
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  /** The first entry that does not hold, with why. */
  firstBroken?: { seq: number; problem: string };
}

/** Walks entries in order and names the first one whose hash or link does not hold. */
export async function verifyAuditChain(
  entries: AsyncIterable<[string, AuditEntry]>,
): Promise<AuditVerification> {
  let prev = GENESIS;
  let expectedSeq = 1;
  let count = 0;
  for await (const [key, entry] of entries) {
    count++;
    const seq = typeof entry?.seq === 'number' ? entry.seq : Number(key);
    const problem = checkEntry(entry, key, expectedSeq, prev);
    if (problem) return { ok: false, entries: count, firstBroken: { seq, problem } };
    prev = entry.hash;
    expectedSeq++;
  }
  return { ok: true, entries: count };
}

function checkEntry(entry: AuditEntry, key: string, seq: number, prev: string): string | undefined {
  if (!entry || typeof entry !== 'object') return 'entry is not an object';
  if (entry.seq !== seq || Number(key) !== seq) {
    return `expected entry ${seq} here, found ${entry.seq} (an entry was removed or reordered)`;
  }
  if (entry.prev !== prev) return 'does not link to the entry before it';
  const { hash, ...body } = entry;
  if (hashEntry(body) !== hash) return 'content does not match its hash (the entry was edited)';
  return undefined;
}
