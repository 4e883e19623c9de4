/**
 * Issue 7, "Done when": Debian's Chromium, driven headless by playwright-core, logs in to the
 * console as the admin, opens a held fixture version (its install script spawns a shell), reads
 * the finding, approves it with a reason, and the same version then installs with npm. A
 * non-admin sees the page but gets 403 deciding; a forged cross-site form POST is refused.
 * Screenshots of the held list and the version page at 1280 and 390 px go to
 * test-results/screenshots/. The audit page shows the decision; `vetted audit verify` passes.
 * A webhook receiver on loopback gets one delivery per held verdict, retried after a failure.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createGitPackage, publishPackage } from '../helpers/fixtures';
import { npmEnv, runNpm } from '../helpers/npm';
import { freePort } from '../helpers/ports';
import { createUser, startVerdaccio } from '../helpers/verdaccio';
import type { RunningVerdaccio } from '../helpers/verdaccio';
import { startVetted, waitForStatus } from '../helpers/vetted';
import type { RunningVetted } from '../helpers/vetted';

const execFileAsync = promisify(execFile);
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(REPO_ROOT, 'bin', 'vetted.js');
const SHOTS = path.join(REPO_ROOT, 'test-results', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const NAME = 'vt-console-shell';
const HELD = '1.1.0';
const SECRET = 'webhook-secret-for-the-console-test';
/** Chat webhooks carry their secret in the URL's path or query. */
const HOOK_TOKEN = 'XHOOKPATHTOKENX';
const REASON = 'Reviewed build.js: the shell only writes built.txt inside the package';
const PAGE = `/-/vetted/versions/${NAME}/${HELD}`;

/** A receiver that fails its first delivery and accepts the rest. */
interface Receiver {
  url: string;
  server: Server;
  requests: Array<{ status: number; headers: Record<string, string>; body: string }>;
}

