/**
 * The publisher identity layer end to end: vetted in front of a fixture upstream that serves
 * the real packuments of wrappy, inflight, not-licensed and tiny-tarball (with publishers and
 * signatures), the registry keys, and modified copies of eslint-scope's packument; tarballs
 * are the real ones from the machine's registry. Then vetted against that registry itself,
 * which strips publisher data.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startVetted, waitForStatus } from '../helpers/vetted';
import type { RunningVetted } from '../helpers/vetted';
import {
  IDENTITY_FIXTURES,
  fixturePackument,
  machineRegistry,
  startFixtureUpstream,
} from '../helpers/fixture-upstream';
import type { FixtureUpstream } from '../helpers/fixture-upstream';
import { npmEnv, runNpm } from '../helpers/npm';
import { bumpVersion, createGitPackage, publishPackage } from '../helpers/fixtures';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const VERDICT_MS = 180_000;

const publisherLayer = (record: Json) =>
  record.layers.find((l: { layer: string }) => l.layer === 'publisher');
const findings = (record: Json, code: string) =>
  publisherLayer(record).findings.filter((f: { code: string }) => f.code === code);

/** eslint-scope with two changes a test makes: a stranger publishes 3.7.3 three hours after
 * ivolodin's 3.7.1, and 4.0.2 had provenance that 4.0.3 lacks. */
function syntheticEslintScope() {
  const doc = fixturePackument('eslint-scope');
  const v373 = doc.versions!['3.7.3']!;
  v373._npmUser = { name: 'mallory', email: 'mallory@example.invalid' };
  doc.time!['3.7.3'] = new Date(Date.parse(doc.time!['3.7.1']!) + 3 * 3600e3).toISOString();
  const v402 = doc.versions!['4.0.2']!;
  v402.dist = {
    ...v402.dist,
    attestations: {
      url: 'https://registry.invalid/-/npm/v1/attestations/eslint-scope@4.0.2',
      provenance: { predicateType: 'https://slsa.dev/provenance/v1' },
    },
  } as never;
  return doc;
}

/** The registry's @octokit/rest document (no publisher data), with 22.0.1's real provenance. */
async function octokitWithProvenance() {
  const res = await fetch(`${machineRegistry()}@octokit%2frest`);
  assert.equal(res.status, 200);
  const doc = (await res.json()) as Json;
  doc.versions['22.0.1'].dist.attestations = {
    url: 'https://registry.invalid/-/npm/v1/attestations/@octokit%2frest@22.0.1',
    provenance: { predicateType: 'https://slsa.dev/provenance/v1' },
  };
  // listed, but the fixture upstream serves no attestations for it
  doc.versions['22.0.0'].dist.attestations = {
    url: 'https://registry.invalid/-/npm/v1/attestations/@octokit%2frest@22.0.0',
    provenance: { predicateType: 'https://slsa.dev/provenance/v1' },
  };
  return doc;
}

