import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, seqKey } from '../../src/index/database';
import type { Sublevels } from '../../src/index/database';
import { loadOrCreateSigner } from '../../src/index/signer';
import { VerifiedIndex } from '../../src/index/verified-index';
import type { AuditEntry, SignedRecord, VersionRecord } from '../../src/types';
import { isVettedError } from '../../src/errors';

export function sampleRecord(
  name: string,
  version: string,
  status: VersionRecord['status'] = 'verified',
): VersionRecord {
  return {
    name,
    version,
    status,
    integrity: 'sha512-AAAA',
    storedIntegrity: 'sha512-AAAA',
    size: 10,
    layers: [
      {
        layer: 'integrity',
        outcome: 'pass',
        findings: [],
        startedAt: new Date(0).toISOString(),
        durationMs: 1,
      },
    ],
    reasons: [],
    warnings: [],
    decidedBy: { kind: 'policy', name: 'standard' },
    decidedAt: new Date().toISOString(),
  };
}

describe('VerifiedIndex', () => {
  let dir: string;
  let subs: Sublevels;
  let index: VerifiedIndex;
  const tampered: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vetted-index-'));
    subs = await openDatabase(join(dir, 'index'));
    index = await VerifiedIndex.open(subs, loadOrCreateSigner(join(dir, 'keys')), {
      onTampered: (k) => tampered.push(k),
    });
  });
  after(async () => {
    await subs.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('returns a record it stored, signed', async () => {
    await index.decide(sampleRecord('a', '1.0.0'), {
      action: 'verdict',
      actor: { kind: 'policy', name: 'standard' },
      name: 'a',
      version: '1.0.0',
      status: 'verified',
    });
    assert.equal((await index.get('a', '1.0.0'))?.status, 'verified');
    const signed = await index.getSigned('a', '1.0.0');
    assert.equal(signed?.keyId, index.signer.keyId);
  });

  it('treats an edited record as absent', async () => {
    await index.decide(sampleRecord('b', '1.0.0', 'rejected'), {
      action: 'verdict',
      actor: { kind: 'policy', name: 'standard' },
      name: 'b',
      version: '1.0.0',
      status: 'rejected',
    });
    const stored = (await subs.records.get('b@1.0.0')) as SignedRecord;
    stored.record.status = 'verified';
    await subs.records.put('b@1.0.0', stored);
    index.clearCache();
    assert.equal(await index.get('b', '1.0.0'), undefined);
    assert.deepEqual(tampered, ['b@1.0.0']);
  });

  it('treats a record moved to another key as absent', async () => {
    const stored = (await subs.records.get('a@1.0.0')) as SignedRecord;
    await subs.records.put('a@9.9.9', stored);
    assert.equal(await index.get('a', '9.9.9'), undefined);
  });

  it('keeps an audit chain that verifies, and names the first edited entry', async () => {
    for (let i = 0; i < 5; i++) {
      await index.appendAudit({
        action: 'alert',
        actor: { kind: 'policy', name: 't' },
        name: 'c',
        version: `1.0.${i}`,
      });
    }
    const good = await index.verifyAudit();
    assert.equal(good.ok, true);
    assert.equal(good.entries, 7);
    const entry = (await subs.audit.get(seqKey(4))) as AuditEntry;
    entry.reason = 'rewritten';
    await subs.audit.put(seqKey(4), entry);
    const bad = await index.verifyAudit();
    assert.equal(bad.ok, false);
    assert.equal(bad.firstBroken?.seq, 4);
    assert.match(bad.firstBroken?.problem ?? '', /edited/);
  });

  it('names entries cut off the end of the chain', async () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'vetted-index-'));
    const subs2 = await openDatabase(join(dir2, 'index'));
    const index2 = await VerifiedIndex.open(subs2, loadOrCreateSigner(join(dir2, 'keys')));
    for (let i = 0; i < 4; i++) {
      await index2.appendAudit({
        action: 'alert',
        actor: { kind: 'policy', name: 't' },
        name: 'e',
        version: `1.0.${i}`,
      });
    }
    await subs2.audit.del(seqKey(4));
    await subs2.audit.del(seqKey(3));
    const bad = await index2.verifyAudit();
    assert.equal(bad.ok, false);
    assert.equal(bad.firstBroken?.seq, 3);
    assert.match(bad.firstBroken?.problem ?? '', /removed/);
    await subs2.db.close();
    rmSync(dir2, { recursive: true, force: true });
  });

  it('trusts no earlier record when the chain was cut, but trusts new decisions', async () => {
    const dir3 = mkdtempSync(join(tmpdir(), 'vetted-index-'));
    let subs3 = await openDatabase(join(dir3, 'index'));
    const signer = loadOrCreateSigner(join(dir3, 'keys'));
    let index3 = await VerifiedIndex.open(subs3, signer);
    const actor = { kind: 'policy' as const, name: 'standard' };
    const verdict = (v: string, status: 'verified' | 'revoked') =>
      index3.decide(sampleRecord('cut', v, status), {
        action: 'verdict',
        actor,
        name: 'cut',
        version: v,
        status,
      });
    await verdict('1.0.0', 'verified');
    const old = (await subs3.records.get('cut@1.0.0')) as SignedRecord;
    await verdict('1.0.0', 'revoked');
    // an attacker puts the old record back and cuts the revocation off the log
    await subs3.records.put('cut@1.0.0', old);
    await subs3.audit.del(seqKey(2));
    await subs3.db.close();
    subs3 = await openDatabase(join(dir3, 'index'));
    index3 = await VerifiedIndex.open(subs3, signer);
    assert.match(index3.compromised ?? '', /removed/);
    assert.equal(await index3.get('cut', '1.0.0'), undefined);
    await verdict('2.0.0', 'verified');
    assert.equal((await index3.get('cut', '2.0.0'))?.status, 'verified');
    await subs3.db.close();
    rmSync(dir3, { recursive: true, force: true });
  });

  it('names a removed entry', async () => {
    await subs.audit.del(seqKey(2));
    const bad = await index.verifyAudit();
    assert.equal(bad.firstBroken?.seq, 3);
    assert.match(bad.firstBroken?.problem ?? '', /removed|reordered/);
  });

  it('treats an older, validly signed record put back in place as absent', async () => {
    const actor = { kind: 'policy' as const, name: 'standard' };
    await index.decide(sampleRecord('r', '1.0.0'), {
      action: 'verdict',
      actor,
      name: 'r',
      version: '1.0.0',
      status: 'verified',
    });
    const old = (await subs.records.get('r@1.0.0')) as SignedRecord;
    await index.decide(sampleRecord('r', '1.0.0', 'revoked'), {
      action: 'revoke',
      actor,
      name: 'r',
      version: '1.0.0',
      status: 'revoked',
    });
    await subs.records.put('r@1.0.0', old);
    index.clearCache();
    assert.equal(await index.get('r', '1.0.0'), undefined);
    assert.equal(index.isTampered('r', '1.0.0'), true);
  });

  it('keeps an admin decision that landed after a job was queued', async () => {
    const admin = { kind: 'admin' as const, name: 'root' };
    const queuedAt = Date.now() - 1000;
    await index.decide(
      { ...sampleRecord('d', '1.0.0', 'denied'), decidedBy: admin },
      { action: 'deny', actor: admin, name: 'd', version: '1.0.0', status: 'denied' },
    );
    const stored = await index.decideIf(
      sampleRecord('d', '1.0.0', 'verified'),
      {
        action: 'verdict',
        actor: { kind: 'policy', name: 'standard' },
        name: 'd',
        version: '1.0.0',
        status: 'verified',
      },
      [],
      (current) =>
        !(current?.decidedBy.kind === 'admin' && Date.parse(current.decidedAt) > queuedAt),
    );
    assert.equal(stored, undefined);
    assert.equal((await index.get('d', '1.0.0'))?.status, 'denied');
  });

  it('treats a record deleted behind its audit entry as tampered', async () => {
    const actor = { kind: 'policy' as const, name: 'standard' };
    await index.decide(sampleRecord('gone', '1.0.0', 'revoked'), {
      action: 'revoke',
      actor,
      name: 'gone',
      version: '1.0.0',
      status: 'revoked',
    });
    await subs.records.del('gone@1.0.0');
    index.clearCache();
    assert.equal(await index.get('gone', '1.0.0'), undefined);
    assert.equal(index.isTampered('gone', '1.0.0'), true);
  });

  it('refuses a second process-local open with INDEX_LOCKED', async () => {
    await assert.rejects(openDatabase(join(dir, 'index')), (err) =>
      isVettedError(err, 'INDEX_LOCKED'),
    );
  });
});
