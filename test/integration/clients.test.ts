/**
 * Client compatibility: npm 11, yarn 1.22, yarn 4, pnpm 10 and bun install through vetted.
 * One upstream Verdaccio (fixture packages published from git, everything else proxied from the
 * machine's registry) and one vetted serve every client; each client gets its own package
 * (`vt-<client>-lib`: 1.0.0 and 1.1.0 verified, 1.2.0 held and upstream `latest`) so its
 * approvals and revocations do not touch the others, and its own HOME and caches per project.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startVerdaccio, createUser } from '../helpers/verdaccio';
import type { RunningVerdaccio } from '../helpers/verdaccio';
import { bumpVersion, createGitPackage, publishPackage } from '../helpers/fixtures';
import { startFaultyUpstream } from '../helpers/faulty-upstream';
import type { FaultyUpstream } from '../helpers/faulty-upstream';
import { startVetted, waitForStatus } from '../helpers/vetted';
import type { RunningVetted } from '../helpers/vetted';
import { clientProject, CLIENTS, installClient, runClient } from '../helpers/clients';
import type { ClientName, ClientProject } from '../helpers/clients';

const CLIENT_NAMES: ClientName[] = ['npm', 'yarn1', 'yarn4', 'pnpm', 'bun'];
// chalk@4.1.2's whole tree: a small real tree from the registry
const REAL_TREE = [
  'chalk@4.1.2',
  'ansi-styles@4.3.0',
  'supports-color@7.2.0',
  'has-flag@4.0.0',
  'color-convert@2.0.1',
  'color-name@1.1.4',
];
const FIXTURE_TREE = ['vt-tree-dep@1.0.0', '@vt/tree-scoped@1.0.0', 'vt-tree-app@1.0.0'];
const HELD_SCRIPT = { postinstall: 'sh -c "echo configuring"' };

const LOCKFILES = ['package-lock.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lock', 'bun.lockb'];
// yarn 1 prints only the standard status text, bun only the code: the reason is in vetted's log
const HIDES_REASON = new Set<ClientName>(['yarn1', 'bun']);

const lib = (client: ClientName) => `vt-${client}-lib`;

/**
 * What each client prints for an exact version that vetted withheld from the metadata: npm reads
 * `policyRestrictions` and prints our reason; the others resolve against `versions` only and say
 * that no version matches, in their own words.
 */
const WITHHELD_TEXT: Record<ClientName, (name: string) => RegExp> = {
  npm: (name) => new RegExp(`E403[\\s\\S]*${name}@1\\.2\\.0 is held for review: SHELL_SPAWN`),
  yarn1: (name) => new RegExp(`Couldn't find any versions for "${name}" that matches "1\\.2\\.0"`),
  yarn4: (name) => new RegExp(`YN0082.*${name}@npm:1\\.2\\.0: No candidates found`),
  pnpm: (name) => new RegExp(`ERR_PNPM_NO_MATCHING_VERSION.*${name}@1\\.2\\.0`),
  bun: (name) =>
    new RegExp(
      `No version matching "1\\.2\\.0" found for specifier "${name}" \\(but package exists\\)`,
    ),
};

