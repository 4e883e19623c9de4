/**
 * The admin surface: every state-changing route refuses anonymous users, non-admin users,
 * cross-site requests (a browser Origin from another host) and form posts, and changes nothing
 * when it refuses; no line the server writes, at its most verbose, holds a token or password.
 * Routes come from one table, so routes added later (the console's) join by adding a row.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startVerdaccio, createUser } from '../helpers/verdaccio';
import type { RunningVerdaccio } from '../helpers/verdaccio';
import { publishTarball } from '../helpers/direct-publish';
import { cleanPackage } from '../helpers/tarballs';
import { startVetted, waitForStatus } from '../helpers/vetted';
import type { RunningVetted } from '../helpers/vetted';

interface Route {
  method: 'POST' | 'PUT' | 'DELETE';
  /** Under /-/vetted/api. */
  path: string;
  body: unknown;
}

/** Every route that changes state. Add new ones here. */
const STATE_CHANGING: Route[] = [
  { method: 'POST', path: '/verify', body: { specs: ['vt-sec@1.0.1'] } },
  { method: 'POST', path: '/versions/vt-sec/1.0.0/approve', body: { reason: 'looks fine' } },
  { method: 'POST', path: '/versions/vt-sec/1.0.0/deny', body: { reason: 'looks bad' } },
  { method: 'POST', path: '/versions/vt-sec/1.0.0/revoke', body: { reason: 'compromised' } },
  { method: 'POST', path: '/versions/vt-sec/1.0.0/reverify', body: { reason: 'check again' } },
  { method: 'POST', path: '/versions/%40vt%2fsec/1.0.0/deny', body: { reason: 'scoped form' } },
  // approvals with a scope and whole lockfiles (issue 7): exemptions with an expiry
  {
    method: 'POST',
    path: '/versions/vt-sec/1.0.0/approve',
    body: { reason: 'for a while', scope: 'package', hours: 2 },
  },
  {
    method: 'POST',
    path: '/approve-lockfile',
    body: {
      reason: 'the team reviewed this tree',
      lockfile: {
        name: 'p',
        lockfileVersion: 3,
        packages: { '': { name: 'p' }, 'node_modules/vt-sec': { version: '1.0.1' } },
      },
    },
  },
];

describe('the admin surface', { timeout: 300_000 }, () => {
  let upstream: RunningVerdaccio;
  let vetted: RunningVetted;
  let admin: string;
  let bob: string;
  let output = '';

  before(async () => {
    upstream = await startVerdaccio({});
    const token = await createUser(upstream.url, 'alice', 'alice-password');
    for (const version of ['1.0.0', '1.0.1']) {
      await publishTarball(upstream.url, token, 'vt-sec', version, cleanPackage('vt-sec', version));
    }
    vetted = await startVetted({ upstream: upstream.url, logLevel: 'trace' });
    // the whole output, not only the tail the helper keeps
    vetted.child.stdout?.on('data', (s: string) => (output += s));
    vetted.child.stderr?.on('data', (s: string) => (output += s));
    admin = await vetted.adminToken();
    bob = await vetted.userToken('bob');
    await vetted.api('/verify', { token: admin, body: { specs: ['vt-sec@1.0.0'] } });
    assert.equal((await waitForStatus(vetted, 'vt-sec', '1.0.0')).status, 'verified');
  });

  after(async () => {
    await vetted?.stop();
    await upstream?.stop();
  });

  const refusals: Array<[string, (r: Route) => Promise<number>, number[]]> = [
    ['anonymous users', (r) => call(r, {}), [401]],
    ['non-admin users', (r) => call(r, { token: bob }), [403]],
    [
      'cross-site requests from an admin browser',
      (r) => call(r, { token: admin, headers: { origin: 'https://evil.example' } }),
      [403],
    ],
    [
      'a null Origin (sandboxed frame)',
      (r) => call(r, { token: admin, headers: { origin: 'null' } }),
      [403],
    ],
    [
      'form posts, which a page can send cross-site without a preflight',
      (r) =>
        call(r, {
          token: admin,
          body: 'reason=abc',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
      [400, 403, 415],
    ],
    ['a forged token', (r) => call(r, { token: `${admin.slice(0, -4)}AAAA` }), [401, 403]],
  ];

  for (const [label, send, expected] of refusals) {
    it(`refuses ${label} on every state-changing route, changing nothing`, async () => {
      const before = await state();
      for (const route of STATE_CHANGING) {
        const status = await send(route);
        assert.ok(expected.includes(status), `${route.method} ${route.path}: ${status}`);
      }
      assert.deepEqual(await state(), before);
    });
  }

  it('accepts the same request from an admin on the same origin', async () => {
    const host = new URL(vetted.url).host;
    const status = await call(STATE_CHANGING[2] as Route, {
      token: admin,
      headers: { origin: `http://${host}` },
    });
    assert.equal(status, 200);
    assert.equal((await vetted.api('/versions/vt-sec/1.0.0')).body.status, 'denied');
  });

  it('locks console logins for an account after 10 failures, right password or not', async () => {
    const password = readFileSync(path.join(vetted.home, 'admin-password'), 'utf8').trim();
    const login = (username: string, pass: string) =>
      fetch(`${vetted.url}/-/vetted/login`, {
        method: 'POST',
        body: new URLSearchParams({ username, password: pass }),
        redirect: 'manual',
      });
    for (let i = 0; i < 10; i++) {
      assert.equal((await login('admin', `wrong-${i}`)).status, 401);
    }
    const locked = await login('admin', password);
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers.get('retry-after')) > 800, 'Retry-After near 15 minutes');
    assert.match(await locked.text(), /Too many failed logins[^<]*Try again in 15 minutes/);
    assert.equal(locked.headers.get('set-cookie'), null);
    // another account from the same address still logs in
    const other = await login('bob', 'bob-password-1');
    assert.equal(other.status, 303);
    assert.match(other.headers.get('set-cookie') ?? '', /vetted_session=/);
    // npm's login route and tokens are Verdaccio's, untouched by the console's lock
    assert.equal((await vetted.api('/versions/vt-sec/1.0.0', { token: admin })).status, 200);
  });

  it('writes no token or password to its output', async () => {
    const password = readFileSync(path.join(vetted.home, 'admin-password'), 'utf8').trim();
    const secrets = [admin, bob, password, 'bob-password-1', 'alice-password'];
    // give the logger a moment to flush
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(output.length > 1000, `the server logged (${output.length} bytes)`);
    for (const secret of secrets) {
      const at = output.indexOf(secret);
      assert.equal(at, -1, `a secret appears in the output: …${output.slice(at - 80, at)}`);
    }
  });

  async function call(
    route: Route,
    opts: { token?: string; headers?: Record<string, string>; body?: unknown },
  ): Promise<number> {
    const res = await vetted.api(route.path, {
      method: route.method,
      token: opts.token,
      body: opts.body ?? route.body,
      headers: opts.headers,
    });
    return res.status;
  }

  /** What a refused request must not change: the records, the queue and the audit log. */
  async function state(): Promise<unknown> {
    const versions = (await vetted.api('/versions?name=vt-sec')).body.versions.map(
      (r: { version: string; status: string }) => `${r.version} ${r.status}`,
    );
    const queue = (await vetted.api('/queue')).body.jobs.length;
    const audit = (await vetted.api('/audit?limit=10000')).body.entries.length;
    const exemptions = (await vetted.api('/exemptions', { token: admin })).body.exemptions.length;
    return { versions, queue, audit, exemptions };
  }
});