async function startReceiver(): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = requests.length === 0 ? 500 : 204;
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, String(v)]),
      );
      requests.push({ status, headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(status).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/services/T0/${HOOK_TOKEN}?token=${HOOK_TOKEN}`,
    server,
    requests,
  };
}

async function waitUntil(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the admin console in a browser', { timeout: 420_000 }, () => {
  let work: string;
  let upstream: RunningVerdaccio;
  let vetted: RunningVetted;
  let receiver: Receiver;
  let evil: Server;
  let evilUrl: string;
  let browser: Browser;
  let adminPassword: string;
  let adminToken: string;

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`,
      );
    }
    work = mkdtempSync(path.join(tmpdir(), 'vetted-console-'));
    mkdirSync(SHOTS, { recursive: true });
    upstream = await startVerdaccio({ dir: path.join(work, 'upstream') });
    const token = await createUser(upstream.url, 'alice', 'alice-password');
    // 1.0.0 is plain; 1.1.0 adds a postinstall whose child_process call runs `sh -c`
    const dir = await createGitPackage(path.join(work, 'src'), {
      name: NAME,
      version: '1.0.0',
      files: { 'index.js': 'module.exports = 1;\n' },
    });
    await publishPackage(dir, upstream.url, token);
    const dir2 = await createGitPackage(path.join(work, 'src2'), {
      name: NAME,
      version: HELD,
      packageJson: { scripts: { postinstall: 'node build.js' } },
      files: {
        'index.js': 'module.exports = 2;\n',
        'build.js': "require('child_process').execSync('echo built > built.txt');\n",
      },
    });
    await publishPackage(dir2, upstream.url, token);

    receiver = await startReceiver();
    const port = await freePort();
    vetted = await startVetted({
      upstream: upstream.url,
      port,
      home: mkdtempSync(path.join(work, 'vetted-')),
      options: {
        waitForVerdict: 0,
        workers: 2,
        webhook: { url: receiver.url, secret: SECRET, publicUrl: `http://127.0.0.1:${port}` },
      },
    });
    adminPassword = readFileSync(path.join(vetted.home, 'admin-password'), 'utf8').trim();
    adminToken = await vetted.adminToken();
    await vetted.userToken('bob');

    // 1.0.0 first, so 1.1.0 is compared with it
    for (const version of ['1.0.0', HELD]) {
      const res = await fetch(`${vetted.url}/${NAME}/-/${NAME}-${version}.tgz`);
      await res.body?.cancel();
      await waitForStatus(vetted, NAME, version, 240_000);
    }

    // a page on another site (localhost is not 127.0.0.1) that posts a decision on load
    const evilPort = await freePort();
    evilUrl = `http://localhost:${evilPort}/`;
    evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html>
        <form id="f" method="post" action="${vetted.url}${PAGE}/decide">
          <input name="decision" value="approve"><input name="reason" value="forged">
        </form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((resolve) => evil.listen(evilPort, '127.0.0.1', resolve));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu'],
    });
  });

  after(async () => {
    await browser?.close();
    await vetted?.stop();
    await upstream?.stop();
    receiver?.server.close();
    evil?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function login(name: string, password: string, width = 1280): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${vetted.url}/-/vetted/`);
    assert.match(page.url(), /\/-\/vetted\/login/);
    await page.fill('input[name=username]', name);
    await page.fill('input[name=password]', password);
    await Promise.all([page.waitForURL(/\/-\/vetted\/$/), page.click('button')]);
    await page.close();
    return context;
  }

  async function shot(page: Page, file: string): Promise<void> {
    await page.screenshot({ path: path.join(SHOTS, file), fullPage: true });
  }

  it('holds the version whose install script spawns a shell', async () => {
    const record = await waitForStatus(vetted, NAME, HELD);
    assert.equal(record.status, 'held');
    assert.ok(
      record.reasons.some((r: string) => r.startsWith('SHELL_SPAWN')),
      record.reasons,
    );
  });

  it('refuses a wrong password and keeps no session', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${vetted.url}/-/vetted/login`);
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', 'not-the-password');
    const [res] = await Promise.all([page.waitForResponse(/\/login$/), page.click('button')]);
    assert.equal(res.status(), 401);
    assert.match((await page.textContent('body')) ?? '', /wrong password/);
    assert.deepEqual(await context.cookies(), []);
    await context.close();
  });

  it('refuses a copied session cookie once its session logged out', async () => {
    const context = await login('admin', adminPassword);
    const [cookie] = await context.cookies();
    assert.ok(cookie, 'a session cookie');
    const replay = () =>
      fetch(`${vetted.url}/-/vetted/`, {
        headers: { cookie: `${cookie.name}=${cookie.value}` },
        redirect: 'manual',
      });
    const before = await replay();
    assert.equal(before.status, 200);
    await before.body?.cancel();
    const page = await context.newPage();
    await page.goto(`${vetted.url}/-/vetted/`);
    await Promise.all([page.waitForURL(/\/-\/vetted\/login$/), page.click('form.who button')]);
    await context.close();
    const after = await replay();
    assert.equal(after.status, 303);
    assert.match(after.headers.get('location') ?? '', /\/-\/vetted\/login/);
    await after.body?.cancel();
  });

  it('lists the held version and shows its finding, evidence and file diff', async () => {
    for (const width of [1280, 390]) {
      const context = await login('admin', adminPassword, width);
      const page = await context.newPage();
      await page.goto(`${vetted.url}/-/vetted/`);
      const row = page.locator('#versions tr', { hasText: `${NAME}@${HELD}` });
      assert.equal(await row.count(), 1);
      assert.match((await row.textContent()) ?? '', /SHELL_SPAWN/);
      await shot(page, `held-list-${width}.png`);
      // the cookie is HttpOnly and SameSite=Strict
      const [cookie] = await context.cookies();
      assert.equal(cookie?.httpOnly, true);
      assert.equal(cookie?.sameSite, 'Strict');

      await row.locator('a').click();
      await page.waitForURL(new RegExp(`${PAGE}$`));
      const finding = page.locator('#layer-behaviour .finding', { hasText: 'SHELL_SPAWN' });
      assert.ok((await finding.count()) >= 1, 'no SHELL_SPAWN finding on the page');
      assert.match((await finding.first().textContent()) ?? '', /postinstall: ran sh/);
      const text = (await page.textContent('main')) ?? '';
      assert.match(text, /Against\s+vt-console-shell@1\.0\.0/);
      assert.match(text, /build\.js\s+added/);
      assert.match(text, /index\.js\s+changed/);
      await shot(page, `version-page-${width}.png`);
      await context.close();
    }
  });

  it('lets a non-admin read the page but not decide (403)', async () => {
    const context = await login('bob', 'bob-password-1');
    const page = await context.newPage();
    const res = await page.goto(`${vetted.url}${PAGE}`);
    assert.equal(res?.status(), 200);
    assert.equal(await page.locator('form.decide').count(), 0);
    const csrf = await page.getAttribute('meta[name=csrf-token]', 'content');
    assert.ok(csrf);
    const post = await page.request.post(`${vetted.url}${PAGE}/decide`, {
      form: { decision: 'approve', reason: 'bob wants it', csrf },
      headers: { origin: vetted.url },
    });
    assert.equal(post.status(), 403);
    assert.match(await post.text(), /not in the admin group/);
    assert.equal((await waitForStatus(vetted, NAME, HELD)).status, 'held');
    await context.close();
  });

  it('refuses a forged cross-site POST made with the admin session', async () => {
    const context = await login('admin', adminPassword);
    const page = await context.newPage();
    const answer = page.waitForResponse((r) => r.url().endsWith(`${PAGE}/decide`));
    await page.goto(evilUrl);
    assert.equal((await answer).status(), 403);
    // a same-site POST without the session's token is refused too
    const noToken = await page.request.post(`${vetted.url}${PAGE}/decide`, {
      form: { decision: 'approve', reason: 'no token' },
      headers: { origin: vetted.url },
    });
    assert.equal(noToken.status(), 403);
    assert.equal((await waitForStatus(vetted, NAME, HELD)).status, 'held');
    await context.close();
  });

  it('approves with a reason from the version page', async () => {
    const context = await login('admin', adminPassword);
    const page = await context.newPage();
    await page.goto(`${vetted.url}${PAGE}`);
    await page.fill('form.decide textarea[name=reason]', REASON);
    await page.selectOption('form.decide select[name=scope]', 'version');
    await Promise.all([
      page.waitForURL(/\?done=/),
      page.click('form.decide button[value=approve]'),
    ]);
    assert.match((await page.textContent('h1')) ?? '', /approved/);
    const record = await waitForStatus(vetted, NAME, HELD);
    assert.equal(record.status, 'approved');
    assert.equal(record.decidedBy.name, 'admin');
    assert.equal(record.reason, REASON);
    await context.close();
  });

  it('lists the exemption through the JSON API; a non-admin gets JSON errors', async () => {
    const listed = await vetted.api('/exemptions', { token: adminToken });
    assert.equal(listed.status, 200);
    const mine = listed.body.exemptions.find(
      (e: { name: string; version?: string }) => e.name === NAME && e.version === HELD,
    );
    assert.equal(mine?.scope, 'version');
    assert.equal(mine?.actor, 'admin');
    assert.equal(mine?.reason, REASON);
    const bob = await vetted.userToken('bob');
    const refused = await vetted.api('/approve-lockfile', {
      token: bob,
      body: { reason: 'bob tries', lockfile: { lockfileVersion: 3, packages: {} } },
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'FORBIDDEN');
    const bad = await vetted.api('/approve-lockfile', {
      token: adminToken,
      body: { reason: 'r', lockfile: '{}' },
    });
    assert.equal(bad.status, 400);
    assert.equal(typeof bad.body.error, 'string');
  });

  it('installs the approved version with npm', async () => {
    const project = mkdtempSync(path.join(work, 'project-'));
    writeFileSync(path.join(project, 'package.json'), '{"name":"p","version":"1.0.0"}');
    const { env } = npmEnv(`${vetted.url}/`, { dir: path.join(project, '.npm-env') });
    const res = await runNpm(['install', `${NAME}@${HELD}`], { cwd: project, env });
    assert.equal(res.code, 0, res.stderr);
    const installed = path.join(project, 'node_modules', NAME);
    assert.equal(
      JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')).version,
      HELD,
    );
    assert.ok(existsSync(path.join(installed, 'built.txt')), 'the postinstall did not run');
  });

  it('shows the decision in the audit log with actor, time and reason', async () => {
    const context = await login('admin', adminPassword);
    const page = await context.newPage();
    await page.goto(`${vetted.url}/-/vetted/audit`);
    const row = page.locator('#audit tr', { hasText: REASON }).filter({ hasText: 'approve' });
    assert.ok((await row.count()) >= 1);
    const text = (await row.first().textContent()) ?? '';
    assert.match(text, /admin/);
    assert.match(text, new RegExp(`${NAME}@${HELD}`));
    assert.match((await row.first().locator('time').getAttribute('datetime')) ?? '', /^\d{4}-/);
    assert.match((await page.textContent('main')) ?? '', /hash chain of all \d+ entries verifies/);
    await shot(page, 'audit-1280.png');
    await context.close();
  });

  it('shows the queue, health (workers, sandbox probe, index) and exemptions pages', async () => {
    const context = await login('admin', adminPassword);
    const page = await context.newPage();
    await page.goto(`${vetted.url}/-/vetted/queue`);
    assert.match((await page.textContent('main')) ?? '', /The queue is empty/);
    await page.goto(`${vetted.url}/-/vetted/health`);
    const health = (await page.textContent('main')) ?? '';
    assert.match(health, /0 \/ 2/);
    assert.match((await page.textContent('#sandbox')) ?? '', /pass\s+a probe ran and was traced/);
    assert.match(health, /\d+ delivered since start/);
    assert.ok(!health.includes(HOOK_TOKEN), 'the health page shows the webhook URL whole');
    await shot(page, 'health-1280.png');
    await page.goto(`${vetted.url}/-/vetted/exemptions`);
    assert.match((await page.textContent('main')) ?? '', new RegExp(`${NAME}@${HELD}`));
    // a lockfile pasted into the form: its one unverified node is exempted
    const lock = {
      lockfileVersion: 3,
      packages: { 'node_modules/vt-later': { version: '2.0.0' } },
    };
    await page.fill('textarea[name=lockfileText]', JSON.stringify(lock));
    await page.fill('input[name=reason]', 'tree of release 7 reviewed');
    await Promise.all([page.waitForURL(/approve-lockfile$/), page.click('text=Approve tree')]);
    const result = (await page.textContent('main')) ?? '';
    assert.match(result, /0 held versions approved; 1 versions exempted/);
    assert.match(result, /vt-later@2\.0\.0\s+unknown\s+exempted/);
    await context.close();
  });

  it('delivers one signed webhook per held verdict, retried after a failure', async () => {
    await waitUntil('a second webhook attempt', () => receiver.requests.length >= 2);
    await new Promise((r) => setTimeout(r, 1500)); // nothing more should come
    const held = receiver.requests.map((r) => JSON.parse(r.body)).filter((p) => p.event === 'held');
    assert.equal(receiver.requests.length, 2, receiver.requests.map((r) => r.body).join('\n'));
    assert.equal(held.length, 2);
    assert.equal(held[0].id, held[1].id, 'the retry must be the same delivery');
    assert.equal(held[0].name, NAME);
    assert.equal(held[0].version, HELD);
    assert.match(held[0].reason, /^SHELL_SPAWN/);
    assert.equal(held[0].link, `${vetted.url}${PAGE}`);
    for (const r of receiver.requests) {
      const mac = createHmac('sha256', SECRET).update(r.body).digest('hex');
      assert.equal(r.headers['x-vetted-signature'], `sha256=${mac}`);
    }
  });

  it('serves Prometheus metrics to admins only', async () => {
    const anonymous = await fetch(`${vetted.url}/-/vetted/metrics`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const res = await fetch(`${vetted.url}/-/vetted/metrics`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^vetted_versions\{status="approved"\} 1$/m);
    assert.match(text, /^vetted_queue_depth\{state="queued"\} 0$/m);
    assert.match(
      text,
      /^vetted_layer_duration_seconds_count\{layer="behaviour",outcome="fail"\} 1$/m,
    );
    assert.match(text, /^vetted_gate_decisions_total\{result="served"\} [1-9]/m);
    assert.match(text, /^vetted_store_cache_hit_ratio /m);
  });

  it('logs no token, password, session or webhook secret', () => {
    const log = vetted.output.text();
    assert.match(log, /admin: approve vt-console-shell@1\.1\.0 \(console\)/);
    assert.match(log, /webhook http:\/\/127\.0\.0\.1:\d+\/… failed/);
    for (const secret of [adminToken, adminPassword, 'bob-password-1', SECRET, HOOK_TOKEN]) {
      assert.equal(log.includes(secret), false, 'a secret reached the log');
    }
    assert.doesNotMatch(log, /vetted_session=/);
  });

  it('keeps an audit chain that `vetted audit verify` accepts', async () => {
    await vetted.stop();
    const { stdout } = await execFileAsync(process.execPath, [
      BIN,
      'audit',
      'verify',
      '--home',
      vetted.home,
      '--json',
    ]);
    const result = JSON.parse(stdout) as { ok: boolean; entries: number };
    assert.equal(result.ok, true);
    assert.ok(result.entries >= 4, `only ${result.entries} entries`);
  });
});