describe('publisher layer against a fixture upstream', { timeout: 900_000 }, () => {
  let upstream: FixtureUpstream;
  let vetted: RunningVetted;
  let token: string;

  before(async () => {
    upstream = await startFixtureUpstream({
      packuments: {
        wrappy: fixturePackument('wrappy'),
        inflight: fixturePackument('inflight'),
        'not-licensed': fixturePackument('not-licensed'),
        'tiny-tarball': fixturePackument('tiny-tarball'),
        'eslint-scope': syntheticEslintScope(),
        '@octokit/rest': await octokitWithProvenance(),
      },
      attestations: {
        '@octokit/rest@22.0.1': JSON.parse(
          readFileSync(
            path.join(IDENTITY_FIXTURES, 'attestations', '@octokit__rest@22.0.1.json'),
            'utf8',
          ),
        ),
      },
      keys: JSON.parse(readFileSync(path.join(IDENTITY_FIXTURES, 'npm-keys', 'keys.json'), 'utf8')),
    });
    vetted = await startVetted({ upstream: upstream.url, options: { waitForVerdict: 120 } });
    token = await vetted.adminToken();
    const specs = [
      'wrappy@1.0.2',
      'eslint-scope@3.7.3',
      'eslint-scope@4.0.3',
      'not-licensed@1.0.0',
      'tiny-tarball@1.0.0',
      '@octokit/rest@22.0.1',
      '@octokit/rest@22.0.0',
    ];
    const queued = await vetted.api('/verify', { token, body: { specs } });
    assert.equal(queued.status, 200, JSON.stringify(queued.body));
  });
  after(async () => {
    await vetted?.stop();
    await upstream?.close();
  });

  it("reports wrappy's new publisher with the versions and accounts, and admits it", async () => {
    const record = await waitForStatus(vetted, 'wrappy', '1.0.2', VERDICT_MS);
    assert.equal(record.status, 'verified', JSON.stringify(record.reasons));
    const [changed] = findings(record, 'PUBLISHER_CHANGED');
    assert.equal(
      changed.message,
      '1.0.2 was published by zkat; 1.0.1 by isaacs (zkat is new to this line)',
    );
    assert.deepEqual(changed.evidence.previousMaintainers, ['isaacs']);
    assert.match(record.warnings.join('\n'), /PUBLISHER_CHANGED: 1\.0\.2 was published by zkat/);
    assert.equal(publisherLayer(record).summary.parts.publishers.status, 'checked');
  });

  it("follows inflight's publishers isaacs -> othiym23 -> zkat -> isaacs", async () => {
    // one at a time, oldest first: each is compared with the newest admitted one of the line
    // (1.0.3 with 1.0.2, as nothing is admitted yet; 1.0.5 with 1.0.3, not the unseen 1.0.4)
    const expected = {
      '1.0.3': '1.0.3 was published by othiym23; 1.0.2 by isaacs (othiym23 is new to this line)',
      '1.0.5': '1.0.5 was published by zkat; 1.0.3 by othiym23 (zkat is new to this line)',
      '1.0.6': '1.0.6 was published by isaacs; 1.0.5 by zkat',
    };
    for (const [version, message] of Object.entries(expected)) {
      const queued = await vetted.api('/verify', {
        token,
        body: { specs: [`inflight@${version}`] },
      });
      assert.equal(queued.status, 200, JSON.stringify(queued.body));
      const record = await waitForStatus(vetted, 'inflight', version, VERDICT_MS);
      assert.equal(
        publisherLayer(record).summary.baseline,
        version === '1.0.3' ? 'earlier' : 'admitted',
      );
      assert.equal(findings(record, 'PUBLISHER_CHANGED')[0]?.message, message, version);
      assert.equal(record.status, 'verified', `${version}: ${record.reasons}`);
    }
    const moved = await waitForStatus(vetted, 'inflight', '1.0.5', VERDICT_MS);
    assert.equal(findings(moved, 'REPOSITORY_CHANGED').length, 1);
  });

  it('holds a version a new account published right after the usual publisher', async () => {
    const record = await waitForStatus(vetted, 'eslint-scope', '3.7.3', VERDICT_MS);
    assert.equal(record.status, 'held');
    assert.match(
      record.reasons[0],
      /^PUBLISHER_NEW_ACCOUNT: 3\.7\.3 was published by mallory, who never published this line and was not a maintainer of 3\.7\.1, 3 h after ivolodin/,
    );
  });

  it('holds a version without provenance after one with it', async () => {
    const record = await waitForStatus(vetted, 'eslint-scope', '4.0.3', VERDICT_MS);
    assert.equal(record.status, 'held');
    assert.match(
      record.reasons.join('\n'),
      /PROVENANCE_DOWNGRADE: 4\.0\.2 was published with provenance; 4\.0\.3 has none/,
    );
  });

  it("verifies real registry signatures with the upstream's keys", async () => {
    for (const name of ['not-licensed', 'tiny-tarball']) {
      const record = await waitForStatus(vetted, name, '1.0.0', VERDICT_MS);
      const layer = publisherLayer(record);
      assert.equal(layer.summary.parts.signatures.status, 'checked', name);
      assert.equal(layer.summary.keySource, 'upstream');
      assert.deepEqual(layer.summary.signedBy, [
        'SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA',
      ]);
      assert.deepEqual(findings(record, 'SIGNATURE_INVALID'), []);
    }
    assert.ok(upstream.requests.includes('/-/npm/v1/keys'));
  });

  it('verifies real provenance offline and records the source commit and workflow', async () => {
    const record = await waitForStatus(vetted, '@octokit/rest', '22.0.1', VERDICT_MS);
    const layer = publisherLayer(record);
    assert.equal(layer.summary.parts.provenance.status, 'checked');
    assert.deepEqual(
      layer.findings.filter((f: Json) => f.code.startsWith('PROVENANCE')),
      [],
    );
    assert.equal(layer.summary.provenance.commit, 'daa3ec945e9f1bb77e7ee14ea80d3e823b6d31ca');
    assert.equal(
      layer.summary.provenance.workflow,
      '.github/workflows/release.yml@refs/heads/main',
    );
    assert.equal(layer.summary.provenance.repository, 'https://github.com/octokit/rest.js');
    assert.notEqual(layer.outcome, 'unavailable');
    assert.ok(upstream.requests.includes('/-/npm/v1/attestations/@octokit%2frest@22.0.1'));
  });

  it('holds a version whose listed provenance the registry does not serve', async () => {
    const record = await waitForStatus(vetted, '@octokit/rest', '22.0.0', VERDICT_MS);
    assert.equal(record.status, 'held');
    const [unreadable] = findings(record, 'PROVENANCE_UNREADABLE');
    assert.match(unreadable.message, /^22\.0\.0 lists provenance that could not be read: .*404/);
    assert.equal(publisherLayer(record).outcome, 'fail');
    assert.match(record.reasons.join('\n'), /PROVENANCE_UNREADABLE/);
  });

  it('refuses a look-alike name with "did you mean" in npm\'s output', async () => {
    const project = mkdtempSync(path.join(tmpdir(), 'vetted-squat-'));
    const { env } = npmEnv(`${vetted.url}/`);
    const res = await runNpm(['install', 'loadsh@1.0.1', '--no-audit', '--no-fund'], {
      cwd: project,
      env,
      timeoutMs: 240_000,
    });
    assert.notEqual(res.code, 0);
    const output = `${res.stdout}\n${res.stderr}`;
    assert.match(output, /403/);
    assert.match(
      output,
      /loadsh@1\.0\.1 (held|is held for review): TYPOSQUAT: .*did you mean "lodash"\?/,
    );
  });
});

