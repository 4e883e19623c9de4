/**
 * The one LevelDB of a vetted home (`<home>/index`): records, the audit chain and the job queue
 * live in sublevels of it, so a decision and the removal of its job commit in one batch.
 * Only one process may open it (LevelDB's lock); a second gets INDEX_LOCKED.
 */
import { Level } from 'level';
import type { AbstractBatchOperation } from 'abstract-level';
import { VettedError, errorCode } from '../errors';

export type Db = Level<string, unknown>;

/** A JSON-valued sublevel; readers cast values to the kind they keep. */
export type Sublevel = ReturnType<typeof makeSublevel>;

/** One operation of a cross-sublevel batch. */
export type BatchOperation =
  | { type: 'put'; sublevel: Sublevel; key: string; value: unknown }
  | { type: 'del'; sublevel: Sublevel; key: string };

export interface Sublevels {
  db: Db;
  records: Sublevel;
  audit: Sublevel;
  jobs: Sublevel;
  jobKeys: Sublevel;
  meta: Sublevel;
  /** Who published each version of a package published to vetted itself (`name@version`). */
  publishers: Sublevel;
  /** Runs operations on several sublevels atomically; `sync` waits for the disk. */
  batch(ops: BatchOperation[], options?: { sync?: boolean }): Promise<void>;
}

function makeSublevel(db: Db, name: string) {
  return db.sublevel<string, unknown>(name, { valueEncoding: 'json' });
}

/** A JSON sublevel for a part that keeps its own records (exemptions, the webhook outbox). */
export function openSublevel(db: Db, name: string): Sublevel {
  return makeSublevel(db, name);
}

/** Opens the database, mapping LevelDB's lock to a message that says what to do. */
export async function openDatabase(
  dir: string,
  options: { createIfMissing?: boolean } = {},
): Promise<Sublevels> {
  const db: Db = new Level<string, unknown>(dir, {
    valueEncoding: 'json',
    createIfMissing: options.createIfMissing ?? true,
  });
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    if (errorCode(cause) === 'LEVEL_LOCKED') {
      throw new VettedError(
        'INDEX_LOCKED',
        `the index at ${dir} is open in another process (is vetted serve running? ` +
          'use the server API, or stop it first)',
        { cause: err },
      );
    }
    throw new VettedError('INDEX_UNAVAILABLE', `cannot open the index at ${dir}`, { cause: err });
  }
  return {
    db,
    records: makeSublevel(db, 'records'),
    audit: makeSublevel(db, 'audit'),
    jobs: makeSublevel(db, 'jobs'),
    jobKeys: makeSublevel(db, 'jobkeys'),
    meta: makeSublevel(db, 'meta'),
    publishers: makeSublevel(db, 'publishers'),
    batch: (ops, options) =>
      db.batch(ops as unknown as Array<AbstractBatchOperation<Db, string, unknown>>, options ?? {}),
  };
}

/** `name@version`, the key of records and jobs. */
export function versionKey(name: string, version: string): string {
  return `${name}@${version}`;
}

/** Zero-padded sequence numbers keep LevelDB's byte order equal to numeric order. */
export function seqKey(seq: number): string {
  return seq.toString().padStart(12, '0');
}
