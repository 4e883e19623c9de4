/**
 * Hostile input through the real server: thousands of generated request paths and API specs,
 * packuments a faulty upstream makes up (malformed fields, prototype keys), and hostile
 * tarballs served with a matching integrity. Every answer is a clear 4xx (or the documented
 * 403/404/503), never another 5xx; the server stays up; nothing is polluted; each hostile
 * tarball ends with a `fail` finding, with the server's memory and the home's size bounded.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startVerdaccio, createUser } from '../helpers/verdaccio';
import type { RunningVerdaccio } from '../helpers/verdaccio';
import { publishTarball } from '../helpers/direct-publish';
import { startFaultyUpstream } from '../helpers/faulty-upstream';
import type { FaultyUpstream } from '../helpers/faulty-upstream';
import { fuzzPaths, fuzzSpecs, PROTO_KEYS } from '../helpers/fuzz-inputs';
import { cleanPackage, hostilePackages } from '../helpers/tarballs';
import { startVetted, waitForStatus } from '../helpers/vetted';
import type { RunningVetted } from '../helpers/vetted';
import { STRESS, duBytes, peakRssOf, report, rssOf } from '../helpers/reliability';

const FUZZ_PATHS = STRESS ? 20_000 : 2_000;
const CONCURRENCY = 8;
/** Bounds for the hostile tarball run (RSS growth of the server, size of its home). */
const MAX_RSS_GROWTH = 512 * 1024 * 1024;
const MAX_HOME_BYTES = 64 * 1024 * 1024;