/** The audit command, and what each client prints when the upstream has no audit endpoint. */
const AUDIT: Record<ClientName, { args: string[]; text?: RegExp }> = {
  npm: {
    args: ['audit'],
    text: /audit 404 Not Found - POST \S+\/-\/npm\/v1\/security\/advisories\/bulk - the upstream registry does not support this request \(HTTP 405[\s\S]*audit endpoint returned an error/,
  },
  // yarn 1 sends `yarn audit` to registry.yarnpkg.com whatever the project's registry: never to vetted
  yarn1: { args: ['audit', '--non-interactive'] },
  yarn4: {
    args: ['npm', 'audit'],
    text: /the upstream registry does not support this request \(HTTP 405[\s\S]*Response code 404/,
  },
  pnpm: {
    args: ['audit'],
    text: /ERR_PNPM_AUDIT_ENDPOINT_NOT_EXISTS\s+The audit endpoint \(at \S+\/-\/npm\/v1\/security\/audits\/quick\)/,
  },
  bun: { args: ['audit'], text: /POST \S+\/-\/npm\/v1\/security\/advisories\/bulk - 404/ },
};

function installedVersion(project: ClientProject, name: string): string | undefined {
  const file = path.join(project.dir, 'node_modules', name, 'package.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).version : undefined;
}

/** Whether `name@version` is anywhere in the tree (pnpm keeps transitive ones under .pnpm). */
function installed(project: ClientProject, name: string, version: string): boolean {
  const pnpmDir = path.join(
    project.dir,
    'node_modules',
    '.pnpm',
    `${name.replace('/', '+')}@${version}`,
  );
  return installedVersion(project, name) === version || existsSync(pnpmDir);
}

function output(res: { stdout: string; stderr: string }): string {
  return `${res.stdout}\n${res.stderr}`;
}

/** What the client shows the user about the failure, for the test report. */
function errorLines(res: { stdout: string; stderr: string }): string {
  const lines = output(res).split('\n');
  return (
    lines
      .filter((l) => /error|ERR_|YN0|403|forbidden|revoked|held|No matching|Couldn't find/i.test(l))
      .filter((l) => !/^\s+at /.test(l) && !/YN0000/.test(l))
      .slice(0, 4)
      // a client's crash can print a whole line of its minified bundle
      .map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l))
      .join(' | ')
  );
}

const split = (spec: string) => {
  const at = spec.lastIndexOf('@');
  return [spec.slice(0, at), spec.slice(at + 1)] as const;
};

describe('clients through vetted', { timeout: 900_000 }, () => {
  let upstream: RunningVerdaccio;
  /** Between vetted and the upstream: plays a mirror without the audit endpoints (405). */
  let hop: FaultyUpstream;
  let vetted: RunningVetted;
  let admin: string;
  const bins = new Map<ClientName, string>();

  before(async () => {
    const registry = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' });
    for (const client of CLIENT_NAMES) bins.set(client, await installClient(client));
    const work = mkdtempSync(path.join(tmpdir(), 'vetted-clients-'));
    upstream = await startVerdaccio({ uplink: registry.trim() });
    const token = await createUser(upstream.url, 'alice', 'alice-password');
    const publish = async (spec: Parameters<typeof createGitPackage>[1]) => {
      const dir = await createGitPackage(work, spec);
      await publishPackage(dir, upstream.url, token);
      return dir;
    };
    await publish({ name: 'vt-tree-dep', version: '1.0.0' });
    await publish({ name: '@vt/tree-scoped', version: '1.0.0' });
    await publish({
      name: 'vt-tree-app',
      version: '1.0.0',
      packageJson: { dependencies: { 'vt-tree-dep': '^1.0.0', '@vt/tree-scoped': '^1.0.0' } },
    });
    await Promise.all(
      CLIENT_NAMES.map(async (client) => {
        const dir = await publish({ name: lib(client), version: '1.0.0' });
        await bumpVersion(dir, '1.1.0');
        await publishPackage(dir, upstream.url, token);
        await bumpVersion(dir, '1.2.0');
        const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
        await bumpVersion(dir, '1.2.0', {
          'package.json': JSON.stringify({ ...manifest, scripts: HELD_SCRIPT }, null, 2),
        });
        await publishPackage(dir, upstream.url, token);
      }),
    );

    hop = await startFaultyUpstream(upstream.url);
    vetted = await startVetted({ upstream: hop.url, options: { waitForVerdict: 25 } });
    admin = await vetted.adminToken();
    const libs = CLIENT_NAMES.flatMap((c) =>
      ['1.0.0', '1.1.0', '1.2.0'].map((v) => `${lib(c)}@${v}`),
    );
    const specs = [...FIXTURE_TREE, ...REAL_TREE, ...libs];
    assert.equal((await vetted.api('/verify', { token: admin, body: { specs } })).status, 200);
    for (const spec of specs) {
      const [name, version] = split(spec);
      const record = await waitForStatus(vetted, name, version, 240_000);
      const expected = version === '1.2.0' && name.endsWith('-lib') ? 'held' : 'verified';
      assert.equal(record.status, expected, `${spec}: ${JSON.stringify(record.reasons)}`);
    }
  });

  after(async () => {
    await vetted?.stop();
    await hop?.close();
    await upstream?.stop();
  });

  const decide = async (spec: string, action: string, reason: string) => {
    const [name, version] = split(spec);
    const res = await vetted.api(`/versions/${encodeURIComponent(name)}/${version}/${action}`, {
      token: admin,
      body: { reason },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };

  for (const client of CLIENT_NAMES) {
    describe(client, () => {
      const project = (deps: Record<string, string>, home?: string) =>
        clientProject(client, bins.get(client) ?? '', vetted.url, deps, home);
      const install = (p: ClientProject) => runClient(p, CLIENTS[client].install);
      let blocked: ClientProject;

      it('installs a fixture tree and a real tree', async () => {
        const p = project({ 'vt-tree-app': '^1.0.0', chalk: '4.1.2' });
        const res = await install(p);
        assert.equal(res.code, 0, output(res));
        assert.equal(installedVersion(p, 'vt-tree-app'), '1.0.0');
        assert.ok(installed(p, '@vt/tree-scoped', '1.0.0'));
        assert.equal(installedVersion(p, 'chalk'), '4.1.2');
        assert.ok(installed(p, 'color-name', '1.1.4'));
      });

      it('refuses a withheld exact version; npm shows the reason, vetted logs it', async (t) => {
        blocked = project({ [lib(client)]: '1.2.0' });
        const res = await install(blocked);
        t.diagnostic(errorLines(res));
        assert.notEqual(res.code, 0, output(res));
        assert.match(output(res), WITHHELD_TEXT[client](lib(client)), output(res));
        // the operator's side: one line per package and status, with the reason and the report
        const line = new RegExp(
          `withheld ${lib(client)}@1\\.2\\.0 \\(held\\): SHELL_SPAWN[^;]*; report: http://\\S+/-/vetted/api/versions/${lib(client)}/1\\.2\\.0`,
        );
        assert.match(vetted.output.text(), line);
      });

      it('reports an upstream without audit endpoints as a missing endpoint', async (t) => {
        const p = project({ [lib(client)]: '1.0.0' });
        const first = await install(p);
        assert.equal(first.code, 0, output(first));
        const asked = hop.counts.other;
        await hop.setMode('html405', 'other');
        let res;
        try {
          res = await runClient(p, AUDIT[client].args);
        } finally {
          await hop.setMode('pass');
        }
        t.diagnostic(errorLines(res));
        assert.notEqual(res.code, 0, output(res));
        const text = AUDIT[client].text;
        if (text) {
          assert.match(output(res), text, output(res));
          assert.ok(hop.counts.other > asked, 'the audit reached the upstream through vetted');
        } else {
          assert.equal(hop.counts.other, asked, 'yarn 1 asked vetted for an audit');
        }
        // (yarn 4 prints a line of its minified source, so only a status counts)
        assert.doesNotMatch(output(res), /(HTTP|code:?|status) 500\b|Internal Server Error/i);
      });

      it('resolves a range whose newest version is held to the newest admitted one', async () => {
        const p = project({ [lib(client)]: '^1.0.0' });
        const res = await install(p);
        assert.equal(res.code, 0, output(res));
        assert.equal(installedVersion(p, lib(client)), '1.1.0');
      });

      it('installs pkg@latest when the upstream latest is held', async () => {
        const p = project({ [lib(client)]: 'latest' });
        const res = await install(p);
        assert.equal(res.code, 0, output(res));
        assert.equal(installedVersion(p, lib(client)), '1.1.0');
      });

      it('fails a lockfile install of a revoked version with the reason', async (t) => {
        const p = project({ [lib(client)]: '1.1.0' });
        const first = await install(p);
        assert.equal(first.code, 0, output(first));
        await decide(`${lib(client)}@1.1.0`, 'revoke', 'maintainer account compromised');
        // a clean machine with the committed project: lockfile, no node_modules, empty caches
        const fresh = project({});
        for (const file of ['package.json', ...LOCKFILES]) {
          if (existsSync(path.join(p.dir, file)))
            cpSync(path.join(p.dir, file), path.join(fresh.dir, file));
        }
        const res = await runClient(fresh, CLIENTS[client].frozen);
        t.diagnostic(errorLines(res));
        assert.notEqual(res.code, 0, output(res));
        assert.match(output(res), new RegExp(`${lib(client)}-1\\.1\\.0\\.tgz`), output(res));
        if (HIDES_REASON.has(client)) assert.match(output(res), /403/, output(res));
        else assert.match(output(res), /vt-\w+-lib@1\.1\.0 revoked/, output(res));
        // and the server says why, with where to read the report
        const line = new RegExp(
          `refused ${lib(client)}@1\\.1\\.0 \\(revoked\\): admin: maintainer account compromised; report: http://\\S+/-/vetted/api/versions/${lib(client)}/1\\.1\\.0`,
        );
        assert.match(vetted.output.text(), line);
      });

      it('installs a held version at once after approval', async () => {
        await decide(`${lib(client)}@1.2.0`, 'approve', 'postinstall reviewed');
        const res = await install(blocked);
        assert.equal(res.code, 0, output(res));
        assert.equal(installedVersion(blocked, lib(client)), '1.2.0');
      });
    });
  }
});
