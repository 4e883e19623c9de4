/**
 * Offline maintenance on a stopped server's home: opens the index directly. LevelDB's lock makes
 * this refuse, with a message saying so, while `vetted serve` holds the database.
 */
import { openDatabase } from '../index/database';
import { loadOrCreateSigner } from '../index/signer';
import { VerifiedIndex } from '../index/verified-index';
import { homePaths } from '../vetted';
import type { AuditVerification } from '../index/audit-chain';

export async function verifyAuditOffline(home: string): Promise<AuditVerification> {
  const paths = homePaths(home);
  const subs = await openDatabase(paths.index);
  try {
    const index = await VerifiedIndex.open(subs, loadOrCreateSigner(paths.keys));
    return await index.verifyAudit();
  } finally {
    await subs.db.close();
  }
}