describe('publisher layer against the mirror registry', { timeout: 600_000 }, () => {
  let vetted: RunningVetted;
  before(async () => {
    vetted = await startVetted({ upstream: machineRegistry() });
  });
  after(async () => vetted?.stop());

  it('says unavailable, with the reason, and still checks the name', async () => {
    const token = await vetted.adminToken();
    await vetted.api('/verify', { token, body: { specs: ['wrappy@1.0.2'] } });
    const record = await waitForStatus(vetted, 'wrappy', '1.0.2', VERDICT_MS);
    const layer = publisherLayer(record);
    assert.equal(layer.outcome, 'unavailable');
    assert.match(layer.reason, /the registry gives no _npmUser\/maintainers for this package/);
    assert.match(layer.reason, /the registry gives no dist\.signatures for this version/);
    assert.equal(layer.summary.parts.typosquat.status, 'checked');
    assert.equal(record.status, 'verified');
    assert.match(record.warnings.join('\n'), /IDENTITY_UNAVAILABLE/);
  });

  it('fails a look-alike name even though the identity cannot be checked', async () => {
    const token = await vetted.adminToken();
    await vetted.api('/verify', { token, body: { specs: ['loadsh@1.0.1'] } });
    const record = await waitForStatus(vetted, 'loadsh', '1.0.1', VERDICT_MS);
    const layer = publisherLayer(record);
    assert.equal(layer.outcome, 'fail');
    assert.match(layer.reason, /the registry gives no _npmUser\/maintainers for this package/);
    assert.deepEqual(
      layer.findings.map((f: Json) => f.code),
      ['TYPOSQUAT', 'IDENTITY_UNAVAILABLE'],
    );
    assert.equal(record.status, 'held');
    assert.match(record.reasons[0], /^TYPOSQUAT: .*did you mean "lodash"\?/);
  });
});

