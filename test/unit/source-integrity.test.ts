/**
 * The pure parts of the source layer: repository forms, tag names, mirror mapping, tarball
 * comparison (normalised order, mtimes, modes, gzip; classification; diff excerpts), the
 * findings made of a comparison, and the `sources` options.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, utimesSync, chmodSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { cloneUrl, repositoryOf, tagCandidates } from '../../src/verify/source/locate';
import { applyMirrors, hostOf } from '../../src/verify/source/mirrors';
import { classify, compareTarballs } from '../../src/verify/source/compare';
import { findingsOf } from '../../src/verify/source/findings';
import { unifiedExcerpt } from '../../src/verify/source/text-diff';
import { keysFor } from '../../src/verify/layers/source-integrity';
import { publicReason } from '../../src/run-bounded';
import {
  nonRegistryDependencies,
  toRegistryLock,
  workspaceManifestPaths,
} from '../../src/verify/source/host-install';
import { parseOptions } from '../../src/config/options';

async function tarball(
  files: Record<string, string>,
  opts: { order?: string[]; mtime?: Date; mode?: number; top?: string } = {},
): Promise<Buffer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vetted-compare-'));
  try {
    const top = opts.top ?? 'package';
    for (const [rel, text] of Object.entries(files)) {
      const file = path.join(dir, top, rel);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, text);
      if (opts.mtime) utimesSync(file, opts.mtime, opts.mtime);
      if (opts.mode) chmodSync(file, opts.mode);
    }
    const out = path.join(dir, 'out.tgz');
    const order = (opts.order ?? Object.keys(files)).map((f) => `${top}/${f}`);
    await tar.c({ gzip: { level: opts.mtime ? 1 : 9 }, cwd: dir, file: out }, order);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('locating the source', () => {
  const cases: Array<[string, unknown, string | RegExp]> = [
    ['github shorthand', 'github:acme/x', 'https://github.com/acme/x.git'],
    ['bare user/repo', 'acme/x', 'https://github.com/acme/x.git'],
    ['git+https', 'git+https://github.com/acme/x.git', 'https://github.com/acme/x.git'],
    ['scp-like on a known host', 'git@github.com:acme/x.git', 'https://github.com/acme/x.git'],
    ['gitlab', 'https://gitlab.com/acme/x', 'https://gitlab.com/acme/x.git'],
    [
      'own server over ssh',
      'git@git.corp.example:team/x.git',
      'ssh://git@git.corp.example/team/x.git',
    ],
    [
      'own server over https',
      'git+https://git.corp.example/team/x.git#main',
      'https://git.corp.example/team/x.git',
    ],
    [
      'object with directory',
      { type: 'git', url: 'https://github.com/acme/mono', directory: './packages/a/' },
      'https://github.com/acme/mono.git',
    ],
    ['no repository', undefined, 'no repository in package.json'],
    ['object without url', { type: 'git' }, /without a url/],
    ['not a URL', 'not a url at all', /not a URL git can clone/],
    [
      'directory leaving the repository',
      { url: 'https://github.com/a/b', directory: '../x' },
      /leaves the repository/,
    ],
  ];
  for (const [label, repository, want] of cases) {
    it(`reads ${label}`, () => {
      const got = repositoryOf({ repository });
      if (typeof want === 'string' && typeof got !== 'string') assert.equal(got.url, want);
      else if (typeof got === 'string')
        assert.match(got, want instanceof RegExp ? want : new RegExp(want));
      else assert.fail(`expected a reason, got ${JSON.stringify(got)}`);
    });
  }
  it('keeps the directory of a monorepo package, cleaned', () => {
    const got = repositoryOf({
      repository: { url: 'https://github.com/acme/mono', directory: './packages/a/' },
    });
    assert.equal(typeof got !== 'string' && got.directory, 'packages/a');
  });
  it('refuses transports git should not run', () => {
    assert.equal(cloneUrl('ext::sh -c evil'), undefined);
  });
  describe("when the manifest names a repository on the server's own network", () => {
    const local = [
      ['a file URL', 'git+file:///tmp/review-layers-git/vt-rv-plain.git'],
      ['localhost', 'http://localhost:3000/acme/x.git'],
      ['a subdomain of localhost', 'https://git.localhost/acme/x.git'],
      ['loopback over git', 'git://127.0.0.1:9418/acme/x.git'],
      ['loopback written as one number', 'git://2130706433/acme/x.git'],
      ['loopback written short', 'ssh://git@127.1/acme/x.git'],
      ['loopback in hex', 'git://0x7f000001/acme/x.git'],
      ['a private address', 'https://10.1.2.3/acme/x.git'],
      ['a private address over scp syntax', 'git@192.168.1.20:acme/x.git'],
      ['a link-local address', 'http://169.254.169.254/latest/meta-data'],
      ['IPv6 loopback', 'https://[::1]/acme/x.git'],
      ['IPv6 unique local', 'ssh://git@[fd00::1]/acme/x.git'],
      ['IPv4-mapped loopback', 'https://[::ffff:127.0.0.1]/acme/x.git'],
      ['a single-label name', 'https://gitserver/acme/x.git'],
      ['an internal name', 'https://git.corp.internal/acme/x.git'],
    ];
    for (const [label, repository] of local) {
      it(`does not clone ${label}`, () => {
        const got = repositoryOf({ repository });
        assert.equal(typeof got, 'string', JSON.stringify(got));
        assert.match(String(got), /only cloned through a sources\.mirrors rule/);
      });
    }
    it('clones public hosts and public addresses', () => {
      for (const repository of [
        'github:acme/x',
        'git@git.corp.example:team/x.git',
        'git://8.8.8.8/acme/x.git',
        'https://[2001:4860::8888]/acme/x.git',
      ]) {
        const got = repositoryOf({ repository });
        assert.notEqual(typeof got, 'string', `${repository}: ${String(got)}`);
      }
    });
    it('clones a file, loopback or internal URL that a mirror rule made', () => {
      const mirrors = [
        { from: 'https://github.com/acme/', to: 'file:///srv/git/acme/' },
        { from: 'https://git.corp.internal/', to: 'git://127.0.0.1:9418/' },
      ];
      const viaFile = repositoryOf({ repository: 'github:acme/x' }, mirrors);
      assert.equal(typeof viaFile !== 'string' && viaFile.clone, 'file:///srv/git/acme/x.git');
      const viaDaemon = repositoryOf(
        { repository: 'https://git.corp.internal/team/y.git' },
        mirrors,
      );
      assert.equal(
        typeof viaDaemon !== 'string' && viaDaemon.clone,
        'git://127.0.0.1:9418/team/y.git',
      );
    });
  });
  it('tries v1.2.3, 1.2.3, name@1.2.3 and name-v1.2.3, scoped and not', () => {
    const tags = tagCandidates('@acme/x', '1.2.3');
    for (const t of ['v1.2.3', '1.2.3', '@acme/x@1.2.3', 'x@1.2.3', 'x-v1.2.3']) {
      assert.ok(tags.includes(t), t);
    }
    assert.deepEqual(tagCandidates('x', '1.2.3').slice(0, 2), ['v1.2.3', '1.2.3']);
  });
});

describe('mirrors', () => {
  const rules = [
    { from: 'https://github.com/', to: 'https://git.corp/github/' },
    { from: 'https://github.com/acme/', to: 'file:///srv/acme/' },
  ];
  it('maps the longest matching prefix', () => {
    assert.equal(
      applyMirrors('https://github.com/acme/x.git', rules).url,
      'file:///srv/acme/x.git',
    );
    assert.equal(
      applyMirrors('https://github.com/other/y.git', rules).url,
      'https://git.corp/github/other/y.git',
    );
  });
  it('leaves an unmapped URL alone', () => {
    assert.deepEqual(applyMirrors('https://gitlab.com/a/b.git', rules), {
      url: 'https://gitlab.com/a/b.git',
    });
  });
  it('names hosts for the circuit breaker', () => {
    assert.equal(hostOf('https://github.com/a/b.git'), 'github.com');
    assert.equal(hostOf('git://127.0.0.1:9418/a.git'), '127.0.0.1:9418');
    assert.equal(hostOf('file:///srv/a.git'), 'local');
  });
});

describe('comparing tarballs', () => {
  const files = {
    'package.json': JSON.stringify({ name: 'x', version: '1.0.0', main: 'index.js' }),
    'index.js': 'module.exports = 1;\n',
    'README.md': '# x\n',
  };

  it('sees the same files through order, mtimes, modes, gzip level and the top folder name', async () => {
    const a = await tarball(files);
    const b = await tarball(files, {
      order: ['README.md', 'index.js', 'package.json'],
      mtime: new Date('2001-02-03'),
      mode: 0o600,
      top: 'x',
    });
    const c = await compareTarballs(a, b, () => true);
    assert.equal(c.identical, false);
    assert.deepEqual(c.differences, []);
    assert.equal(c.same, 3);
  });

  it('lists a changed, an extra and a missing file with hashes, classes and a diff', async () => {
    const published = await tarball({
      ...files,
      'index.js': "module.exports = 1;\nrequire('x');\n",
      'evil.js': '1',
    });
    const rebuilt = await tarball({ ...files, 'lib/gone.js': '2' });
    const c = await compareTarballs(published, rebuilt, (p) => p !== 'lib/gone.js');
    const byPath = Object.fromEntries(c.differences.map((d) => [d.path, d]));
    assert.deepEqual(Object.keys(byPath).sort(), ['evil.js', 'index.js', 'lib/gone.js']);
    assert.equal(byPath['index.js']?.kind, 'differs');
    assert.equal(byPath['index.js']?.class, 'code');
    assert.match(byPath['index.js']?.diff ?? '', /^\+require\('x'\);$/m);
    assert.equal(byPath['evil.js']?.kind, 'extra');
    assert.equal(byPath['evil.js']?.class, 'code');
    assert.equal(byPath['evil.js']?.rebuilt, undefined);
    assert.equal(byPath['lib/gone.js']?.kind, 'missing');
    assert.equal(byPath['lib/gone.js']?.class, 'build-output');
    assert.match(byPath['lib/gone.js']?.rebuilt ?? '', /^[0-9a-f]{64}$/);
  });

  it('treats package.json fields publishing adds as metadata only', async () => {
    const pj = JSON.parse(files['package.json']) as Record<string, unknown>;
    const published = await tarball({
      ...files,
      'package.json': JSON.stringify({ ...pj, gitHead: 'abc', _id: 'x@1.0.0' }),
    });
    const c = await compareTarballs(published, await tarball(files), () => true);
    assert.deepEqual(c.differences, []);
    assert.deepEqual(c.metadataFields, ['_id', 'gitHead']);
    const f = findingsOf(c);
    assert.equal(f.reproduced, true);
    assert.deepEqual(
      f.findings.map((x) => [x.code, x.severity]),
      [['REBUILD_METADATA_ONLY', 'info']],
    );
  });

  it('flags other package.json changes as the manifest, naming the fields', async () => {
    const pj = JSON.parse(files['package.json']) as Record<string, unknown>;
    const published = await tarball({
      ...files,
      'package.json': JSON.stringify({ ...pj, scripts: { postinstall: 'node evil.js' } }),
    });
    const c = await compareTarballs(published, await tarball(files), () => true);
    assert.equal(c.differences[0]?.class, 'manifest');
    assert.deepEqual(c.differences[0]?.fields, ['scripts']);
    assert.equal(findingsOf(c).findings[0]?.code, 'REBUILD_FILE_DIFFERS');
  });

  it('classifies binaries, declarations and docs', () => {
    assert.equal(classify('build/Release/x.node', { binary: true }, false), 'binary');
    assert.equal(classify('data.bin', { binary: true }, true), 'binary');
    assert.equal(classify('dist/index.d.ts', { binary: false }, false), 'other');
    assert.equal(classify('dist/index.js.map', { binary: false }, false), 'other');
    assert.equal(classify('CHANGELOG.md', { binary: false }, true), 'other');
    assert.equal(classify('dist/index.mjs', { binary: false }, false), 'build-output');
    assert.equal(classify('lib/a.cjs', { binary: false }, true), 'code');
  });

  it('makes findings: code fails, docs warn, at most 20 per code plus a count', async () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 25; i++) many[`f${i}.js`] = String(i);
    const published = await tarball({ ...files, ...many, 'README.md': '# changed\n' });
    const c = await compareTarballs(published, await tarball(files), () => false);
    const { findings, reproduced } = findingsOf(c);
    assert.equal(reproduced, false);
    const extra = findings.filter((f) => f.code === 'REBUILD_FILE_EXTRA');
    assert.equal(extra.length, 21);
    assert.match(extra[20]?.message ?? '', /5 more files \(25 in all\)/);
    const doc = findings.find((f) => f.code === 'REBUILD_NONCODE_DIFFERS');
    assert.equal(doc?.severity, 'low');
    assert.equal(doc?.evidence?.path, 'README.md');
  });
});

describe("the rebuild's host-side install", () => {
  const deps = (spec: string, field = 'devDependencies') =>
    nonRegistryDependencies([['package.json', { [field]: { x: spec } }]]);
  it('installs registry versions, ranges, tags and aliases to them', () => {
    for (const spec of ['1.2.3', '^1.0.0', '*', '', 'latest', 'npm:y@^2']) {
      assert.equal(deps(spec, 'dependencies'), undefined, spec);
    }
  });
  const refused: Array<[string, string, RegExp]> = [
    ['a git URL', 'git+https://github.com/acme/x.git', /\(git\)/],
    ['a hosted shorthand', 'github:acme/x', /\(git\)/],
    ['a bare user/repo', 'acme/x', /\(git\)/],
    ['a folder', 'file:../x', /\(directory\)/],
    ['a link', 'link:../x', /not read as a registry one/],
    ['a tarball URL', 'https://example.com/x.tgz', /\(remote\)/],
    ['an alias to git', 'npm:y@github:acme/y', /not read as a registry one/],
    ['a workspace protocol', 'workspace:*', /not read as a registry one/],
  ];
  for (const [label, spec, why] of refused) {
    it(`refuses ${label}`, () => {
      assert.match(deps(spec) ?? '', why);
      assert.match(deps(spec) ?? '', /^devDependencies of package\.json: x is /);
    });
  }
  it('reads workspaces and overrides', () => {
    const got = nonRegistryDependencies([
      ['package.json', { workspaces: ['packages/*'] }],
      ['packages/a/package.json', { optionalDependencies: { y: 'file:../../y.tgz' } }],
    ]);
    assert.match(got ?? '', /^optionalDependencies of packages\/a\/package\.json: y is/);
    const override = nonRegistryDependencies([
      ['package.json', { overrides: { a: { '.': '1.0.0', b: 'git+ssh://h.example/b.git' } } }],
    ]);
    assert.match(override ?? '', /^overrides of package\.json: a > b is "git\+ssh/);
    assert.deepEqual(
      workspaceManifestPaths(
        { workspaces: { packages: ['packages/*', 'tools/**', '!packages/skip'] } },
        '',
        new Set([
          'package.json',
          'packages/a/package.json',
          'packages/skip/package.json',
          'packages/a/node_modules/z/package.json',
          'tools/x/y/package.json',
          'examples/e/package.json',
        ]),
      ),
      ['packages/a/package.json', 'packages/skip/package.json', 'tools/x/y/package.json'],
    );
  });
  describe('when the repository has a lockfile', () => {
    const upstream = 'http://127.0.0.1:4873/';
    const lock = (entries: Record<string, unknown>) => ({
      lockfileVersion: 3,
      packages: { '': { name: 'p' }, ...entries },
      dependencies: { x: { version: 'git+ssh://h/x.git' } },
    });
    it('keeps what the upstream serves, drops other registry URLs, keeps workspace links', () => {
      const got = toRegistryLock(
        lock({
          'node_modules/a': { version: '1.0.0', resolved: `${upstream}a/-/a-1.0.0.tgz` },
          'node_modules/b': {
            version: '2.0.0',
            resolved: 'https://registry.npmjs.org/b/-/b-2.0.0.tgz',
            integrity: 'sha512-b',
          },
          'node_modules/w': { resolved: 'packages/w', link: true },
        }),
        upstream,
      );
      assert.ok(typeof got === 'object', String(got));
      const packages = got.lock.packages as Record<string, Record<string, unknown>>;
      assert.equal(packages['node_modules/a']?.resolved, `${upstream}a/-/a-1.0.0.tgz`);
      assert.deepEqual(packages['node_modules/b'], { version: '2.0.0', integrity: 'sha512-b' });
      assert.equal(packages['node_modules/w']?.resolved, 'packages/w');
      assert.equal(got.lock.dependencies, undefined);
    });
    const bad: Array<[string, Record<string, unknown>]> = [
      ['a git source', { version: '1.0.0', resolved: 'git+ssh://git@github.com/a/x.git#abc' }],
      ['a tarball on another host', { version: '1.0.0', resolved: 'http://10.0.0.1/x.tgz' }],
      ['a local tarball', { version: '1.0.0', resolved: 'file:../x.tgz' }],
      ['a link out of the repository', { resolved: '../../etc', link: true }],
      ['a link to an absolute path', { resolved: '/etc', link: true }],
    ];
    for (const [label, entry] of bad) {
      it(`refuses ${label}`, () => {
        const got = toRegistryLock(lock({ 'node_modules/x': entry }), upstream);
        assert.equal(typeof got, 'string');
        assert.match(String(got), /node_modules\/x/);
      });
    }
    it('drops a lockfile too old to check', () => {
      assert.equal(toRegistryLock({ lockfileVersion: 1, dependencies: {} }, upstream), 'drop');
      assert.equal(toRegistryLock('not json', upstream), 'drop');
    });
  });
});

describe('reasons in the record', () => {
  it("drops npm's debug-log lines and the server's paths", () => {
    const said = [
      'install: npm install exited 1: npm error code E404',
      'npm error 404 Not Found - GET http://127.0.0.1:4873/nope - no such package available',
      'npm error A complete log of this run can be found in: /srv/vetted/sources/npm-cache/_logs/2024-x-debug-0.log',
      'npm error enoent /tmp/vetted-behaviour-Ab12cd/project/x and /srv/vetted/sources/a.git',
    ].join('\n');
    assert.equal(
      publicReason(said, '/srv/vetted'),
      [
        'install: npm install exited 1: npm error code E404',
        'npm error 404 Not Found - GET http://127.0.0.1:4873/nope - no such package available',
        'npm error enoent <workspace>/project/x and <home>/sources/a.git',
      ].join('\n'),
    );
    assert.equal(publicReason('at /x', '/'), 'at /x');
  });
});

describe('diff excerpts', () => {
  it('shows the changed lines with context and hunk headers', () => {
    const before = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].join('\n') + '\n';
    const after = ['a', 'b', 'c', 'X', 'e', 'f', 'g'].join('\n') + '\n';
    assert.equal(
      unifiedExcerpt(before, after, 'rebuilt', 'published'),
      ['--- rebuilt', '+++ published', '@@ -2,5 +2,5 @@', ' b', ' c', '-d', '+X', ' e', ' f'].join(
        '\n',
      ),
    );
  });
  it('says nothing for equal texts and cuts long output', () => {
    assert.equal(unifiedExcerpt('a\n', 'a\n', 'x', 'y'), undefined);
    const long = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n');
    const out = unifiedExcerpt('', long, 'x', 'y', 10) ?? '';
    assert.equal(out.split('\n').length, 11);
    assert.ok(out.endsWith('...'));
  });
});

describe('the sources options', () => {
  const context = { configDir: '/etc/vetted', storage: '/var/vetted/storage' };
  it('fills the defaults', () => {
    const o = parseOptions({}, context);
    assert.deepEqual(o.sources.mirrors, []);
    assert.equal(o.sources.cloneTimeoutMs, 60_000);
    assert.equal(o.sources.rebuildTimeoutMs, 150_000);
    assert.equal(o.sources.hostCooldownMs, 300_000);
  });
  it('names the option that is wrong', () => {
    assert.throws(
      () =>
        parseOptions({ sources: { mirrors: [{ from: 'github.com', to: 'file:///x/' }] } }, context),
      /middlewares\.vetted\.sources\.mirrors\.0\.from: must be an http/,
    );
    assert.throws(
      () => parseOptions({ sources: { colour: 1 } }, context),
      /middlewares\.vetted\.sources\.colour/,
    );
    assert.throws(
      () => parseOptions({ sources: { trustedKeys: { x: ['missing.asc'] } } }, context),
      /middlewares\.vetted\.sources\.trustedKeys\.x: cannot read the key file \/etc\/vetted\/missing\.asc/,
    );
  });
  it('finds keys by package name and by scope', () => {
    const trusted = { '@acme/*': ['scope.asc'], '@acme/x': ['x.asc'], y: ['y.asc'] };
    assert.deepEqual(keysFor('@acme/x', trusted), ['x.asc', 'scope.asc']);
    assert.deepEqual(keysFor('@acme/z', trusted), ['scope.asc']);
    assert.deepEqual(keysFor('y', trusted), ['y.asc']);
    assert.deepEqual(keysFor('z', trusted), []);
  });
});
