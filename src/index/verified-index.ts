/**
 * The verified index: signed version records in LevelDB with an LRU cache in front, and the
 * audit chain of every decision. A record whose signature does not verify is treated as absent
 * (and reported once through `onTampered`). Writes are serialised so the chain stays linear;
 * a record, its audit entry and the removal of its job land in one LevelDB batch.
 */
import { LRUCache } from 'lru-cache';
import { canonicalJson } from './canonical';
import { GENESIS, toAuditEntry, verifyAuditChain } from './audit-chain';
import type { AuditInput, AuditVerification } from './audit-chain';
import { seqKey, versionKey } from './database';
import type { BatchOperation, Sublevels } from './database';
import type { Signer } from './signer';
import type { AuditEntry, SignedRecord, Status, VersionRecord } from '../types';
import { VettedError } from '../errors';

export interface VerifiedIndexOptions {
  /** Records kept in memory. Default 20,000. */
  cacheMax?: number;
  /** Called once per key whose stored record fails its signature. */
  onTampered?: (key: string) => void;
}

/** Extra operations committed in the same batch as a decision (the queue removes its job). */
export type BatchOp = { type: 'del'; sublevel: 'jobs' | 'jobKeys'; key: string };

interface AuditHead {
  seq: number;
  hash: string;
}

export class VerifiedIndex {
  readonly #subs: Sublevels;
  readonly #signer: Signer;
  readonly #cache: LRUCache<string, VersionRecord>;
  readonly #onTampered: (key: string) => void;
  readonly #reported = new Set<string>();
  #head: AuditHead = { seq: 0, hash: GENESIS };
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

  static async open(subs: Sublevels, signer: Signer, options: VerifiedIndexOptions = {}) {
    const index = new VerifiedIndex(subs, signer, options);
    index.#head = await index.#readHead();
    return index;
  }

  get signer(): Signer {
    return this.#signer;
  }

  /** The record for `name@version`, or undefined when absent or its signature fails. */
  async get(name: string, version: string): Promise<VersionRecord | undefined> {
    const key = versionKey(name, version);
    const cached = this.#cache.get(key);
    if (cached) return cached;
    const record = this.#checked(
      key,
      (await this.#subs.records.get(key)) as SignedRecord | undefined,
    );
    if (record) this.#cache.set(key, record);
    return record;
  }

  /** The stored, signature-checked record with its signature, for showing to users. */
  async getSigned(name: string, version: string): Promise<SignedRecord | undefined> {
    const key = versionKey(name, version);
    const stored = (await this.#subs.records.get(key)) as SignedRecord | undefined;
    return this.#checked(key, stored) ? stored : undefined;
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
    return this.#serialise(async () => {
      const key = versionKey(record.name, record.version);
      const entry = toAuditEntry(audit, this.#head.seq + 1, this.#head.hash);
      const signed = this.#sign(record);
      const { records, audit: log, meta } = this.#subs;
      const ops: BatchOperation[] = [
        { type: 'put', sublevel: records, key, value: signed },
        { type: 'put', sublevel: log, key: seqKey(entry.seq), value: entry },
        {
          type: 'put',
          sublevel: meta,
          key: 'auditHead',
          value: { seq: entry.seq, hash: entry.hash },
        },
        ...extra.map((op) => ({
          type: 'del' as const,
          sublevel: this.#subs[op.sublevel],
          key: op.key,
        })),
      ];
      try {
        await this.#subs.batch(ops);
      } catch (err) {
        throw new VettedError('INDEX_UNAVAILABLE', `cannot store the decision for ${key}`, {
          cause: err,
        });
      }
      this.#head = { seq: entry.seq, hash: entry.hash };
      this.#cache.set(key, record);
      this.#reported.delete(key);
      return entry;
    });
  }

  /** Appends an audit entry that changes no record (integrity alerts). */
  async appendAudit(audit: AuditInput): Promise<AuditEntry> {
    return this.#serialise(async () => {
      const entry = toAuditEntry(audit, this.#head.seq + 1, this.#head.hash);
      await this.#subs.batch([
        { type: 'put', sublevel: this.#subs.audit, key: seqKey(entry.seq), value: entry },
        {
          type: 'put',
          sublevel: this.#subs.meta,
          key: 'auditHead',
          value: { seq: entry.seq, hash: entry.hash },
        },
      ]);
      this.#head = { seq: entry.seq, hash: entry.hash };
      return entry;
    });
  }

  /** Records, optionally by status, newest decision first. Skips records that fail their signature. */
  async list(
    filter: { status?: Status; name?: string; limit?: number } = {},
  ): Promise<VersionRecord[]> {
    const out: VersionRecord[] = [];
    const range = filter.name ? { gte: `${filter.name}@`, lt: `${filter.name}@\xff` } : {};
    for await (const [key, value] of this.#subs.records.iterator(range)) {
      const record = this.#checked(key, value as SignedRecord);
      if (!record) continue;
      if (filter.status && record.status !== filter.status) continue;
      out.push(record);
    }
    out.sort((a, b) => b.decidedAt.localeCompare(a.decidedAt));
    return filter.limit ? out.slice(0, filter.limit) : out;
  }

  async countByStatus(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for await (const [key, value] of this.#subs.records.iterator()) {
      const record = this.#checked(key, value as SignedRecord);
      if (record) counts[record.status] = (counts[record.status] ?? 0) + 1;
    }
    return counts;
  }

  /** Audit entries in order, from `fromSeq` (1-based). */
  async audit(
    options: { fromSeq?: number; limit?: number; name?: string } = {},
  ): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    const gte = seqKey(options.fromSeq ?? 1);
    for await (const [, entry] of this.#subs.audit.iterator({ gte })) {
      const e = entry as AuditEntry;
      if (options.name && e.name !== options.name) continue;
      out.push(e);
      if (options.limit && out.length >= options.limit) break;
    }
    return out;
  }

  async verifyAudit(): Promise<AuditVerification> {
    return verifyAuditChain(
      this.#subs.audit.iterator() as unknown as AsyncIterable<[string, AuditEntry]>,
    );
  }

  /** Forgets cached records, so the next read goes to LevelDB. */
  clearCache(): void {
    this.#cache.clear();
  }

  #sign(record: VersionRecord): SignedRecord {
    return { record, keyId: this.#signer.keyId, sig: this.#signer.sign(canonicalJson(record)) };
  }

  #checked(key: string, stored: SignedRecord | undefined): VersionRecord | undefined {
    if (!stored) return undefined;
    const ok =
      typeof stored === 'object' &&
      stored.record &&
      typeof stored.sig === 'string' &&
      versionKey(stored.record.name, stored.record.version) === key &&
      this.#signer.verify(canonicalJson(stored.record), stored.sig);
    if (ok) return stored.record;
    if (!this.#reported.has(key)) {
      this.#reported.add(key);
      this.#onTampered(key);
    }
    return undefined;
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