describe('packages published to vetted itself', { timeout: 600_000 }, () => {
  let upstream: FixtureUpstream;
  let vetted: RunningVetted;
  before(async () => {
    upstream = await startFixtureUpstream({ packuments: {} });
    vetted = await startVetted({
      upstream: upstream.url,
      options: { waitForVerdict: 120 },
      // any logged-in user may publish vt-private-*, which never goes to the upstream
      configPatch: (config) => {
        config.packages = {
          'vt-private-*': { access: '$all', publish: '$authenticated' },
          ...config.packages,
        };
      },
    });
  });
  after(async () => {
    await vetted?.stop();
    await upstream?.close();
  });

  it('serves a private version, with its Verdaccio publisher compared like any other', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'vetted-private-'));
    const dir = await createGitPackage(root, { name: 'vt-private-lib', version: '1.0.0' });
    await publishPackage(dir, `${vetted.url}/`, await vetted.adminToken());

    const project = mkdtempSync(path.join(tmpdir(), 'vetted-private-install-'));
    const { env } = npmEnv(`${vetted.url}/`);
    const first = await runNpm(['install', 'vt-private-lib@1.0.0', '--no-audit', '--no-fund'], {
      cwd: project,
      env,
      timeoutMs: 240_000,
    });
    assert.equal(first.code, 0, first.stderr);
    const admitted = await waitForStatus(vetted, 'vt-private-lib', '1.0.0', VERDICT_MS);
    assert.equal(admitted.status, 'verified', JSON.stringify(admitted.reasons));
    assert.equal(publisherLayer(admitted).summary.publisher, 'admin');

    // a second account publishes the next version minutes after the usual publisher
    await bumpVersion(dir, '1.0.1');
    await publishPackage(dir, `${vetted.url}/`, await vetted.userToken('bob'));
    const second = await runNpm(['install', 'vt-private-lib@1.0.1', '--no-audit', '--no-fund'], {
      cwd: project,
      env,
      timeoutMs: 240_000,
    });
    assert.notEqual(second.code, 0, second.stdout);
    const held = await waitForStatus(vetted, 'vt-private-lib', '1.0.1', VERDICT_MS);
    assert.equal(held.status, 'held');
    assert.match(
      held.reasons[0],
      /^PUBLISHER_NEW_ACCOUNT: 1\.0\.1 was published by bob, .* after admin published 1\.0\.0/,
    );
    assert.match(`${second.stdout}${second.stderr}`, /PUBLISHER_NEW_ACCOUNT/);

    // bob's next version is compared with admin's admitted 1.0.0, not with bob's held 1.0.1
    await bumpVersion(dir, '1.0.2');
    await publishPackage(dir, `${vetted.url}/`, await vetted.userToken('bob'));
    const third = await runNpm(['install', 'vt-private-lib@1.0.2', '--no-audit', '--no-fund'], {
      cwd: project,
      env,
      timeoutMs: 240_000,
    });
    assert.notEqual(third.code, 0, third.stdout);
    const again = await waitForStatus(vetted, 'vt-private-lib', '1.0.2', VERDICT_MS);
    assert.equal(again.status, 'held');
    assert.match(
      again.reasons[0],
      /^PUBLISHER_NEW_ACCOUNT: 1\.0\.2 was published by bob, who published no admitted version of this line and was not a maintainer of 1\.0\.0; their first release since, 1\.0\.1, came 0 h after admin published 1\.0\.0/,
    );
    assert.equal(publisherLayer(again).summary.previous, '1.0.0');
    assert.deepEqual(publisherLayer(again).summary.skipped, ['1.0.1']);
  });
});
