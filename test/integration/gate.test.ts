/**
 * The core path end to end on loopback: a real upstream Verdaccio with fixture packages
 * published from local git repositories, vetted in front of it, and the real npm client.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import cacache from 'cacache';
import { startVerdaccio, createUser } from '../helpers/verdaccio';
import type { RunningVerdaccio } from '../helpers/verdaccio';
import { createGitPackage, publishPackage, tamperUpstreamTarball } from '../helpers/fixtures';
import { npmEnv, runNpm } from '../helpers/npm';
import { startFaultyUpstream } from '../helpers/faulty-upstream';
import type { FaultyUpstream } from '../helpers/faulty-upstream';
import { startVetted, waitForStatus } from '../helpers/vetted';
import type { RunningVetted } from '../helpers/vetted';
import { openDatabase, seqKey } from '../../src/index/database';
import type { AuditEntry, SignedRecord } from '../../src/types';

const execFileAsync = promisify(execFile);
const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'vetted.js');

function project(registry: string): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(path.join(tmpdir(), 'vetted-project-'));
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'p', version: '1.0.0', private: true }),
  );
  return { dir, env: npmEnv(registry).env };
}

/** Waits up to 5 s for a condition on output written asynchronously (server logs). */
async function eventually(check: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what} not met within 5 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('vetted in front of a fixture upstream', { timeout: 300_000 }, () => {
  let upstream: RunningVerdaccio;
  /** Between vetted and the upstream, to make the upstream refuse. */
  let hop: FaultyUpstream;
  let vetted: RunningVetted;
  let work: string;
  let admin: string;

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'vetted-gate-'));
    upstream = await startVerdaccio({});
    const token = await createUser(upstream.url, 'alice', 'alice-password');
    const publish = async (spec: Parameters<typeof createGitPackage>[1]) =>
      publishPackage(await createGitPackage(path.join(work, 'src'), spec), upstream.url, token);
    await publish({
      name: 'vt-clean',
      version: '1.0.0',
      files: { 'index.js': 'module.exports = 1;\n' },
    });
    await publish({
      name: '@vt/scoped',
      version: '1.0.0',
      packageJson: { dependencies: { 'vt-clean': '^1.0.0' } },
    });
    await publish({
      name: 'vt-script',
      version: '1.0.0',
      packageJson: { scripts: { postinstall: 'sh -c "echo configuring"' } },
    });
    await publish({
      name: '@vt/held',
      version: '1.0.0',
      packageJson: { scripts: { install: 'sh -c "echo building"' } },
    });
    await publish({ name: 'vt-tampered', version: '1.0.0' });
    await tamperUpstreamTarball(upstream.storage, 'vt-tampered', '1.0.0');
    hop = await startFaultyUpstream(upstream.url);
    vetted = await startVetted({ upstream: hop.url, options: { waitForVerdict: 20 } });
    admin = await vetted.adminToken();
  });

  const metrics = async () => {
    const res = await fetch(`${vetted.url}/-/vetted/metrics`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(res.status, 200);
    return res.text();
  };

  after(async () => {
    await vetted?.stop();
    await hop?.close();
    await upstream?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  describe('when nothing has been served yet', () => {
    it('has no store cache hit ratio in the metrics', async () => {
      const text = await metrics();
      assert.match(text, /^# TYPE vetted_store_cache_hit_ratio gauge$/m);
      assert.doesNotMatch(text, /^vetted_store_cache_hit_ratio /m);
    });
  });

  describe('when a project installs a clean tree', () => {
    it('installs it through the gate, every package with a signed verified record', async () => {
      const p = project(`${vetted.url}/`);
      const res = await runNpm(['install', '@vt/scoped'], { cwd: p.dir, env: p.env });
      assert.equal(res.code, 0, res.stderr);
      assert.equal(
        JSON.parse(readFileSync(path.join(p.dir, 'node_modules/vt-clean/package.json'), 'utf8'))
          .version,
        '1.0.0',
      );
      for (const [name, version] of [
        ['@vt/scoped', '1.0.0'],
        ['vt-clean', '1.0.0'],
      ] as const) {
        const record = await waitForStatus(vetted, name, version);
        assert.equal(record.status, 'verified');
        assert.equal(record.signature.verified, true);
        assert.deepEqual(
          record.layers.map((l: { layer: string; outcome: string }) => `${l.layer}:${l.outcome}`),
          // a plain Verdaccio upstream keeps no publishers or signatures, and the fixtures have
          // no repository: the publisher and source layers cannot run (standard: warnings)
          [
            'integrity:pass',
            'publisher:unavailable',
            'static:pass',
            'js-signals:pass',
            'source:unavailable',
            'behaviour:pass',
          ],
        );
      }
    });

    it('reports the store cache hit ratio once tarballs were read', async () => {
      assert.match(await metrics(), /^vetted_store_cache_hit_ratio (0|1|0\.\d+)$/m);
    });

    it('verifies nothing again for a second project', async () => {
      const before = (await vetted.api('/audit?limit=10000')).body.entries.length;
      const p = project(`${vetted.url}/`);
      const res = await runNpm(['install', '@vt/scoped'], { cwd: p.dir, env: p.env });
      assert.equal(res.code, 0, res.stderr);
      assert.equal((await vetted.api('/audit?limit=10000')).body.entries.length, before);
    });

    it('reports it with `vetted status --json`, exit 0', async () => {
      const res = await cli([
        'status',
        'vt-clean@1.0.0',
        '@vt/scoped@^1',
        '--json',
        '--url',
        vetted.url,
      ]);
      assert.equal(res.code, 0, res.stderr);
      const rows = JSON.parse(res.stdout);
      assert.deepEqual(
        rows.map((r: { name: string; status: string }) => `${r.name} ${r.status}`),
        ['vt-clean verified', '@vt/scoped verified'],
      );
    });
  });

  describe('when the upstream serves a tarball that does not match its integrity', () => {
    it('rejects the version, never serves it, and raises an alert', async () => {
      const p = project(`${vetted.url}/`);
      const res = await runNpm(['install', 'vt-tampered@1.0.0'], { cwd: p.dir, env: p.env });
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /E403|403 Forbidden/);
      const record = await waitForStatus(vetted, 'vt-tampered', '1.0.0');
      assert.equal(record.status, 'rejected');
      assert.equal(record.layers[0].findings[0].code, 'INTEGRITY_MISMATCH');
      await eventually(() => /INTEGRITY ALERT/.test(vetted.output.text()));
      const direct = await fetch(`${vetted.url}/vt-tampered/-/vt-tampered-1.0.0.tgz`);
      assert.equal(direct.status, 403);
    });
  });

  describe('when a version is held', () => {
    const forms = [
      '/vt-script/-/vt-script-1.0.0.tgz',
      '/@vt/held/-/held-1.0.0.tgz',
      '/@vt%2fheld/-/held-1.0.0.tgz',
      '/@vt%2Fheld/-/held-1.0.0.tgz',
      '/%40vt%2Fheld/-/held-1.0.0.tgz',
      '/@vt/held/-/@vt/held-1.0.0.tgz',
    ];
    for (const form of forms) {
      it(`answers 403 with the reason on ${form}`, async () => {
        const res = await fetch(`${vetted.url}${form}`);
        assert.equal(res.status, 403);
        const body = (await res.json()) as {
          status: string;
          reasons: string[];
          report: string;
          error: string;
        };
        assert.equal(body.status, 'held');
        assert.match(body.reasons.join(), /SHELL_SPAWN/);
        assert.match(res.headers.get('npm-notice') ?? '', /held: SHELL_SPAWN/);
        assert.match(body.error, /held for review/);
      });
    }

    it('shows the reason in npm', async () => {
      const p = project(`${vetted.url}/`);
      const res = await runNpm(['install', 'vt-script@1.0.0'], { cwd: p.dir, env: p.env });
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /vt-script@1\.0\.0 is held for review: SHELL_SPAWN/);
    });

    it('lets an admin approve it, after which npm installs it', async () => {
      const res = await cli(['approve', 'vt-script@1.0.0', '--reason', 'postinstall reviewed'], {
        VETTED_URL: vetted.url,
        VETTED_TOKEN: admin,
      });
      assert.equal(res.code, 0, res.stderr + res.stdout);
      const p = project(`${vetted.url}/`);
      const install = await runNpm(['install', 'vt-script@1.0.0'], { cwd: p.dir, env: p.env });
      assert.equal(install.code, 0, install.stderr);
    });

    it('blocks the next request at once after a revoke', async () => {
      const res = await vetted.api('/versions/vt-script/1.0.0/revoke', {
        token: admin,
        body: { reason: 'maintainer compromised' },
      });
      assert.equal(res.status, 200);
      const tarball = await fetch(`${vetted.url}/vt-script/-/vt-script-1.0.0.tgz`);
      assert.equal(tarball.status, 403);
      assert.match(
        tarball.headers.get('npm-notice') ?? '',
        /revoked: admin: maintainer compromised/,
      );
      // `vetted status` says why and who, as the README sends yarn, pnpm and bun users there
      const status = await cli(['status', 'vt-script@1.0.0', '--url', vetted.url]);
      assert.match(status.stdout, /revoked by admin at \S+: maintainer compromised/);
    });

    it('points to reverify when asked to approve a version denied before it was verified', async () => {
      const body = { reason: 'known bad release' };
      const denied = await vetted.api('/versions/vt-clean/0.0.1/deny', { token: admin, body });
      assert.equal(denied.status, 200);
      const res = await cli(['approve', 'vt-clean@0.0.1', '--reason', 'changed our minds'], {
        VETTED_URL: vetted.url,
        VETTED_TOKEN: admin,
      });
      assert.notEqual(res.code, 0);
      assert.match(
        res.stderr + res.stdout,
        /vt-clean@0\.0\.1 has no verified bytes to serve .*run `vetted reverify vt-clean@0\.0\.1`/,
      );
    });

    it('refuses decisions from anonymous and non-admin users and cross-site requests', async () => {
      const bob = await vetted.userToken('bob');
      const body = { reason: 'looks fine to me' };
      assert.equal((await vetted.api('/versions/@vt%2fheld/1.0.0/approve', { body })).status, 401);
      const asBob = await vetted.api('/versions/@vt%2fheld/1.0.0/approve', { token: bob, body });
      assert.equal(asBob.status, 403);
      assert.equal(asBob.body.code, 'FORBIDDEN');
      const forged = await vetted.api('/versions/@vt%2fheld/1.0.0/approve', {
        token: admin,
        body,
        headers: { origin: 'https://evil.example' },
      });
      assert.equal(forged.status, 403);
      const form = await vetted.api('/versions/@vt%2fheld/1.0.0/approve', {
        token: admin,
        body: 'reason=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(form.status, 400);
      assert.equal((await vetted.api('/versions/@vt%2fheld/1.0.0')).body.status, 'held');
    });
  });

  describe('when requests are malformed or hostile', () => {
    const bad = [
      '/..%2f..%2fetc/-/passwd-1.0.0.tgz',
      '/%2e%2e/-/%2e%2e-1.0.0.tgz',
      '/vt-clean/-/vt-clean-1.0.0%zz.tgz',
      '/vt-clean/-/vt-clean-notaversion.tgz',
      '/vt-clean/-/other-1.0.0.tgz',
      '/vt-clean/-/vt-clean-1.0.0.tgz/',
      `/${'a'.repeat(3000)}/-/a-1.0.0.tgz`,
      '/__proto__/-/__proto__-1.0.0.tgz',
      '/@VT/held/-/held-1.0.0.tgz',
    ];
    for (const url of bad) {
      it(`answers 4xx for ${url.slice(0, 60)}`, async () => {
        const res = await fetch(`${vetted.url}${url}`);
        assert.ok(res.status >= 400 && res.status < 500, `${res.status}`);
      });
    }
    it('refuses a decision on a range, a tag, a loose version or a name npm refuses', async () => {
      const auditBefore = (await vetted.api('/audit?limit=10000')).body.entries.length;
      const cases: Array<[string, RegExp]> = [
        ['vt-clean/%5E1', /"\^1" is not an exact version/],
        ['vt-clean/latest', /"latest" is not an exact version/],
        ['vt-clean/v1.0.0', /use 1\.0\.0/],
        ['__proto__/1.0.0', /"__proto__" is not a valid package name/],
        ['@VT%2fheld/1.0.0', /is not a valid package name/],
      ];
      for (const [target, message] of cases) {
        const res = await vetted.api(`/versions/${target}/deny`, {
          token: admin,
          body: { reason: 'block it' },
        });
        assert.equal(res.status, 400, `${target}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'SPEC_INVALID');
        assert.match(res.body.error, message);
      }
      const auditAfter = (await vetted.api('/audit?limit=10000')).body.entries.length;
      assert.equal(auditAfter, auditBefore, 'a refused decision reached the audit log');
    });
    it('answers 404 for a version the upstream does not have', async () => {
      const res = await fetch(`${vetted.url}/vt-clean/-/vt-clean-9.9.9.tgz`);
      assert.equal(res.status, 404);
    });
    it('answers 404, not an outage, when the upstream refuses the package with a 403', async () => {
      await hop.setMode('forbidden', 'packument');
      try {
        const res = await fetch(`${vetted.url}/vt-refused/-/vt-refused-1.0.0.tgz`);
        const body = (await res.json()) as { error: string };
        assert.equal(res.status, 404, body.error);
        assert.match(body.error, /not available from the upstream registry/);
      } finally {
        await hop.setMode('pass');
      }
      assert.equal((await vetted.api('/queue')).body.jobs.length, 0);
    });
    it('stays up', async () => {
      assert.equal((await vetted.api('/health')).status, 200);
    });
  });

  describe('when stored state is edited behind vetted', () => {
    it('does not serve a tarball edited on disk after verification', async () => {
      const info = await cacache.get.info(path.join(vetted.home, 'tarballs'), 'vt-clean@1.0.0');
      assert.ok(info, 'the store has vt-clean@1.0.0');
      const bytes = readFileSync(info.path);
      bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
      writeFileSync(info.path, bytes);
      const res = await fetch(`${vetted.url}/vt-clean/-/vt-clean-1.0.0.tgz`).catch(
        (err: Error) => err,
      );
      // either an error status, or a 200 whose stream is cut before the last chunk
      const body =
        res instanceof Error ? undefined : await res.arrayBuffer().catch(() => undefined);
      const served =
        !(res instanceof Error) &&
        res.status === 200 &&
        body !== undefined &&
        body.byteLength === bytes.length;
      assert.equal(served, false, 'edited bytes were served whole');
      await eventually(() => /STORE ALERT/.test(vetted.output.text()));
      // the verdict still stands, but every report says it cannot be served until re-verified
      assert.equal((await vetted.api('/versions/vt-clean/1.0.0')).body.storeDamaged, true);
      const tree = await vetted.api('/tree', {
        token: admin,
        body: { nodes: [{ name: 'vt-clean', version: '1.0.0' }], queue: false },
      });
      assert.equal(tree.body.results[0].status, 'held', JSON.stringify(tree.body));
      assert.match(tree.body.results[0].reasons[0], /stored verified bytes fail their check/);
      const status = await cli(['status', 'vt-clean@1.0.0', '--url', vetted.url]);
      assert.equal(status.code, 2);
      assert.match(status.stdout, /NOT SERVABLE: .*vetted reverify vt-clean@1\.0\.0/);

      // re-verifying (the remedy the 503 names) puts the upstream's bytes in place of the copy
      bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
      const again = await vetted.api('/versions/vt-clean/1.0.0/reverify', {
        token: admin,
        body: { reason: 'the stored file was damaged' },
      });
      assert.equal(again.status, 200);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const after = await fetch(`${vetted.url}/vt-clean/-/vt-clean-1.0.0.tgz`);
        const got = Buffer.from(await after.arrayBuffer());
        if (after.status === 200) {
          assert.ok(got.equals(bytes), 'served bytes differ from the original tarball');
          break;
        }
        assert.ok(Date.now() < deadline, `still ${after.status} after re-verifying`);
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(readFileSync(info.path).equals(bytes), 'the damaged copy is still on disk');

      // damaged again after the re-verification: a new alert in the audit log, not a repeat
      const again2 = Buffer.from(bytes);
      again2[again2.length - 10] = (again2[again2.length - 10] ?? 0) ^ 0xff;
      writeFileSync(info.path, again2);
      const refused = await fetch(`${vetted.url}/vt-clean/-/vt-clean-1.0.0.tgz`);
      await refused.arrayBuffer().catch(() => undefined);
      assert.notEqual(refused.status, 200);
      const alerts = async () =>
        (
          (await vetted.api('/audit?limit=10000')).body.entries as Array<Record<string, unknown>>
        ).filter((e) => e.action === 'alert' && e.name === 'vt-clean' && e.version === '1.0.0')
          .length;
      const deadline2 = Date.now() + 10_000;
      while ((await alerts()) < 2 && Date.now() < deadline2) {
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(await alerts(), 2);
    });

    it('keeps a revocation when an older signed record is put back', async () => {
      const token = admin;
      const before = (await vetted.api('/versions/@vt%2fscoped/1.0.0')).body;
      assert.equal(before.status, 'verified');
      await vetted.kill();
      let subs = await openDatabase(path.join(vetted.home, 'index'));
      const old = (await subs.records.get('@vt/scoped@1.0.0')) as SignedRecord;
      await subs.db.close();
      vetted = await startVetted({ upstream: upstream.url, home: vetted.home, port: vetted.port });
      const revoked = await vetted.api('/versions/@vt%2fscoped/1.0.0/revoke', {
        token,
        body: { reason: 'bad release' },
      });
      assert.equal(revoked.status, 200);
      await vetted.kill();
      subs = await openDatabase(path.join(vetted.home, 'index'));
      await subs.records.put('@vt/scoped@1.0.0', old);
      await subs.db.close();
      vetted = await startVetted({ upstream: upstream.url, home: vetted.home, port: vetted.port });
      const res = await fetch(`${vetted.url}/@vt/scoped/-/scoped-1.0.0.tgz`);
      assert.equal(res.status, 403);
    });

    it('treats an edited index record as absent and names a broken audit entry', async () => {
      await vetted.kill();
      const subs = await openDatabase(path.join(vetted.home, 'index'));
      const stored = (await subs.records.get('vt-tampered@1.0.0')) as SignedRecord;
      stored.record.status = 'verified';
      await subs.records.put('vt-tampered@1.0.0', stored);
      const entry = (await subs.audit.get(seqKey(3))) as AuditEntry;
      entry.reason = 'history rewritten';
      await subs.audit.put(seqKey(3), entry);
      await subs.db.close();

      const audit = await cli(['audit', 'verify', '--home', vetted.home, '--json']);
      assert.equal(audit.code, 2);
      assert.equal(JSON.parse(audit.stdout).firstBroken.seq, 3);

      vetted = await startVetted({
        upstream: upstream.url,
        home: vetted.home,
        port: vetted.port,
        options: { waitForVerdict: 20 },
      });
      const res = await fetch(`${vetted.url}/vt-tampered/-/vt-tampered-1.0.0.tgz`);
      assert.equal(res.status, 403);
      const body = (await res.json()) as { status: string; reasons: string[] };
      assert.equal(body.status, 'held');
      assert.match(body.reasons[0] ?? '', /failed its signature check/);
      await eventually(() => /fails its signature/.test(vetted.output.text()));
      await eventually(() => /AUDIT ALERT/.test(vetted.output.text()));
      // not re-verified on its own: an erased revocation must not come back as a fresh verdict
      assert.equal((await vetted.api('/queue')).body.jobs.length, 0);

      admin = await vetted.adminToken();
      const again = await vetted.api('/versions/vt-tampered/1.0.0/reverify', {
        token: admin,
        body: { reason: 'record was edited on disk' },
      });
      assert.equal(again.status, 200);
      assert.equal((await waitForStatus(vetted, 'vt-tampered', '1.0.0')).status, 'rejected');
    });
  });
});
