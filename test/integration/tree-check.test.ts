/**
 * `vetted check` end to end: lockfiles from npm, yarn 1, yarn 4 and pnpm for express@4.18.2's
 * tree from the real registry (pre-verified with --wait on a fresh index, then instant); a
 * fixture tree with a held package deep inside, a revoked one and one named by a malicious
 * advisory; the deploy-time check of an installed node_modules; the SBOM and the attestation.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startVerdaccio, createUser } from '../helpers/verdaccio';
import type { RunningVerdaccio } from '../helpers/verdaccio';
import { createGitPackage, publishPackage } from '../helpers/fixtures';
import { npmEnv, runNpm } from '../helpers/npm';
import { startVetted, waitForStatus } from '../helpers/vetted';
import type { RunningVetted } from '../helpers/vetted';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'vetted.js');
const LOCKFILES = path.resolve(
  __dirname,
  '..',
  '..',
  '..',
  'test',
  'fixtures',
  'lockfiles',
  'express-4.18.2',
);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>, timeoutMs = 600_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function json(result: CliResult): Json {
  try {
    return JSON.parse(result.stdout);
  } catch {
    assert.fail(`not JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

describe('vetted check on express@4.18.2 from the real registry', { timeout: 900_000 }, () => {
  let vetted: RunningVetted;
  let env: Record<string, string>;
  const dirs: string[] = [];

  before(async () => {
    const upstream = execFileSync('npm', ['config', 'get', 'registry'], {
      encoding: 'utf8',
    }).trim();
    vetted = await startVetted({ upstream });
    env = { VETTED_URL: vetted.url, VETTED_TOKEN: await vetted.adminToken() };
  });
  after(async () => {
    await vetted?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('--wait verifies the whole fresh tree in one pass, with a progress bar', async () => {
    const res = await cli(['check', path.join(LOCKFILES, 'npm'), '--wait', '--json'], env);
    const report = json(res);
    assert.equal(res.code, 0, `${res.stderr}\n${JSON.stringify(report.notAdmitted, null, 1)}`);
    assert.equal(report.total, 71);
    assert.equal(report.counts.verified, 71);
    assert.match(res.stderr, /verifying \[[#-]{24}\] \d+\/71 decided/);
    assert.match(res.stderr, /\[#{24}\] 71\/71 decided · 0 pending/);
    // one pass: every version was queued by the first call, none by a 403 on the way
    const audit = (await vetted.api('/audit?limit=10000')).body.entries as Json[];
    assert.equal(audit.filter((e) => e.action === 'verdict').length, 71);
  });

  it('reports the same nodes and statuses from npm, yarn 1, yarn 4 and pnpm lockfiles, at once', async () => {
    const auditBefore = (await vetted.api('/audit?limit=10000')).body.entries.length;
    const sets: Record<string, string[]> = {};
    for (const client of ['npm', 'yarn1', 'yarn4', 'pnpm']) {
      const started = Date.now();
      const res = await cli(['check', path.join(LOCKFILES, client), '--json'], env);
      const report = json(res);
      assert.equal(res.code, 0, `${client}: ${res.stdout.slice(0, 2000)}`);
      sets[client] = report.results.map((r: Json) => `${r.name}@${r.version} ${r.status}`).sort();
      process.stderr.write(`# check of the ${client} lockfile: ${Date.now() - started} ms\n`);
    }
    assert.equal(sets.npm!.length, 71);
    assert.deepEqual(sets.yarn1, sets.npm);
    assert.deepEqual(sets.yarn4, sets.npm);
    assert.deepEqual(sets.pnpm, sets.npm);
    // --wait on a tree vetted has decided on needs no login: there is nothing to queue
    const anonymous = await cli(['check', path.join(LOCKFILES, 'npm'), '--wait'], {
      VETTED_URL: env.VETTED_URL!,
      VETTED_TOKEN: '',
      HOME: mkdtempSync(path.join(tmpdir(), 'vetted-nologin-')),
    });
    assert.equal(anonymous.code, 0, `${anonymous.stdout}\n${anonymous.stderr}`);
    // nothing was verified again
    assert.equal((await vetted.api('/audit?limit=10000')).body.entries.length, auditBefore);
    assert.equal((await vetted.api('/queue')).body.depth.queued, 0);
  });

  it('the deploy-time check over node_modules catches a file edited after install', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vetted-deploy-'));
    dirs.push(dir);
    cpSync(path.join(LOCKFILES, 'npm'), dir, { recursive: true });
    const { env: npm } = npmEnv(`${vetted.url}/`, { token: env.VETTED_TOKEN! });
    const install = await runNpm(['ci', '--ignore-scripts', '--no-audit'], {
      cwd: dir,
      env: npm,
      timeoutMs: 300_000,
    });
    assert.equal(install.code, 0, install.stderr);

    const clean = await cli(['check', path.join(dir, 'node_modules'), '--json'], env);
    const cleanReport = json(clean);
    assert.equal(clean.code, 0, JSON.stringify(cleanReport.installed?.changed));
    assert.equal(cleanReport.installed.checked, 71);

    appendFileSync(path.join(dir, 'node_modules', 'debug', 'src', 'index.js'), '\n// added\n');
    rmSync(path.join(dir, 'node_modules', 'vary', 'README.md'));
    const res = await cli(['check', path.join(dir, 'node_modules')], env);
    assert.equal(res.code, 2, res.stdout);
    assert.match(
      res.stdout,
      /CHANGED debug@2\.6\.9 at .*node_modules\/debug\n\s+modified: src\/index\.js/,
    );
    assert.match(res.stdout, /CHANGED vary@1\.1\.2 at .*\n\s+missing: +README\.md/);

    // an added extensionless `index` wins over `index.js` for `main: "./index"`: a change too
    writeFileSync(path.join(dir, 'node_modules', 'ms', 'index'), 'module.exports = () => 0;\n');
    const added = await cli(['check', path.join(dir, 'node_modules')], env);
    assert.equal(added.code, 2, added.stdout);
    assert.match(added.stdout, /CHANGED ms@2\.0\.0 at .*node_modules\/ms\n\s+added: +index\n/);
  });

  it('a lockfile whose integrity is not the verified one fails the check', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vetted-lock-integrity-'));
    dirs.push(dir);
    const lock = JSON.parse(
      readFileSync(path.join(LOCKFILES, 'npm', 'package-lock.json'), 'utf8'),
    ) as Json;
    const other = lock.packages['node_modules/ms'].integrity as string;
    lock.packages['node_modules/vary'].integrity = other;
    writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
    writeFileSync(
      path.join(dir, 'package.json'),
      readFileSync(path.join(LOCKFILES, 'npm', 'package.json')),
    );
    const res = await cli(['check', dir, '--json'], env);
    assert.equal(res.code, 2, res.stdout.slice(0, 2000));
    const report = json(res);
    assert.deepEqual(
      report.integrityMismatch.map((m: Json) => `${m.name}@${m.version}`),
      ['vary@1.1.2'],
    );
    assert.equal(report.integrityMismatch[0].locked, other);
  });

  it('writes a CycloneDX SBOM and a signed attestation that `vetted attest verify` checks', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vetted-attest-'));
    dirs.push(dir);
    const sbom = path.join(dir, 'sbom.json');
    const attestation = path.join(dir, 'attestation.json');
    const lockfile = path.join(LOCKFILES, 'pnpm', 'pnpm-lock.yaml');
    const res = await cli(
      ['check', path.dirname(lockfile), '--sbom', sbom, '--attest', attestation],
      env,
    );
    assert.equal(res.code, 0, res.stdout);

    const bom = JSON.parse(readFileSync(sbom, 'utf8')) as Json;
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.components.length, 71);
    const express = bom.components.find((c: Json) => c.name === 'express');
    assert.equal(express.purl, 'pkg:npm/express@4.18.2');
    assert.ok(express.hashes.some((h: Json) => h.alg === 'SHA-512'));
    const props = Object.fromEntries(express.properties.map((p: Json) => [p.name, p.value]));
    assert.equal(props['vetted:status'], 'verified');
    assert.ok(
      bom.dependencies.some(
        (d: Json) => d.ref === 'project' && d.dependsOn.includes('express@4.18.2'),
      ),
    );

    // the server signs only for a logged-in user, and only the lockfile it parsed itself
    const anonymous = await fetch(`${vetted.url}/-/vetted/api/tree/attest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        lockfile: { name: 'pnpm-lock.yaml', text: readFileSync(lockfile, 'utf8') },
      }),
    });
    assert.equal(anonymous.status, 401);
    const ok = await cli(['attest', 'verify', attestation, '--lockfile', lockfile], env);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /attestation OK: .* every package admitted/);

    // another lockfile, or a statement changed after signing, fails
    const other = await cli(
      [
        'attest',
        'verify',
        attestation,
        '--lockfile',
        path.join(LOCKFILES, 'npm', 'package-lock.json'),
      ],
      env,
    );
    assert.equal(other.code, 2);
    assert.match(other.stdout, /not the lockfile this statement covers/);
    const envelope = JSON.parse(readFileSync(attestation, 'utf8')) as Json;
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString()) as Json;
    statement.predicate.components[0].status = 'held';
    envelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    const forged = path.join(dir, 'forged.json');
    writeFileSync(forged, JSON.stringify(envelope));
    const bad = await cli(['attest', 'verify', forged], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stdout, /INVALID: the signature does not verify/);
    // a key file that is not a key is a usage error, not a verdict on the attestation
    const notKey = path.join(dir, 'key.json');
    writeFileSync(notKey, '{}');
    const wrongKey = await cli(['attest', 'verify', attestation, '--key', notKey], env);
    assert.equal(wrongKey.code, 1, wrongKey.stdout);
    assert.match(wrongKey.stderr, /key\.json is not a PEM public key/);
  });
});

describe('vetted check on a fixture tree with blocked packages', { timeout: 600_000 }, () => {
  let upstream: RunningVerdaccio;
  let vetted: RunningVetted;
  let work: string;
  let env: Record<string, string>;
  let lockDir: string;

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'vetted-tree-'));
    upstream = await startVerdaccio({});
    const token = await createUser(upstream.url, 'alice', 'alice-password');
    const publish = async (spec: Parameters<typeof createGitPackage>[1]) =>
      publishPackage(
        await createGitPackage(path.join(work, 'src', spec.version), spec),
        upstream.url,
        token,
      );
    const advisories = path.join(work, 'advisories');
    cpSync(path.join(LOCKFILES, '..', '..', 'osv'), advisories, { recursive: true });
    vetted = await startVetted({ upstream: upstream.url, options: { advisories } });
    env = { VETTED_URL: vetted.url, VETTED_TOKEN: await vetted.adminToken() };

    // versions admitted before the tree moved on: replacements for what follows
    await publish({ name: 'vt8-leaf', version: '1.0.0' });
    await publish({ name: 'vt8-util', version: '1.0.0' });
    for (const [name, version] of [
      ['vt8-leaf', '1.0.0'],
      ['vt8-util', '1.0.0'],
    ] as const) {
      await vetted.api('/verify', {
        token: env.VETTED_TOKEN!,
        body: { specs: [`${name}@${version}`] },
      });
      assert.equal((await waitForStatus(vetted, name, version, 120_000)).status, 'verified');
    }
    // the leaf's new version spawns a shell at install: held
    await publish({
      name: 'vt8-leaf',
      version: '1.1.0',
      packageJson: { scripts: { postinstall: 'sh -c "echo fetching more"' } },
    });
    await publish({ name: 'vt8-util', version: '1.0.1' });
    await publish({ name: 'vt8-adv', version: '1.0.0' });
    await publish({
      name: 'vt8-mid-a',
      version: '1.0.0',
      packageJson: { dependencies: { 'vt8-leaf': '^1.0.0', 'vt8-util': '^1.0.0' } },
    });
    await publish({
      name: 'vt8-mid-b',
      version: '1.0.0',
      packageJson: { dependencies: { 'vt8-leaf': '^1.0.0', 'vt8-adv': '1.0.0' } },
    });
    await publish({
      name: 'vt8-top',
      version: '1.0.0',
      packageJson: { dependencies: { 'vt8-mid-a': '^1.0.0', 'vt8-mid-b': '^1.0.0' } },
    });
    // the project's lockfile, resolved against the upstream (metadata only)
    lockDir = path.join(work, 'project');
    execFileSync('mkdir', ['-p', lockDir]);
    writeFileSync(
      path.join(lockDir, 'package.json'),
      JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { 'vt8-top': '^1.0.0' } }),
    );
    const lock = await runNpm(['install', '--package-lock-only', '--ignore-scripts'], {
      cwd: lockDir,
      env: npmEnv(`${upstream.url}/`).env,
    });
    assert.equal(lock.code, 0, lock.stderr);
  });
  after(async () => {
    await vetted?.stop();
    await upstream?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('names each blocked package with every path to it and the admitted replacement', async () => {
    const res = await cli(['check', lockDir, '--wait', '--json'], env);
    assert.equal(res.code, 2, res.stderr);
    const report = json(res);
    assert.equal(report.total, 6);
    // this lockfile was resolved against the upstream directly: `npm ci` would bypass vetted
    assert.equal(report.resolvedElsewhere.length, 6);
    assert.ok(report.resolvedElsewhere[0].resolved.startsWith(upstream.url));
    const leaf = report.notAdmitted.find((r: Json) => r.name === 'vt8-leaf');
    assert.equal(leaf.version, '1.1.0');
    assert.equal(leaf.status, 'held');
    assert.match(leaf.reasons.join(' '), /SHELL_SPAWN/);
    assert.equal(leaf.pathCount, 2);
    assert.deepEqual(leaf.paths.map((p: string[]) => p.join(' > ')).sort(), [
      'vt8-top@1.0.0 > vt8-mid-a@1.0.0 > vt8-leaf@1.1.0',
      'vt8-top@1.0.0 > vt8-mid-b@1.0.0 > vt8-leaf@1.1.0',
    ]);
    assert.equal(leaf.replacement.version, '1.0.0');
    assert.deepEqual(leaf.replacement.ranges, ['^1.0.0']);

    // a malicious-package advisory rejects, and check lists it
    const adv = report.notAdmitted.find((r: Json) => r.name === 'vt8-adv');
    assert.equal(adv.status, 'rejected');
    assert.match(adv.reasons.join(' '), /KNOWN_MALICIOUS: MAL-2026-0001/);
    assert.equal(report.vulnerable[0].advisories[0].id, 'MAL-2026-0001');
    assert.equal(adv.replacement.note, 'no version of vt8-adv is admitted yet');

    // the human form says the same
    const text = await cli(['check', lockDir], env);
    assert.equal(text.code, 2);
    assert.match(text.stdout, /vt8-leaf@1\.1\.0 {2}HELD/);
    assert.match(text.stdout, /blocks these paths \(2 of 2\):/);
    assert.match(text.stdout, / {8}vt8-top@1\.0\.0 > vt8-mid-a@1\.0\.0 > vt8-leaf@1\.1\.0/);
    assert.match(
      text.stdout,
      /use: {2}vt8-leaf@1\.0\.0, the newest admitted version satisfying \^1\.0\.0/,
    );
    assert.match(text.stdout, /MAL-2026-0001 MALICIOUS/);

    // the attestation of this lockfile says so: the server read the held leaf from it
    const attestation = path.join(work, 'tree.intoto.json');
    assert.equal((await cli(['check', lockDir, '--attest', attestation], env)).code, 2);
    const verified = await cli(
      ['attest', 'verify', attestation, '--lockfile', path.join(lockDir, 'package-lock.json')],
      env,
    );
    assert.equal(verified.code, 0, verified.stdout);
    assert.match(verified.stdout, /attestation OK: .* NOT every package admitted: .*"held":1/);
  });

  it('a revocation names the version to roll back to, and check says so', async () => {
    const revoke = await vetted.api('/versions/vt8-util/1.0.1/revoke', {
      token: env.VETTED_TOKEN!,
      body: { reason: 'maintainer account compromised' },
    });
    assert.equal(revoke.status, 200, JSON.stringify(revoke.body));
    assert.deepEqual(revoke.body.alternatives, ['1.0.0']);
    const report = json(await cli(['check', lockDir, '--json'], env));
    const util = report.notAdmitted.find((r: Json) => r.name === 'vt8-util');
    assert.equal(util.status, 'revoked');
    assert.equal(util.replacement.version, '1.0.0');
  });

  it('a malicious advisory published after the verdict revokes the admitted version at start', async () => {
    assert.equal((await vetted.api('/versions/vt8-mid-a/1.0.0')).body.status, 'verified');
    const advisories = path.join(work, 'advisories');
    writeFileSync(
      path.join(advisories, 'MAL-2026-0002.json'),
      JSON.stringify({
        id: 'MAL-2026-0002',
        summary: 'Malicious code in vt8-mid-a (npm)',
        affected: [{ package: { ecosystem: 'npm', name: 'vt8-mid-a' }, versions: ['1.0.0'] }],
      }),
    );
    const home = vetted.home;
    await vetted.stop();
    vetted = await startVetted({ upstream: upstream.url, home, options: { advisories } });
    env.VETTED_URL = vetted.url;
    env.VETTED_TOKEN = await vetted.adminToken();
    const record = (await vetted.api('/versions/vt8-mid-a/1.0.0')).body;
    assert.equal(record.status, 'revoked');
    assert.equal(record.decidedBy.name, 'advisories');
    assert.match(record.reason, /MAL-2026-0002/);
    const audit = await cli(['audit', 'verify', '--json'], env);
    assert.equal(json(audit).ok, true);

    // an admin who approves it after reviewing the advisory keeps that decision across starts
    const approved = await vetted.api('/versions/vt8-mid-a/1.0.0/approve', {
      token: env.VETTED_TOKEN,
      body: { reason: 'false positive, reviewed' },
    });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    await vetted.stop();
    vetted = await startVetted({ upstream: upstream.url, home, options: { advisories } });
    assert.equal((await vetted.api('/versions/vt8-mid-a/1.0.0')).body.status, 'approved');
    assert.match(vetted.output.text(), /advisory not applied: vt8-mid-a@1\.0\.0 was approved/);
    assert.doesNotMatch(vetted.output.text(), /ADVISORY ALERT: revoked vt8-mid-a/);
  });
});
