/**
 * SIGKILL while verification jobs run: after each restart the queue picks up where it was, every
 * job ends with exactly one verdict, and decisions made before the kill are still there.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startVerdaccio, createUser } from '../helpers/verdaccio';
import type { RunningVerdaccio } from '../helpers/verdaccio';
import { bumpVersion, createGitPackage, publishPackage } from '../helpers/fixtures';
import { startVetted, waitForStatus } from '../helpers/vetted';
import type { RunningVetted } from '../helpers/vetted';
import { freePort } from '../helpers/ports';

const VERSIONS = ['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4', '1.0.5', '1.0.6', '1.0.7'];

/** A loopback hop that delays every upstream response, so jobs are still running when killed. */
async function slowProxy(target: string, delayMs: number): Promise<{ url: string; close(): void }> {
  const port = await freePort();
  const server = http.createServer((req, res) => {
    setTimeout(() => {
      const upstream = http.request(
        new URL(req.url ?? '/', target),
        { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    }, delayMs);
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${port}/`, close: () => server.close() };
}

describe('vetted killed with SIGKILL while jobs run', { timeout: 300_000 }, () => {
  let upstream: RunningVerdaccio;
  let proxy: { url: string; close(): void };
  let vetted: RunningVetted;
  let work: string;

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'vetted-crash-'));
    upstream = await startVerdaccio({});
    const token = await createUser(upstream.url, 'alice', 'alice-password');
    const dir = await createGitPackage(path.join(work, 'src'), {
      name: 'vt-many',
      version: VERSIONS[0] as string,
    });
    await publishPackage(dir, upstream.url, token);
    for (const v of VERSIONS.slice(1)) {
      await bumpVersion(dir, v, { [`v${v}.js`]: `module.exports = '${v}';\n` });
      await publishPackage(dir, upstream.url, token);
    }
    await publishPackage(
      await createGitPackage(path.join(work, 'src'), { name: 'vt-race', version: '1.0.0' }),
      upstream.url,
      token,
    );
    await publishPackage(
      await createGitPackage(path.join(work, 'src'), { name: 'vt-keep', version: '1.0.0' }),
      upstream.url,
      token,
    );
    proxy = await slowProxy(upstream.url, 150);
  });

  after(async () => {
    await vetted?.stop();
    proxy?.close();
    await upstream?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('loses no job and no decision over repeated kills', async () => {
    const options = { workers: 1, waitForVerdict: 0 };
    vetted = await startVetted({ upstream: proxy.url, options });
    const { home, port } = vetted;
    let admin = await vetted.adminToken();

    // a decision made before any kill
    await vetted.api('/verify', { token: admin, body: { specs: ['vt-keep@1.0.0'] } });
    assert.equal((await waitForStatus(vetted, 'vt-keep', '1.0.0')).status, 'verified');
    const denied = await vetted.api('/versions/vt-keep/1.0.0/deny', {
      token: admin,
      body: { reason: 'decided before the crash' },
    });
    assert.equal(denied.status, 200);

    const queued = await vetted.api('/verify', {
      token: admin,
      body: { specs: VERSIONS.map((v) => `vt-many@${v}`) },
    });
    assert.equal(queued.status, 200);
    assert.ok(queued.body.results.every((r: { queued: boolean }) => r.queued));

    let kills = 0;
    const openAtKill: number[] = [];
    for (let cycle = 0; cycle < 4; cycle++) {
      await delay(300 + cycle * 250);
      const depth = (await vetted.api('/queue')).body.depth;
      openAtKill.push(depth.queued + depth.running);
      await vetted.kill();
      kills++;
      vetted = await startVetted({ upstream: proxy.url, home, port, options });
    }
    admin = await vetted.adminToken();
    for (const v of VERSIONS) {
      assert.equal(
        (await waitForStatus(vetted, 'vt-many', v, 90_000)).status,
        'verified',
        `vt-many@${v}`,
      );
    }
    assert.equal(kills, 4);
    assert.ok(
      (openAtKill[0] ?? 0) > 0,
      `jobs were open at the first kill: ${openAtKill.join(',')}`,
    );
    const keep = (await vetted.api('/versions/vt-keep/1.0.0')).body;
    assert.equal(keep.status, 'denied');
    assert.equal(keep.reason, 'decided before the crash');

    const entries = (await vetted.api('/audit?limit=10000')).body.entries as Array<{
      action: string;
      name: string;
      version: string;
    }>;
    for (const v of VERSIONS) {
      const verdicts = entries.filter(
        (e) => e.action === 'verdict' && e.name === 'vt-many' && e.version === v,
      );
      assert.equal(verdicts.length, 1, `one verdict for vt-many@${v}`);
    }
    const chain = (await vetted.api('/audit/verify')).body;
    assert.equal(chain.ok, true, JSON.stringify(chain));
    assert.equal((await vetted.api('/queue')).body.jobs.length, 0);
  });

  it('keeps an admin decision made while the version was being verified', async () => {
    const slow = await slowProxy(upstream.url, 1000);
    const v = await startVetted({ upstream: slow.url, options: { waitForVerdict: 0 } });
    try {
      const admin = await v.adminToken();
      await v.api('/verify', { token: admin, body: { specs: ['vt-race@1.0.0'] } });
      await delay(300);
      const denied = await v.api('/versions/vt-race/1.0.0/deny', {
        token: admin,
        body: { reason: 'decided during verification' },
      });
      assert.equal(denied.status, 200);
      for (let i = 0; i < 100 && (await v.api('/queue')).body.jobs.length > 0; i++)
        await delay(100);
      assert.equal((await v.api('/queue')).body.jobs.length, 0);
      const record = (await v.api('/versions/vt-race/1.0.0')).body;
      assert.equal(record.status, 'denied');
      assert.equal((await fetch(`${v.url}/vt-race/-/vt-race-1.0.0.tgz`)).status, 403);
    } finally {
      await v.stop();
      slow.close();
    }
  });
});