describe('vetted given hostile input', { timeout: STRESS ? 1_800_000 : 600_000 }, () => {
  let upstream: RunningVerdaccio;
  let faulty: FaultyUpstream;
  let vetted: RunningVetted;

  before(async () => {
    upstream = await startVerdaccio({});
    const token = await createUser(upstream.url, 'alice', 'alice-password');
    await publishTarball(
      upstream.url,
      token,
      'vt-clean',
      '1.0.0',
      cleanPackage('vt-clean', '1.0.0'),
    );
    faulty = await startFaultyUpstream(upstream.url);
    vetted = await startVetted({
      upstream: faulty.url,
      options: { waitForVerdict: 0, workers: 2, jobTimeout: 120, maxAttempts: 1 },
    });
  });

  after(async () => {
    await vetted?.stop();
    await faulty?.close();
    await upstream?.stop();
  });

  it(`answers ${FUZZ_PATHS} generated paths with a clear status, never a 500`, async () => {
    const paths = fuzzPaths(FUZZ_PATHS);
    const statuses: Record<string, number> = {};
    const bad: string[] = [];
    let i = 0;
    const worker = async () => {
      while (i < paths.length) {
        const p = paths[i++] as string;
        let status: number;
        let body = '';
        try {
          const res = await fetch(`${vetted.url}${p}`, { signal: AbortSignal.timeout(60_000) });
          status = res.status;
          body = await res.text();
        } catch (err) {
          bad.push(`${p.slice(0, 80)}: ${(err as Error).message}`);
          continue;
        }
        statuses[status] = (statuses[status] ?? 0) + 1;
        const clear = status < 500 || (status === 503 && /cannot be verified now/.test(body));
        if (!clear) bad.push(`${p.slice(0, 80)}: ${status} ${body.slice(0, 120)}`);
        // judged on the decoded path: `%76%74…` is vt-clean spelled in percent-escapes
        if (status === 200 && p.includes('.tgz') && !decodedPath(p).includes('vt-clean')) {
          bad.push(`${p.slice(0, 80)}: 200 for a tarball that is not vt-clean`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    report(`fuzz paths: ${paths.length} requests, statuses ${JSON.stringify(statuses)}`);
    assert.deepEqual(bad.slice(0, 20), []);
    assert.equal((await vetted.api('/health')).status, 200);
  });

  it('answers generated specs and polluting bodies without polluting anything', async () => {
    const specs = fuzzSpecs(STRESS ? 5_000 : 1_000);
    // a spec over 300 characters is refused with its batch: those go one by one
    const short = specs.filter((s) => s.length <= 300);
    const long = specs.filter((s) => s.length > 300);
    for (let i = 0; i < short.length; i += 100) {
      const res = await vetted.api('/status', { body: { specs: short.slice(i, i + 100) } });
      assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
      for (const r of res.body.results) assert.ok(r.error || r.status, JSON.stringify(r));
    }
    for (const spec of long.slice(0, 20)) {
      const res = await vetted.api('/status', { body: { specs: [spec] } });
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'BAD_REQUEST');
    }
    report(`fuzz specs: ${short.length} answered one by one, ${long.length} over-long refused`);
    const polluting = [
      '{"__proto__": {"polluted": "yes", "admin": true}, "specs": ["vt-clean@1.0.0"]}',
      '{"constructor": {"prototype": {"polluted": "yes"}}, "reason": "pollute"}',
      '{"reason": "pollute", "__proto__": {"status": "verified", "polluted": "yes"}}',
    ];
    const bob = await vetted.userToken('bob');
    for (const body of polluting) {
      for (const route of ['/status', '/verify', '/versions/vt-clean/1.0.0/approve', '/tree']) {
        const res = await vetted.api(route, { token: bob, body });
        assert.ok(res.status >= 200 && res.status < 500, `${route}: ${res.status}`);
      }
    }
    // a polluted prototype would show in every answer object, or let bob decide
    const health = JSON.stringify((await vetted.api('/health')).body);
    assert.ok(!health.includes('polluted'), health);
    const asBob = await vetted.api('/versions/vt-clean/1.0.0/deny', {
      token: bob,
      body: { reason: 'after pollution' },
    });
    assert.equal(asBob.status, 403);
    for (const key of PROTO_KEYS) {
      const res = await vetted.api(`/versions/${encodeURIComponent(key)}/1.0.0`);
      assert.ok(res.status === 404 || res.status === 400, `${key}: ${res.status}`);
    }
    assert.equal((await vetted.api('/health')).status, 200);
  });

  describe('when the upstream makes up packuments', () => {
    const tarball = cleanPackage('vt-madeup', '1.0.0');
    const cases: Array<[string, string]> = [
      ['versions is an array', '{"name":"vt-madeup-a","versions":[{"version":"1.0.0"}]}'],
      ['versions is null', '{"name":"vt-madeup-b","versions":null}'],
      ['a version without dist', '{"name":"vt-madeup-c","versions":{"1.0.0":{"version":"1.0.0"}}}'],
      [
        'dist fields of the wrong type',
        '{"name":"vt-madeup-d","versions":{"1.0.0":{"dist":{"integrity":42,"tarball":["x"],"shasum":{}}}}}',
      ],
      [
        'prototype keys everywhere',
        '{"name":"vt-madeup-e","__proto__":{"x":1},"dist-tags":{"__proto__":"1.0.0"},"versions":{"__proto__":{"dist":{"integrity":"sha512-AAAA"}},"constructor":{},"1.0.0":{"__proto__":{"scripts":{"postinstall":"x"}},"dist":{"__proto__":{"integrity":"sha1-x"}}}}}',
      ],
      ['a body that is not an object', '"just a string"'],
      [
        'deeply nested JSON',
        '{"name":"vt-madeup-g","versions":' + '['.repeat(5000) + ']'.repeat(5000) + '}',
      ],
    ];
    for (const [label, raw] of cases) {
      it(`answers 4xx or 503 for a packument where ${label}, and stays up`, async () => {
        const name = `vt-madeup-${String.fromCharCode(97 + cases.findIndex((c) => c[0] === label))}`;
        faulty.fake(name, [{ version: '1.0.0', tarball }], raw);
        const res = await fetch(`${vetted.url}/${name}/-/${name}-1.0.0.tgz`);
        const body = await res.text();
        assert.ok([403, 404, 503].includes(res.status), `${res.status} ${body}`);
        assert.equal(
          (await fetch(`${vetted.url}/${name}/-/${name}-1.0.0.tgz`)).status === 200,
          false,
        );
        const meta = await fetch(`${vetted.url}/${name}`);
        assert.ok(meta.status < 500, `packument: ${meta.status}`);
        assert.equal((await vetted.api('/health')).status, 200);
      });
    }

    it('does not follow a made-up tarball URL to another host', async () => {
      faulty.fake('vt-madeup-ssrf', [
        {
          version: '1.0.0',
          tarball,
          manifest: {
            dist: { tarball: 'http://127.0.0.1:9/elsewhere.tgz', integrity: 'sha512-x' },
          },
        },
      ]);
      const res = await fetch(`${vetted.url}/vt-madeup-ssrf/-/vt-madeup-ssrf-1.0.0.tgz`);
      assert.equal(res.status, 403);
    });
  });

  describe('when tarballs are hostile', () => {
    const cases = hostilePackages('vt-hostile', '1.0.0');
    it(`ends each of ${cases.length} with a fail finding, memory and disk bounded`, async () => {
      const pid = vetted.child.pid as number;
      const rssBefore = rssOf(pid);
      const homeBefore = duBytes(vetted.home);
      const results: string[] = [];
      for (const [i, [label, bytes]] of cases.entries()) {
        const name = `vt-hostile-${i}`;
        faulty.fake(name, [{ version: '1.0.0', tarball: bytes }]);
        const res = await fetch(`${vetted.url}/${name}/-/${name}-1.0.0.tgz`);
        assert.equal(res.status, 403, label);
        const record = await waitForStatus(vetted, name, '1.0.0', 180_000);
        const failed = record.layers.filter((l: { outcome: string }) => l.outcome === 'fail');
        const codes = failed.flatMap((l: { findings: Array<{ code: string }> }) =>
          l.findings.map((f) => f.code),
        );
        results.push(`${label}: ${record.status} ${[...new Set(codes)].join(',')}`);
        assert.ok(['rejected', 'held'].includes(record.status), `${label}: ${record.status}`);
        assert.ok(failed.length > 0, `${label}: a layer fails (${JSON.stringify(record.layers)})`);
        assert.equal((await fetch(`${vetted.url}/${name}/-/${name}-1.0.0.tgz`)).status, 403);
      }
      const rssAfter = rssOf(pid);
      const peak = peakRssOf(pid);
      const homeAfter = duBytes(vetted.home);
      for (const line of results) report(`hostile tarball ${line}`);
      report(
        `hostile tarballs: server RSS ${mb(rssBefore)} -> ${mb(rssAfter)} MB (peak ${mb(peak)} MB), ` +
          `home ${mb(homeBefore)} -> ${mb(homeAfter)} MB`,
      );
      assert.ok(peak - rssBefore < MAX_RSS_GROWTH, `peak RSS grew by ${mb(peak - rssBefore)} MB`);
      assert.ok(
        homeAfter - homeBefore < MAX_HOME_BYTES,
        `home grew by ${mb(homeAfter - homeBefore)} MB`,
      );
      assert.ok(!existsSync('/tmp/escaped') && !existsSync('/tmp/vetted-absolute'));
      assert.equal((await vetted.api('/health')).status, 200);
    });
  });
});

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/** The path with each segment percent-decoded (left as is where the encoding is broken). */
function decodedPath(p: string): string {
  return p
    .split('/')
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .join('/');
}
