/**
 * Fail-closed start, Verdaccio's access rules on tarballs, refusing before verifying, and junk
 * versions that must cost neither a job nor an upstream tarball fetch.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startVerdaccio, createUser } from '../helpers/verdaccio';
import type { RunningVerdaccio } from '../helpers/verdaccio';
import { createGitPackage, publishPackage } from '../helpers/fixtures';
import { startVetted, waitForStatus } from '../helpers/vetted';
import type { RunningVetted } from '../helpers/vetted';

describe('vetted hardening', { timeout: 240_000 }, () => {
  let upstream: RunningVerdaccio;
  let work: string;
  const running: RunningVetted[] = [];

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'vetted-hard-'));
    upstream = await startVerdaccio({});
    const token = await createUser(upstream.url, 'alice', 'alice-password');
    for (const name of ['vt-open', 'vt-private', 'vt-doomed']) {
      const dir = await createGitPackage(path.join(work, 'src'), { name, version: '1.0.0' });
      await publishPackage(dir, upstream.url, token);
    }
  });
  after(async () => {
    for (const v of running) await v.stop();
    await upstream?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  describe('when the configuration is wrong', () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['a mistyped value', { waitForVerdict: 'abc' }, /middlewares\.vetted\.waitForVerdict/],
      [
        'an unknown option',
        { waitForVerdit: 10 },
        /middlewares\.vetted\.waitForVerdit: unknown option/,
      ],
      [
        'an unknown preset',
        { policy: 'stricct' },
        /middlewares\.vetted\.policy: .*standard or strict/,
      ],
      [
        'a webhook that is not http(s)',
        { webhook: { url: 'file:///etc/passwd' } },
        /middlewares\.vetted\.webhook\.url: the webhook must be an http:\/\/ or https:\/\/ URL/,
      ],
      [
        'a missing policy file',
        { policy: './nope.yaml' },
        /middlewares\.vetted\.policy: cannot read/,
      ],
    ];
    for (const [label, options, message] of cases) {
      it(`refuses to start on ${label}, naming the option`, async () => {
        await assert.rejects(startVetted({ upstream: upstream.url, options }), message);
      });
    }
    it('refuses to start when the plugins folder has no vetted plugin', async () => {
      await assert.rejects(
        startVetted({ upstream: upstream.url, configPatch: (c) => (c.plugins = work) }),
        /has no verdaccio-vetted/,
      );
    });
  });

  describe('when the home is in use', () => {
    it('refuses to start a second server on it', async () => {
      const first = await startVetted({ upstream: upstream.url });
      running.push(first);
      await assert.rejects(
        startVetted({ upstream: upstream.url, home: first.home }),
        /the index at .* is open in another process/,
      );
      assert.equal((await first.api('/health')).status, 200);
    });
  });

  describe('when packages need a login', () => {
    it('applies Verdaccio access rules to tarballs', async () => {
      const v = await startVetted({
        upstream: upstream.url,
        configPatch: (c) => {
          for (const rule of Object.values(c.packages as Record<string, { access: string }>)) {
            rule.access = '$authenticated';
          }
        },
      });
      running.push(v);
      const url = `${v.url}/vt-private/-/vt-private-1.0.0.tgz`;
      assert.equal((await fetch(url)).status, 401);
      assert.equal((await v.api('/queue')).body.code, 'AUTH_REQUIRED');
      const token = await v.adminToken();
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
    });
  });

  describe('with the default rules', () => {
    let v: RunningVetted;
    before(async () => {
      // credentials in the upstream URL, which must never be shown
      const withCreds = upstream.url.replace('http://', 'http://alice:alice-password@');
      v = await startVetted({ upstream: withCreds, options: { waitForVerdict: 20 } });
      running.push(v);
    });

    it('lets an admin deny a version vetted has never seen', async () => {
      const admin = await v.adminToken();
      const res = await v.api('/versions/vt-doomed/1.0.0/deny', {
        token: admin,
        body: { reason: 'known bad release' },
      });
      assert.equal(res.status, 200);
      const tarball = await fetch(`${v.url}/vt-doomed/-/vt-doomed-1.0.0.tgz`);
      assert.equal(tarball.status, 403);
      assert.match(tarball.headers.get('npm-notice') ?? '', /denied: admin: known bad release/);
      assert.equal((await v.api('/queue')).body.jobs.length, 0);
    });

    it('answers 404 for versions the upstream does not have, queueing nothing', async () => {
      const junk = ['9.9.9', '1.0.1', '2.0.0-junk.1'];
      for (const version of junk) {
        const res = await fetch(`${v.url}/vt-open/-/vt-open-${version}.tgz`);
        assert.equal(res.status, 404, version);
      }
      assert.equal((await v.api('/queue')).body.jobs.length, 0);
      const audit = (await v.api('/audit?limit=1000')).body.entries as Array<{ version: string }>;
      assert.ok(!audit.some((e) => junk.includes(e.version)));
      const real = await fetch(`${v.url}/vt-open/-/vt-open-1.0.0.tgz`);
      assert.equal(real.status, 200);
      assert.equal((await waitForStatus(v, 'vt-open', '1.0.0')).status, 'verified');
    });

    it('refuses build metadata and padded versions in tarball names', async () => {
      for (const file of ['vt-open-1.0.0+junk.tgz', 'vt-open-1.0.0%20.tgz', 'vt-open-01.0.0.tgz']) {
        assert.equal((await fetch(`${v.url}/vt-open/-/${file}`)).status, 400, file);
      }
    });

    it('keeps credentials in the upstream URL out of the API and the log', async () => {
      const health = (await v.api('/health')).body;
      assert.match(String(health.upstream), /^http:\/\/\*\*\*@127\.0\.0\.1/);
      assert.ok(!v.output.text().includes('alice-password'));
    });

    it('queues nothing it cannot confirm while the upstream is down (runs last)', async () => {
      await upstream.stop();
      const res = await fetch(`${v.url}/vt-never-seen/-/vt-never-seen-1.0.0.tgz`);
      assert.equal(res.status, 503);
      assert.match(
        ((await res.json()) as { error: string }).error,
        /upstream registry does not answer/,
      );
      assert.equal((await v.api('/queue')).body.jobs.length, 0);
    });
  });
});
