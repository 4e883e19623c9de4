/**
 * Lookup latency of the verified index (src/index/verified-index.ts) at scale, in this process:
 * load N signed records with their audit chain in batches, reopen the database and the index
 * (as after a restart, timing `VerifiedIndex.open()`), then time `get()` for random keys, cold
 * (LRU cleared before each lookup: LevelDB, JSON decode, Ed25519 verification) and warm (a hot
 * set that fits in the LRU).
 *
 * NOTE: records are written in unsynced batches of 1000 rather than through `decide()`, which
 * commits and syncs one batch per decision. So this file repeats what `decideIf()` stores: the
 * record bound to its audit entry (`auditSeq`) and signed over canonical JSON, the audit entry,
 * and the signed audit head. If the index changes that form, the check after loading fails the
 * run with a message that says so; update `load()` below to match.
 */
import path from 'node:path';
import { canonicalJson } from '../src/index/canonical';
import { GENESIS, toAuditEntry } from '../src/index/audit-chain';
import { openDatabase, seqKey, versionKey } from '../src/index/database';
import type { BatchOperation, Sublevels } from '../src/index/database';
import { loadOrCreateSigner } from '../src/index/signer';
import type { Signer } from '../src/index/signer';
import { VerifiedIndex } from '../src/index/verified-index';
import { makeRecord, seededRandom } from './records';
import { summarise } from './stats';
import type { LatencySummary } from './stats';

export interface LookupSettings {
  records: number;
  lookups: number;
  /** Keys in the warm set; must fit in the LRU (`cacheMax`). */
  hotSet: number;
  cacheMax: number;
  progress: (line: string) => void;
}

export interface LookupStats extends LatencySummary {
  /** Sequential lookups per second of lookup time (one await at a time). */
  opsPerS: number;
}

export interface LookupResult {
  records: number;
  lookups: number;
  loadS: number;
  /** `VerifiedIndex.open()` on the loaded database: reads the audit log and every record. */
  openMs: number;
  /** Mean size of a stored signed record, as JSON. */
  recordBytes: number;
  cold: LookupStats;
  warm: LookupStats;
}

const BATCH = 1000;
const WARMUP_LOOKUPS = 2000;

/** Runs the lookup benchmark in `dir` (an empty temp dir). */
export async function runIndexLookup(dir: string, settings: LookupSettings): Promise<LookupResult> {
  const signer = loadOrCreateSigner(path.join(dir, 'keys'));
  const dbDir = path.join(dir, 'index');
  const { keys, loadS, recordBytes } = await load(dbDir, signer, settings.records);
  settings.progress(`index: wrote ${keys.length} records in ${loadS.toFixed(1)} s, reopening`);

  const subs = await openDatabase(dbDir);
  try {
    let tampered = 0;
    const opening = performance.now();
    const index = await VerifiedIndex.open(subs, signer, {
      cacheMax: settings.cacheMax,
      onTampered: () => tampered++,
    });
    const openMs = performance.now() - opening;
    settings.progress(`index: VerifiedIndex.open() took ${openMs.toFixed(0)} ms`);
    await checkLoaded(index, keys);
    const random = seededRandom(42);
    const pick = (n: number) => keys[Math.floor(random() * n)] as [string, string];

    await timeLookups(index, WARMUP_LOOKUPS, () => pick(keys.length), true);
    const cold = await timeLookups(index, settings.lookups, () => pick(keys.length), true);
    settings.progress(`index: cold p50 ${cold.p50.toFixed(3)} ms p99 ${cold.p99.toFixed(3)} ms`);

    index.clearCache();
    const hot = Math.min(settings.hotSet, keys.length);
    for (let i = 0; i < hot; i++) await index.get(...(keys[i] as [string, string]));
    const warm = await timeLookups(index, settings.lookups, () => pick(hot), false);
    settings.progress(`index: warm p50 ${warm.p50.toFixed(4)} ms p99 ${warm.p99.toFixed(4)} ms`);
    if (tampered > 0)
      throw new Error(`${tampered} records failed their signature; the signed form drifted`);
    return {
      records: keys.length,
      lookups: settings.lookups,
      loadS,
      openMs,
      recordBytes,
      cold,
      warm,
    };
  } finally {
    await subs.db.close();
  }
}

