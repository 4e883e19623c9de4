/**
 * The verified index: signed version records in LevelDB with an LRU cache in front, and the
 * audit chain of every decision. Writes are serialised so the chain stays linear; a record, its
 * audit entry and the removal of its job land in one synced LevelDB batch.
 *
 * A record is trusted only when its Ed25519 signature verifies, it sits under its own key, and
 * it names the newest audit entry for that key (`auditSeq`), so neither an edit nor the replay
 * of an older, validly signed record passes. The audit head is signed too, so entries cut off
 * the end of the chain are found. A record that fails is treated as absent and reported once.
 */
import { LRUCache } from 'lru-cache';
import { canonicalJson } from './canonical';
import { GENESIS, toAuditEntry, verifyAuditChain } from './audit-chain';
import type { AuditInput, AuditVerification } from './audit-chain';
import { seqKey, versionKey } from './database';
import type { BatchOperation, Sublevels } from './database';
import type { Signer } from './signer';
import type { AuditAction, AuditEntry, SignedRecord, Status, VersionRecord } from '../types';
import { VettedError } from '../errors';

export interface VerifiedIndexOptions {
  /** Records kept in memory. Default 20,000. */
  cacheMax?: number;
  /** Called once per key whose stored record fails its checks. */
  onTampered?: (key: string) => void;
}

/** Extra operations committed in the same batch as a decision (the queue removes its job). */
export type BatchOp = { type: 'del'; sublevel: 'jobs' | 'jobKeys'; key: string };

interface AuditHead {
  seq: number;
  hash: string;
  sig?: string;
}

/** Audit actions that write a record; the others only log. */
const RECORD_ACTIONS: ReadonlySet<AuditAction> = new Set(['verdict', 'approve', 'deny', 'revoke']);

interface Summary {
  status: Status;
  decidedAt: string;
}

export class VerifiedIndex {
  readonly #subs: Sublevels;
  readonly #signer: Signer;
  readonly #cache: LRUCache<string, VersionRecord>;
  readonly #onTampered: (key: string) => void;
  readonly #tampered = new Set<string>();
  /** key -> the verdict whose stored bytes failed their check (in memory, until re-verified). */
  readonly #storeDamaged = new Map<string, string>();
  /** key -> seq of the newest audit entry that wrote its record. */
  readonly #latest = new Map<string, number>();
  /** key -> status and date as stored (unverified), for listing without reading every record. */
  readonly #summary = new Map<string, Summary>();
  #head: AuditHead = { seq: 0, hash: GENESIS };
  /** Why no stored record can be trusted (the audit chain does not match its signed head). */
  #compromised: string | undefined;
  /** Records bound to audit entries up to here were written before the chain was found broken. */
  #compromisedUpTo = 0;
  #writing: Promise<unknown> = Promise.resolve();

  private constructor(subs: Sublevels, signer: Signer, options: VerifiedIndexOptions) {
    const max = options.cacheMax ?? 20_000;
    if (!Number.isInteger(max) || max < 1) {
      throw new TypeError('cacheMax must be a positive integer');
    }
    this.#subs = subs;
    this.#signer = signer;
    this.#cache = new LRUCache({ max });
    this.#onTampered = options.onTampered ?? (() => {});
  }

