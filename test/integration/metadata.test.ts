/**
 * Metadata steering through vetted, over HTTP: a real upstream Verdaccio with fixture packages,
 * vetted in front of it, and the admin API to decide. Covers the full and abbreviated
 * packument, `/name/version`, `/name/tag`, the dist-tags endpoint, ETags, URL encodings,
 * reverse-proxy headers, audit endpoints, and a filter that fails.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startVerdaccio, createUser } from '../helpers/verdaccio';
import type { RunningVerdaccio } from '../helpers/verdaccio';
import { bumpVersion, createGitPackage, publishPackage } from '../helpers/fixtures';
import { npmEnv, runNpm } from '../helpers/npm';
import { startVetted, waitForStatus } from '../helpers/vetted';
import type { RunningVetted } from '../helpers/vetted';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const CORGI = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: Json = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { res, body };
}

function tarballsOf(doc: Json): string[] {
  const all = { ...doc.versions, ...doc.policyRestrictions?.versions };
  return Object.values(all).map((m: Json) => m.dist.tarball);
}

describe('metadata through vetted', { timeout: 300_000 }, () => {
  let upstream: RunningVerdaccio;
  let vetted: RunningVetted;
  let admin: string;
  const decide = async (spec: string, action: string, reason = 'test decision') => {
    const [name, version] = [
      spec.slice(0, spec.lastIndexOf('@')),
      spec.slice(spec.lastIndexOf('@') + 1),
    ];
    const res = await vetted.api(`/versions/${encodeURIComponent(name)}/${version}/${action}`, {
      token: admin,
      body: { reason },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };

  before(async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'vetted-metadata-'));
    upstream = await startVerdaccio({});
    const token = await createUser(upstream.url, 'alice', 'alice-password');
    const meta = await createGitPackage(work, { name: 'vt-meta', version: '1.0.0' });
    await publishPackage(meta, upstream.url, token);
    for (const v of ['1.1.0', '2.0.0', '2.1.0']) {
      await bumpVersion(meta, v);
      await publishPackage(meta, upstream.url, token);
    }
    await bumpVersion(meta, '1.2.0');
    await publishPackage(meta, upstream.url, token, { tag: 'legacy' });
    const scoped = await createGitPackage(work, { name: '@vt/meta-scoped', version: '1.0.0' });
    await publishPackage(scoped, upstream.url, token);
    await bumpVersion(scoped, '1.0.1');
    await publishPackage(scoped, upstream.url, token);
    const fields = await createGitPackage(work, {
      name: 'vt-fields',
      version: '1.0.0',
      packageJson: {
        os: ['linux'],
        cpu: ['x64'],
        peerDependencies: { 'vt-meta': '*' },
        peerDependenciesMeta: { 'vt-meta': { optional: true } },
        scripts: { postinstall: 'echo hi' },
      },
    });
    await publishPackage(fields, upstream.url, token);
    const { env } = npmEnv(upstream.url, { token });
    const dep = await runNpm(['deprecate', 'vt-fields@1.0.0', 'use vt-meta instead'], {
      cwd: work,
      env,
    });
    assert.equal(dep.code, 0, dep.stderr);
    // trust evidence the fixture registry cannot produce itself
    const stored = path.join(upstream.storage, 'vt-fields', 'package.json');
    const doc = JSON.parse(readFileSync(stored, 'utf8'));
    const v1 = doc.versions['1.0.0'];
    v1._npmUser = { name: 'alice', email: 'alice@example.invalid', trustedPublisher: { id: 'x' } };
    v1.dist.signatures = [{ keyid: 'SHA256:test', sig: 'MEUCIQD-test' }];
    v1.dist.attestations = {
      url: 'https://example.invalid/att',
      provenance: { predicateType: 'p' },
    };
    writeFileSync(stored, JSON.stringify(doc, null, 2));

    vetted = await startVetted({ upstream: upstream.url, options: { waitForVerdict: 0 } });
    admin = await vetted.adminToken();
    const specs = ['vt-meta@1.0.0', 'vt-meta@1.1.0', 'vt-meta@2.0.0', '@vt/meta-scoped@1.0.0'];
    assert.equal((await vetted.api('/verify', { token: admin, body: { specs } })).status, 200);
    for (const spec of specs) {
      const at = spec.lastIndexOf('@');
      const record = await waitForStatus(vetted, spec.slice(0, at), spec.slice(at + 1), 120_000);
      assert.equal(record.status, 'verified', `${spec}: ${JSON.stringify(record.reasons)}`);
    }
    await decide('vt-meta@2.1.0', 'deny', 'known bad release');
    await decide('vt-meta@1.2.0', 'deny', 'typosquat payload');
    await decide('@vt/meta-scoped@1.0.1', 'deny', 'scoped bad release');
  });

  after(async () => {
    await vetted?.stop();
    await upstream?.stop();
  });

  describe('when versions are withheld', () => {
    it('moves them to policyRestrictions and retargets dist-tags on the same major line', async () => {
      const { res, body } = await get(`${vetted.url}/vt-meta`);
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(body.versions).sort(), ['1.0.0', '1.1.0', '2.0.0']);
      assert.deepEqual(body['dist-tags'], { latest: '2.0.0', legacy: '1.1.0' });
      assert.deepEqual(Object.keys(body.policyRestrictions.versions).sort(), ['1.2.0', '2.1.0']);
      assert.match(body.policyRestrictions.message, /vt-meta@2\.1\.0 was denied: admin: known bad/);
      assert.match(body.policyRestrictions.message, /Report: http:\/\/127\.0\.0\.1:\d+\/-\/vetted/);
      assert.equal(body.time['2.1.0'], undefined);
      assert.equal(typeof body.time['2.0.0'], 'string');
    });

    it('logs them once per package and status, with the newest reason and report', async () => {
      await get(`${vetted.url}/vt-meta`);
      await get(`${vetted.url}/vt-meta`, { accept: CORGI });
      const line =
        /withheld vt-meta@2\.1\.0,1\.2\.0 \(denied\): admin: known bad release; report: http:\/\/127\.0\.0\.1:\d+\/-\/vetted\/api\/versions\/vt-meta\/2\.1\.0/g;
      assert.equal(vetted.output.text().match(line)?.length, 1, vetted.output.text());
    });

    it('serves the same view abbreviated, with the abbreviated content type', async () => {
      const full = (await get(`${vetted.url}/vt-meta`)).body;
      const { res, body } = await get(`${vetted.url}/vt-meta`, { accept: CORGI });
      assert.equal(res.headers.get('content-type'), 'application/vnd.npm.install-v1+json');
      assert.deepEqual(Object.keys(body.versions).sort(), Object.keys(full.versions).sort());
      assert.deepEqual(body['dist-tags'], full['dist-tags']);
      assert.equal(body.modified, full.time.modified);
      assert.deepEqual(Object.keys(body.policyRestrictions.versions).sort(), ['1.2.0', '2.1.0']);
    });

    it('answers /name/tag, /name/version and the dist-tags endpoint from the same view', async () => {
      assert.equal((await get(`${vetted.url}/vt-meta/latest`)).body.version, '2.0.0');
      assert.equal((await get(`${vetted.url}/vt-meta/legacy`)).body.version, '1.1.0');
      assert.equal((await get(`${vetted.url}/vt-meta/1.0.0`)).body.version, '1.0.0');
      const blocked = await get(`${vetted.url}/vt-meta/2.1.0`);
      assert.equal(blocked.res.status, 403);
      assert.match(blocked.body.error, /denied: admin: known bad release/);
      assert.match(blocked.res.headers.get('npm-notice') ?? '', /vt-meta@2\.1\.0 denied/);
      const tags = await get(`${vetted.url}/-/package/vt-meta/dist-tags`);
      assert.deepEqual(tags.body, { latest: '2.0.0', legacy: '1.1.0' });
      const scopedTags = await get(`${vetted.url}/-/package/@vt%2fmeta-scoped/dist-tags`);
      assert.deepEqual(scopedTags.body, { latest: '1.0.0' });
    });
  });

  describe('when a verdict changes', () => {
    it('changes the ETag, and a request with the old one gets the new document', async () => {
      const first = await get(`${vetted.url}/vt-meta`);
      const etag = first.res.headers.get('etag') ?? '';
      assert.ok(etag);
      const again = await fetch(`${vetted.url}/vt-meta`, { headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304);
      await decide('vt-meta@2.0.0', 'revoke', 'compromised');
      const after = await get(`${vetted.url}/vt-meta`, { 'if-none-match': etag });
      assert.equal(after.res.status, 200);
      assert.notEqual(after.res.headers.get('etag'), etag);
      assert.equal(after.body.versions['2.0.0'], undefined);
      assert.equal(after.body['dist-tags'].latest, '1.1.0');
      await decide('vt-meta@2.0.0', 'approve', 'reviewed');
      const approved = await get(`${vetted.url}/vt-meta`, {
        'if-none-match': after.res.headers.get('etag') ?? '',
      });
      assert.equal(approved.res.status, 200);
      assert.equal(approved.body['dist-tags'].latest, '2.0.0');
      assert.ok(approved.body.versions['2.0.0']);
    });
  });

  describe('when a blocked version is asked for in every encoding', () => {
    for (const prefix of [
      '@vt/meta-scoped',
      '@vt%2fmeta-scoped',
      '@vt%2Fmeta-scoped',
      '%40vt%2Fmeta-scoped',
    ]) {
      it(`blocks ${prefix}`, async () => {
        const version = await get(`${vetted.url}/${prefix}/1.0.1`);
        assert.equal(version.res.status, 403);
        const tarball = await fetch(`${vetted.url}/${prefix}/-/meta-scoped-1.0.1.tgz`);
        assert.equal(tarball.status, 403);
        await tarball.body?.cancel();
        const doc = await get(`${vetted.url}/${prefix}`);
        assert.equal(doc.res.status, 200);
        assert.deepEqual(Object.keys(doc.body.versions), ['1.0.0']);
      });
    }
  });

  describe('behind a reverse proxy', () => {
    it('puts the public scheme and host in every dist.tarball, in canonical form', async () => {
      const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'npm.corp' };
      const full = await get(`${vetted.url}/@vt%2fmeta-scoped`, headers);
      const corgi = await get(`${vetted.url}/@vt%2fmeta-scoped`, { ...headers, accept: CORGI });
      const one = await get(`${vetted.url}/@vt%2fmeta-scoped/1.0.0`, headers);
      const urls = [...tarballsOf(full.body), ...tarballsOf(corgi.body), one.body.dist.tarball];
      assert.equal(urls.length, 5);
      for (const url of urls) {
        assert.match(
          url,
          /^https:\/\/npm\.corp\/@vt\/meta-scoped\/-\/meta-scoped-1\.0\.[01]\.tgz$/,
        );
      }
    });
  });

  describe('when the URL ends in a slash', () => {
    for (const [slashed, plain] of [
      ['/vt-meta/', '/vt-meta'],
      ['/@vt/meta-scoped/', '/@vt/meta-scoped'],
    ] as const) {
      it(`answers ${slashed} as ${plain}`, async () => {
        const headers = { 'x-forwarded-host': 'npm.corp' };
        const a = await get(`${vetted.url}${slashed}`, headers);
        const b = await get(`${vetted.url}${plain}`, headers);
        assert.equal(a.res.status, 200);
        assert.ok(a.body.policyRestrictions, 'policyRestrictions');
        assert.deepEqual(a.body, b.body);
        assert.equal(a.res.headers.get('etag'), b.res.headers.get('etag'));
        for (const url of tarballsOf(a.body)) assert.match(url, /^http:\/\/npm\.corp\//);
      });
    }
  });

  describe('when X-Forwarded-* headers are not a scheme and a host', () => {
    it('ignores them for the Host header, and names them in Vary', async () => {
      const host = new URL(vetted.url).host;
      const hostile: Array<Record<string, string>> = [
        { 'x-forwarded-host': 'evil.com/x?y=', 'x-forwarded-proto': 'javascript' },
        { 'x-forwarded-host': 'user@evil.com', 'x-forwarded-proto': 'https:' },
        { 'x-forwarded-host': 'evil.com:99999' },
      ];
      for (const headers of hostile) {
        const { res, body } = await get(`${vetted.url}/vt-meta`, headers);
        assert.equal(res.status, 200);
        for (const url of tarballsOf(body)) {
          assert.ok(
            url.startsWith(`http://${host}/vt-meta/-/`),
            `${url} for ${JSON.stringify(headers)}`,
          );
        }
        assert.match(
          body.policyRestrictions.message,
          new RegExp(`http://${host.replace(/\./g, '\\.')}/-/vetted/`),
        );
      }
      const full = await get(`${vetted.url}/vt-meta`);
      const vary = (full.res.headers.get('vary') ?? '').toLowerCase();
      for (const h of ['x-forwarded-host', 'x-forwarded-proto', 'accept'])
        assert.ok(vary.includes(h), `Vary: ${vary}`);
      const one = await get(`${vetted.url}/vt-meta/1.0.0`);
      assert.match(one.res.headers.get('vary') ?? '', /X-Forwarded-Host, X-Forwarded-Proto/);
    });
  });

  describe('abbreviated documents', () => {
    it('keep the fields clients rely on, and trust evidence passes through untouched', async () => {
      const { body } = await get(`${vetted.url}/vt-fields`, { accept: CORGI });
      const v = body.versions['1.0.0'];
      assert.equal(v.hasInstallScript, true);
      assert.deepEqual(v.os, ['linux']);
      assert.deepEqual(v.cpu, ['x64']);
      assert.deepEqual(v.peerDependenciesMeta, { 'vt-meta': { optional: true } });
      assert.equal(v.deprecated, 'use vt-meta instead');
      assert.equal(typeof body.time['1.0.0'], 'string');
      assert.deepEqual(v.dist.signatures, [{ keyid: 'SHA256:test', sig: 'MEUCIQD-test' }]);
      const full = (await get(`${vetted.url}/vt-fields`)).body.versions['1.0.0'];
      assert.equal(full._npmUser.trustedPublisher.id, 'x');
      assert.equal(full.dist.attestations.provenance.predicateType, 'p');
      const one = (await get(`${vetted.url}/vt-fields/1.0.0`)).body;
      assert.deepEqual(one.dist.signatures, full.dist.signatures);
      assert.deepEqual(one._npmUser, full._npmUser);
    });
  });

  describe('audit, keys and attestations', () => {
    it('never answer 500', async () => {
      const body = JSON.stringify({ 'vt-meta': ['1.0.0'] });
      const headers = { 'content-type': 'application/json' };
      for (const route of ['advisories/bulk', 'audits/quick']) {
        const res = await fetch(`${vetted.url}/-/npm/v1/security/${route}`, {
          method: 'POST',
          headers,
          body,
        });
        // a plain Verdaccio upstream answers an HTML 404 page: vetted answers JSON
        assert.equal(res.status, 404, route);
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        assert.match(
          ((await res.json()) as { error: string }).error,
          /does not support this request \(HTTP 404, text\/html\)/,
        );
      }
      for (const route of ['keys', 'attestations/vt-meta@1.0.0']) {
        const res = await fetch(`${vetted.url}/-/npm/v1/${route}`);
        assert.ok(res.status < 500, `${route}: ${res.status}`);
        await res.body?.cancel();
      }
      const p = mkdtempSync(path.join(tmpdir(), 'vetted-audit-'));
      writeFileSync(
        path.join(p, 'package.json'),
        JSON.stringify({ name: 'p', version: '1.0.0', dependencies: { 'vt-meta': '1.0.0' } }),
      );
      const { env } = npmEnv(vetted.url);
      assert.equal((await runNpm(['install'], { cwd: p, env })).code, 0);
      const audit = await runNpm(['audit', '--audit-level=none'], { cwd: p, env });
      assert.doesNotMatch(audit.stdout + audit.stderr, /500|Internal Server Error/);
    });
  });
});

describe('metadata when the filter fails', { timeout: 120_000 }, () => {
  let upstream: RunningVerdaccio;
  let vetted: RunningVetted;

  before(async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'vetted-broken-filter-'));
    upstream = await startVerdaccio({});
    const token = await createUser(upstream.url, 'alice', 'alice-password');
    await publishPackage(
      await createGitPackage(work, { name: 'vt-open', version: '1.0.0' }),
      upstream.url,
      token,
    );
    // the real middleware beside a filter that throws: Verdaccio skips a throwing filter
    const plugins = path.join(work, 'plugins');
    mkdirSync(path.join(plugins, 'verdaccio-vetted-filter'), { recursive: true });
    mkdirSync(path.join(plugins, 'verdaccio-vetted'));
    const main = path.join(REPO_ROOT, 'dist', 'plugins', 'verdaccio-vetted', 'index.js');
    writeFileSync(
      path.join(plugins, 'verdaccio-vetted', 'package.json'),
      JSON.stringify({ name: 'verdaccio-vetted', main }),
    );
    writeFileSync(
      path.join(plugins, 'verdaccio-vetted-filter', 'package.json'),
      JSON.stringify({ name: 'verdaccio-vetted-filter', main: 'index.js' }),
    );
    writeFileSync(
      path.join(plugins, 'verdaccio-vetted-filter', 'index.js'),
      'exports.default = class { filter_metadata() { throw new Error("broken"); } };\n',
    );
    vetted = await startVetted({
      upstream: upstream.url,
      configPatch: (config) => (config.plugins = plugins),
    });
  });

  after(async () => {
    await vetted?.stop();
    await upstream?.stop();
  });

  it('answers 503 for every metadata route, never the unfiltered document', async () => {
    for (const [route, accept] of [
      ['/vt-open', 'application/json'],
      ['/vt-open', CORGI],
      ['/vt-open/1.0.0', 'application/json'],
      ['/vt-open/latest', 'application/json'],
      ['/-/package/vt-open/dist-tags', 'application/json'],
    ] as const) {
      const { res, body } = await get(`${vetted.url}${route}`, { accept });
      assert.equal(res.status, 503, route);
      assert.equal(body.versions, undefined);
      assert.match(body.error, /filter did not run/);
    }
  });
});
