import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/index/database';
import type { Sublevels } from '../../src/index/database';
import { loadOrCreateSigner } from '../../src/index/signer';
import { VerifiedIndex } from '../../src/index/verified-index';
import { JobQueue } from '../../src/queue/job-queue';
import { Exemptions } from '../../src/admin/exemptions';
import { approveLockfile, approveWithScope, lockfileNodes } from '../../src/admin/scoped-approval';
import type { Vetted } from '../../src/vetted';
import type { VersionRecord } from '../../src/types';

const ADMIN = { kind: 'admin' as const, name: 'root' };

function sampleRecord(
  name: string,
  version: string,
  status: VersionRecord['status'],
): VersionRecord {
  return {
    name,
    version,
    status,
    integrity: 'sha512-AAAA',
    storedIntegrity: 'sha512-AAAA',
    layers: [],
    reasons: [],
    warnings: [],
    decidedBy: { kind: 'policy', name: 'standard' },
    decidedAt: new Date().toISOString(),
  };
}

function verdict(record: VersionRecord) {
  return {
    record,
    audit: {
      action: 'verdict' as const,
      actor: record.decidedBy,
      name: record.name,
      version: record.version,
      status: record.status,
      reason: 'SHELL_SPAWN: postinstall: ran sh',
    },
  };
}

describe('exemptions and scoped approvals', () => {
  let dir: string;
  let subs: Sublevels;
  let index: VerifiedIndex;
  let exemptions: Exemptions;
  let vetted: Vetted;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vetted-exempt-'));
    subs = await openDatabase(join(dir, 'index'));
    index = await VerifiedIndex.open(subs, loadOrCreateSigner(join(dir, 'keys')));
    exemptions = await Exemptions.open(subs.db, index);
    // a real queue, never started: only its bookkeeping is used
    const queue = await JobQueue.open(
      subs,
      index,
      () => Promise.reject(new Error('not run')),
      () => ({ notFound: true }),
      { workers: 1, jobTimeoutMs: 1000 },
    );
    vetted = { index, queue, exemptions } as unknown as Vetted;
  });
  after(async () => {
    await subs.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('when a package is exempted for a time', () => {
    it('approves what is held now and admits later held verdicts', async () => {
      const held = { ...sampleRecord('pkg-a', '1.0.0', 'held'), reasons: ['SHELL_SPAWN: x'] };
      await index.decide(held, verdict(held).audit);
      const result = await approveWithScope(
        vetted,
        { scope: 'package', name: 'pkg-a', version: '1.0.0', hours: 2 },
        ADMIN,
        'vendor build step, reviewed',
      );
      assert.deepEqual(
        result.versions.map((v) => [v.version, v.result]),
        [['1.0.0', 'approved']],
      );
      assert.equal((await index.get('pkg-a', '1.0.0'))?.status, 'approved');

      const later = exemptions.apply(verdict(sampleRecord('pkg-a', '1.1.0', 'held')));
      assert.ok('record' in later);
      assert.equal(later.record.status, 'approved');
      assert.equal(later.record.policyStatus, 'held');
      assert.equal(later.record.decidedBy.name, 'root');
      assert.equal(later.audit.action, 'approve');
      assert.match(later.record.reason ?? '', /^package exemption until .*: vendor build step/);
    });

    it('does not lift a rejection, another package, or a version with no bytes', () => {
      const rejected = exemptions.apply(verdict(sampleRecord('pkg-a', '1.2.0', 'rejected')));
      assert.ok('record' in rejected && rejected.record.status === 'rejected');
      const other = exemptions.apply(verdict(sampleRecord('pkg-b', '1.0.0', 'held')));
      assert.ok('record' in other && other.record.status === 'held');
      const noBytes = { ...sampleRecord('pkg-a', '1.3.0', 'held'), storedIntegrity: undefined };
      const kept = exemptions.apply(verdict(noBytes));
      assert.ok('record' in kept && kept.record.status === 'held');
    });

    it('stops applying after its expiry', () => {
      const soon = Date.now() + 3 * 3600 * 1000;
      assert.ok(exemptions.match('pkg-a', '9.9.9'));
      assert.equal(exemptions.match('pkg-a', '9.9.9', soon), undefined);
    });

    it('refuses an exemption longer than 90 days', async () => {
      await assert.rejects(
        approveWithScope(
          vetted,
          { scope: 'package', name: 'pkg-a', version: '1.0.0', hours: 24 * 91 },
          ADMIN,
          'too long',
        ),
        /between 1 hour and 90 days/,
      );
    });
  });

  describe('when a lockfile tree is approved', () => {
    const lock = JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'app', version: '1.0.0' },
        'node_modules/tree-a': { version: '2.0.0' },
        'node_modules/tree-a/node_modules/@s/tree-b': { version: '3.0.0' },
        'node_modules/local': { link: true },
        'node_modules/from-git': { version: 'git+https://example.invalid/x.git' },
        // what `vetted check` refuses is not exempted either
        'node_modules/__proto__': { version: '1.0.0' },
        'node_modules/from-file': { version: '1.0.0', resolved: 'file:../evil' },
        'node_modules/swapped': {
          version: '1.0.0',
          resolved: 'https://registry.npmjs.org/other/-/other-9.9.9.tgz',
        },
      },
    });

    it('reads registry nodes of v3 and v1 lockfiles', () => {
      assert.deepEqual(lockfileNodes(lock), [
        { name: 'tree-a', version: '2.0.0' },
        { name: '@s/tree-b', version: '3.0.0' },
      ]);
      const v1 = {
        dependencies: { x: { version: '1.0.0', dependencies: { y: { version: '2.0.0' } } } },
      };
      assert.deepEqual(
        lockfileNodes(JSON.stringify(v1)).map((n) => `${n.name}@${n.version}`),
        ['x@1.0.0', 'y@2.0.0'],
      );
      assert.throws(() => lockfileNodes('{"name":"x"}'), /not a package-lock.json/);
      assert.throws(() => lockfileNodes('not json'), /not valid JSON/);
    });

    it('approves the held node, exempts the unverified one, and logs each', async () => {
      const held = sampleRecord('tree-a', '2.0.0', 'held');
      await index.decide(held, verdict(held).audit);
      const result = await approveLockfile(vetted, lock, 24, ADMIN, 'release 4.2 tree reviewed');
      assert.deepEqual(
        result.versions.map((v) => `${v.name}@${v.version} ${v.result}`),
        ['tree-a@2.0.0 approved', '@s/tree-b@3.0.0 exempted'],
      );
      assert.equal(result.exemptions.length, 2);
      const later = exemptions.apply(verdict(sampleRecord('@s/tree-b', '3.0.0', 'held')));
      assert.ok('record' in later && later.record.status === 'approved');
      const notInLock = exemptions.apply(verdict(sampleRecord('@s/tree-b', '3.0.1', 'held')));
      assert.ok('record' in notInLock && notInLock.record.status === 'held');

      const audit = await index.audit({ name: '@s/tree-b' });
      assert.equal(audit.at(-1)?.action, 'exempt');
      assert.match(audit.at(-1)?.reason ?? '', /^lockfile exemption until .*: release 4\.2/);
      assert.equal((await index.verifyAudit()).ok, true);
    });

    it('keeps exemptions across a reopen', async () => {
      const reopened = await Exemptions.open(subs.db, index);
      assert.ok(reopened.match('@s/tree-b', '3.0.0'));
      assert.ok(reopened.match('pkg-a', '5.0.0'));
    });
  });
});
