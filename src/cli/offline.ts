/**
 * Offline maintenance on a stopped server's home: opens the index directly. LevelDB's lock makes
 * this refuse, with a message saying so, while `vetted serve` holds the database.
 */
import { openDatabase } from '../index/database';
import { existsSync } from 'node:fs';
import { loadSigner } from '../index/signer';
import { VerifiedIndex } from '../index/verified-index';
import { homePaths } from '../vetted';
import type { AuditVerification } from '../index/audit-chain';

export async function verifyAuditOffline(home: string): Promise<AuditVerification> {
  const paths = homePaths(home);
  if (!existsSync(paths.index) || !existsSync(paths.keys)) {
    throw new Error(`${home} is not a vetted home (no index/ or keys/ in it)`);
  }
  const signer = loadSigner(paths.keys);
  const subs = await openDatabase(paths.index, { createIfMissing: false });
  try {
    const index = await VerifiedIndex.open(subs, signer);
    return await index.verifyAudit();
  } finally {
    await subs.db.close();
  }
}