  /** Opens the index: reads the audit head and builds the in-memory maps (one pass each). */
  static async open(subs: Sublevels, signer: Signer, options: VerifiedIndexOptions = {}) {
    const index = new VerifiedIndex(subs, signer, options);
    index.#head = await index.#readHead();
    // one pass over the log both fills the newest-entry map and checks the chain; the map is
    // only as good as the chain (entries cut off the end or edited would let an older record
    // pass), so a chain that does not match its signed head trusts no record
    const note = (entry: AuditEntry) => {
      if (RECORD_ACTIONS.has(entry.action)) {
        index.#latest.set(versionKey(entry.name, entry.version), entry.seq);
      }
    };
    const log = subs.audit.iterator();
    const tapped: AsyncIterable<[string, AuditEntry]> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          const item = (await log.next()) as [string, AuditEntry] | undefined;
          if (!item) return { done: true as const, value: undefined };
          note(item[1]);
          return { done: false as const, value: item };
        },
      }),
    };
    const chain = await index.#verifyChain(tapped);
    // the rest of the log, when the walk stopped at a broken entry
    for (let item = await log.next(); item; item = await log.next()) note(item[1] as AuditEntry);
    await log.close();
    if (!chain.ok) {
      index.#compromised = `audit entry ${chain.firstBroken?.seq}: ${chain.firstBroken?.problem}`;
      index.#compromisedUpTo = Math.max(index.#head.seq, chain.entries);
    }
    for await (const [key, value] of subs.records.iterator()) {
      const record = (value as SignedRecord | undefined)?.record;
      if (record) index.#summary.set(key, { status: record.status, decidedAt: record.decidedAt });
    }
    return index;
  }

  get signer(): Signer {
    return this.#signer;
  }

  /** Set when the audit chain did not verify at open: every record is then treated as absent. */
  get compromised(): string | undefined {
    return this.#compromised;
  }

  /** The record for `name@version`, or undefined when absent or it fails its checks. */
  async get(name: string, version: string): Promise<VersionRecord | undefined> {
    const key = versionKey(name, version);
    const cached = this.#cache.get(key);
    if (cached) return cached;
    const stored = (await this.#subs.records.get(key)) as SignedRecord | undefined;
    const record = this.#checked(key, stored);
    if (record) this.#cache.set(key, record);
    else if (!stored && this.#latest.has(key)) this.#flag(key); // the audit log says it had one
    return record;
  }

  /** The stored, checked record with its signature, for showing to users. */
  async getSigned(name: string, version: string): Promise<SignedRecord | undefined> {
    const key = versionKey(name, version);
    const stored = (await this.#subs.records.get(key)) as SignedRecord | undefined;
    return this.#checked(key, stored) ? stored : undefined;
  }

  /** Whether a stored record for `name@version` failed its checks (it counts as absent). */
  isTampered(name: string, version: string): boolean {
    return this.#tampered.has(versionKey(name, version));
  }

  /**
   * Notes that the verified bytes of `record` failed their check in the store; a later verdict
   * for the version (a re-verification) supersedes it.
   * @returns false when this verdict was already noted.
   */
  markStoreDamaged(record: VersionRecord): boolean {
    const key = versionKey(record.name, record.version);
    const verdict = verdictId(record);
    if (this.#storeDamaged.get(key) === verdict) return false;
    this.#storeDamaged.set(key, verdict);
    return true;
  }

  /** Whether the verified bytes of this verdict failed their check since start. */
  isStoreDamaged(record: VersionRecord): boolean {
    return this.#storeDamaged.get(versionKey(record.name, record.version)) === verdictId(record);
  }

  /**
   * Stores a decision: the signed record, its audit entry and any extra operations, atomically.
   * @throws VettedError INDEX_UNAVAILABLE when LevelDB refuses the write.
   */
  async decide(
    record: VersionRecord,
    audit: AuditInput,
    extra: BatchOp[] = [],
  ): Promise<AuditEntry> {
    const entry = await this.decideIf(record, audit, extra, () => true);
    return entry as AuditEntry;
  }

  /**
   * Like `decide`, but only when `accept(current)` holds at the moment of writing; otherwise
   * only the extra operations are applied. Reading and writing happen under the write lock, so
   * no other decision lands in between.
   */
  async decideIf(
    record: VersionRecord,
    audit: AuditInput,
    extra: BatchOp[],
    accept: (current: VersionRecord | undefined) => boolean,
  ): Promise<AuditEntry | undefined> {
    return this.#serialise(async () => {
      const key = versionKey(record.name, record.version);
      const extraOps: BatchOperation[] = extra.map((op) => ({
        type: 'del' as const,
        sublevel: this.#subs[op.sublevel],
        key: op.key,
      }));
      const current = await this.get(record.name, record.version);
      if (!accept(current)) {
        if (extraOps.length > 0) await this.#write(key, extraOps);
        return undefined;
      }
      const entry = toAuditEntry(audit, this.#head.seq + 1, this.#head.hash);
      const bound: VersionRecord = { ...record, auditSeq: entry.seq };
      const head = this.#signHead(entry);
      await this.#write(key, [
        { type: 'put', sublevel: this.#subs.records, key, value: this.#sign(bound) },
        { type: 'put', sublevel: this.#subs.audit, key: seqKey(entry.seq), value: entry },
        { type: 'put', sublevel: this.#subs.meta, key: 'auditHead', value: head },
        ...extraOps,
      ]);
      this.#head = head;
      this.#latest.set(key, entry.seq);
      this.#summary.set(key, { status: bound.status, decidedAt: bound.decidedAt });
      this.#cache.set(key, bound);
      this.#tampered.delete(key);
      return entry;
    });
  }

  /** Appends an audit entry that changes no record (alerts, re-verification requests). */
  async appendAudit(audit: AuditInput): Promise<AuditEntry> {
    return this.#serialise(async () => {
      const entry = toAuditEntry(audit, this.#head.seq + 1, this.#head.hash);
      const head = this.#signHead(entry);
      await this.#write(`${audit.name}@${audit.version}`, [
        { type: 'put', sublevel: this.#subs.audit, key: seqKey(entry.seq), value: entry },
        { type: 'put', sublevel: this.#subs.meta, key: 'auditHead', value: head },
      ]);
      this.#head = head;
      return entry;
    });
  }

  /** Records, optionally by status or name, newest decision first; failing records skipped. */
  async list(
    filter: { status?: Status; name?: string; names?: ReadonlySet<string>; limit?: number } = {},
  ) {
    const keys = [...this.#summary.entries()]
      .filter(([key, s]) => {
        if (filter.status && s.status !== filter.status) return false;
        const name = key.slice(0, key.lastIndexOf('@'));
        return (!filter.name || name === filter.name) && (!filter.names || filter.names.has(name));
      })
      .sort((a, b) => b[1].decidedAt.localeCompare(a[1].decidedAt))
      .map(([key]) => key);
    const out: VersionRecord[] = [];
    for (const key of keys) {
      const at = key.lastIndexOf('@');
      const record = await this.get(key.slice(0, at), key.slice(at + 1));
      if (record) out.push(record);
      if (filter.limit && out.length >= filter.limit) break;
    }
    return out;
  }

  /** Counts by status, as stored. */
  countByStatus(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const { status } of this.#summary.values()) counts[status] = (counts[status] ?? 0) + 1;
    return counts;
  }

  /** Audit entries in order, from `fromSeq` (1-based), or the last `tail` entries. */
  async audit(options: { fromSeq?: number; limit?: number; name?: string; tail?: number } = {}) {
    const out: AuditEntry[] = [];
    const from = options.tail ? Math.max(1, this.#head.seq - options.tail + 1) : options.fromSeq;
    for await (const [, value] of this.#subs.audit.iterator({ gte: seqKey(from ?? 1) })) {
      const entry = value as AuditEntry;
      if (options.name && entry.name !== options.name) continue;
      out.push(entry);
      if (options.limit && out.length >= options.limit) break;
    }
    return out;
  }

  /** Walks the chain and compares its end with the signed head. */
  async verifyAudit(): Promise<AuditVerification> {
    return this.#verifyChain(
      this.#subs.audit.iterator() as unknown as AsyncIterable<[string, AuditEntry]>,
    );
  }

  async #verifyChain(entries: AsyncIterable<[string, AuditEntry]>): Promise<AuditVerification> {
    const walked = await verifyAuditChain(entries);
    if (!walked.ok) return walked;
    const head = (await this.#subs.meta.get('auditHead')) as AuditHead | undefined;
    if (!head) {
      return walked.entries === 0
        ? walked
        : {
            ...walked,
            ok: false,
            firstBroken: { seq: 1, problem: 'the signed audit head is missing' },
          };
    }
    if (!head.sig || !this.#signer.verify(`${head.seq}:${head.hash}`, head.sig)) {
      return {
        ...walked,
        ok: false,
        firstBroken: { seq: head.seq, problem: 'the audit head fails its signature' },
      };
    }
    if (head.seq > walked.entries) {
      return {
        ...walked,
        ok: false,
        firstBroken: {
          seq: walked.entries + 1,
          problem: `entries ${walked.entries + 1} to ${head.seq} were removed`,
        },
      };
    }
    if (head.seq < walked.entries) {
      return {
        ...walked,
        ok: false,
        firstBroken: { seq: head.seq + 1, problem: 'entries after the signed head were added' },
      };
    }
    return walked;
  }

  /** Forgets cached records, so the next read goes to LevelDB. */
  clearCache(): void {
    this.#cache.clear();
  }

  #sign(record: VersionRecord): SignedRecord {
    return { record, keyId: this.#signer.keyId, sig: this.#signer.sign(canonicalJson(record)) };
  }

  #signHead(entry: AuditEntry): AuditHead {
    return {
      seq: entry.seq,
      hash: entry.hash,
      sig: this.#signer.sign(`${entry.seq}:${entry.hash}`),
    };
  }

  #checked(key: string, stored: SignedRecord | undefined): VersionRecord | undefined {
    if (!stored) return undefined;
    const record = typeof stored === 'object' ? stored.record : undefined;
    const ok =
      record !== undefined &&
      (this.#compromised === undefined || (record.auditSeq ?? 0) > this.#compromisedUpTo) &&
      typeof stored.sig === 'string' &&
      versionKey(record.name, record.version) === key &&
      record.auditSeq !== undefined &&
      this.#latest.get(key) === record.auditSeq &&
      this.#signer.verify(canonicalJson(record), stored.sig);
    if (ok) return record;
    this.#flag(key);
    return undefined;
  }

  #flag(key: string): void {
    if (this.#tampered.has(key)) return;
    this.#tampered.add(key);
    this.#onTampered(key);
  }

  async #write(key: string, ops: BatchOperation[]): Promise<void> {
    try {
      await this.#subs.batch(ops, { sync: true });
    } catch (err) {
      throw new VettedError('INDEX_UNAVAILABLE', `cannot store the decision for ${key}`, {
        cause: err,
      });
    }
  }

  async #readHead(): Promise<AuditHead> {
    const head = (await this.#subs.meta.get('auditHead')) as AuditHead | undefined;
    if (head && typeof head.seq === 'number') return head;
    for await (const [, entry] of this.#subs.audit.iterator({ reverse: true, limit: 1 })) {
      const e = entry as AuditEntry;
      return { seq: e.seq, hash: e.hash };
    }
    return { seq: 0, hash: GENESIS };
  }

  #serialise<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#writing.then(fn, fn);
    this.#writing = run.catch(() => {});
    return run;
  }
}

/** One verdict of a version: the audit entry that wrote it, else its decision time. */
function verdictId(record: VersionRecord): string {
  return String(record.auditSeq ?? record.decidedAt);
}