/** Writes records and their audit entries in batches, then closes the database. */
async function load(
  dbDir: string,
  signer: Signer,
  count: number,
): Promise<{ keys: Array<[string, string]>; loadS: number; recordBytes: number }> {
  const subs: Sublevels = await openDatabase(dbDir);
  const keys: Array<[string, string]> = [];
  const start = performance.now();
  let head = { seq: 0, hash: GENESIS };
  let bytes = 0;
  try {
    for (let from = 0; from < count; from += BATCH) {
      const ops: BatchOperation[] = [];
      const at = new Date(Date.UTC(2026, 0, 1) + from * 1000);
      for (let i = from; i < Math.min(count, from + BATCH); i++) {
        const decided = makeRecord(i, at);
        const entry = toAuditEntry(
          {
            action: 'verdict',
            actor: decided.decidedBy,
            name: decided.name,
            version: decided.version,
            status: decided.status,
            reason: decided.reasons[0],
            at: decided.decidedAt,
          },
          head.seq + 1,
          head.hash,
        );
        head = { seq: entry.seq, hash: entry.hash };
        const record = { ...decided, auditSeq: entry.seq };
        const signed = { record, keyId: signer.keyId, sig: signer.sign(canonicalJson(record)) };
        bytes += JSON.stringify(signed).length;
        const key = versionKey(record.name, record.version);
        ops.push({ type: 'put', sublevel: subs.records, key, value: signed });
        ops.push({ type: 'put', sublevel: subs.audit, key: seqKey(entry.seq), value: entry });
        keys.push([record.name, record.version]);
      }
      const signedHead = { ...head, sig: signer.sign(`${head.seq}:${head.hash}`) };
      ops.push({ type: 'put', sublevel: subs.meta, key: 'auditHead', value: signedHead });
      await subs.batch(ops);
    }
  } finally {
    await subs.db.close();
  }
  if (new Set(keys.map(([n, v]) => versionKey(n, v))).size !== keys.length) {
    throw new Error('the synthetic records have duplicate keys');
  }
  return { keys, loadS: (performance.now() - start) / 1000, recordBytes: bytes / count };
}

/** Fails the run when the bench's records do not pass the index's checks. */
async function checkLoaded(index: VerifiedIndex, keys: Array<[string, string]>): Promise<void> {
  const sample = [keys[0], keys[Math.floor(keys.length / 2)], keys[keys.length - 1]];
  const missing = [];
  for (const key of sample) if (key && !(await index.get(...key))) missing.push(key.join('@'));
  const audit = await index.verifyAudit();
  if (missing.length > 0 || !audit.ok) {
    throw new Error(
      `the records this bench wrote do not pass VerifiedIndex's checks (${missing.join(', ')}` +
        `${audit.ok ? '' : ` audit: ${audit.firstBroken?.problem}`}); the stored form in ` +
        'src/index/verified-index.ts changed: update load() in bench/index-lookup.ts',
    );
  }
  index.clearCache();
}

async function timeLookups(
  index: VerifiedIndex,
  n: number,
  next: () => [string, string],
  cold: boolean,
): Promise<LookupStats> {
  const durations = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const [name, version] = next();
    // clearing is outside the timed span: it costs O(cacheMax), not part of a lookup
    if (cold) index.clearCache();
    const t0 = performance.now();
    const record = await index.get(name, version);
    durations[i] = performance.now() - t0;
    if (!record) throw new Error(`index lookup of ${name}@${version} found nothing`);
  }
  let total = 0;
  for (const d of durations) total += d;
  return { ...summarise(durations), opsPerS: n / (total / 1000) };
}
