import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SESSION_TTL_MS, createSessionKeeper, loadSessionSecret } from '../../src/admin/session';
import { RevokedSessions } from '../../src/admin/revoked-sessions';
import { openDatabase } from '../../src/index/database';

const user = { name: 'admin', groups: ['admin', '$authenticated'] };

describe('console sessions', () => {
  const keeper = createSessionKeeper(randomBytes(32));

  it('reads back a session it issued', () => {
    const { value } = keeper.issue(user);
    const session = keeper.read(value);
    assert.equal(session?.name, 'admin');
    assert.deepEqual(session?.groups, user.groups);
  });

  describe('when the cookie is not one it issued', () => {
    it('refuses an altered body (a user who adds the admin group)', () => {
      const { value } = keeper.issue({ name: 'bob', groups: ['bob'] });
      const [body, sig] = value.split('.');
      const claims = JSON.parse(Buffer.from(body ?? '', 'base64url').toString());
      claims.groups.push('admin');
      const forged = `${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
      assert.equal(keeper.read(forged), undefined);
    });

    it('refuses a cookie signed with another secret', () => {
      const other = createSessionKeeper(randomBytes(32));
      assert.equal(keeper.read(other.issue(user).value), undefined);
    });

    it('refuses garbage, an empty value and extra segments', () => {
      for (const value of ['', 'x', 'a.b', `${keeper.issue(user).value}.x`, undefined]) {
        assert.equal(keeper.read(value), undefined, String(value));
      }
    });
  });

  it('refuses a session past its expiry', () => {
    const now = Date.now();
    const { value } = keeper.issue(user, now);
    assert.ok(keeper.read(value, now + SESSION_TTL_MS - 1000));
    assert.equal(keeper.read(value, now + SESSION_TTL_MS + 1), undefined);
  });

  it("accepts only the session's own CSRF token", () => {
    const a = keeper.issue(user).session;
    const b = keeper.issue(user).session;
    assert.equal(keeper.checkCsrf(a, keeper.csrfToken(a)), true);
    assert.equal(keeper.checkCsrf(a, keeper.csrfToken(b)), false);
    assert.equal(keeper.checkCsrf(a, undefined), false);
    assert.equal(keeper.checkCsrf(a, ''), false);
  });

  it('keeps its secret across restarts, readable only by its owner', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'vetted-session-')), 'keys');
    const first = loadSessionSecret(dir);
    const again = loadSessionSecret(dir);
    assert.deepEqual(again, first);
    assert.equal(statSync(join(dir, 'session-secret')).mode & 0o077, 0);
    assert.equal(readFileSync(join(dir, 'session-secret'), 'utf8').length, 64);
    const value = createSessionKeeper(first).issue(user).value;
    assert.ok(createSessionKeeper(again).read(value));
  });

  it('refuses a short secret', () => {
    assert.throws(() => createSessionKeeper(randomBytes(8)), /at least 32 bytes/);
  });
});

describe('revoked console sessions', () => {
  it('keeps a logout across a reopen of the database, until the session would expire', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vetted-revoked-'));
    let now = 1_000_000;
    const clock = () => now;
    const first = await openDatabase(dir);
    const revoked = await RevokedSessions.open(first.db, clock);
    await revoked.revoke('short', now + 1_000);
    await revoked.revoke('long', now + SESSION_TTL_MS);
    await revoked.revoke('already-expired', now - 1);
    assert.equal(revoked.has('short'), true);
    assert.equal(revoked.has('long'), true);
    assert.equal(revoked.has('already-expired'), false);
    assert.equal(revoked.has('never-revoked'), false);
    await first.db.close();

    now += 2_000;
    const second = await openDatabase(dir);
    const reopened = await RevokedSessions.open(second.db, clock);
    assert.equal(reopened.has('long'), true);
    assert.equal(reopened.has('short'), false);
    assert.equal(reopened.size, 1);
    now += SESSION_TTL_MS;
    assert.equal(reopened.has('long'), false);
    await second.db.close();
  });
});
