/**
 * Tree loading from the four lockfile formats, dependency paths, OSV advisory matching and the
 * DSSE attestation round trip.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadTree } from '../../src/tree/lockfiles';
import { GraphBuilder, ROOT, aliasOf, pathsTo } from '../../src/tree/graph';
import { rangeFor } from '../../src/tree/status';
import { loadAdvisories } from '../../src/advisories/osv';
import { buildStatement, pae, signStatement, verifyEnvelope } from '../../src/tree/attest';
import { createSigner } from '../../src/index/signer';
import { isVettedError } from '../../src/errors';
import { clientProject, installClient, runClient } from '../helpers/clients';
import { machineRegistry } from '../helpers/fixture-upstream';

const LOCKFILES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'lockfiles');

describe('lockfiles', () => {
  it('npm, yarn 1, yarn 4 and pnpm lockfiles of one tree give the same nodes and edges', async () => {
    const graphs = await Promise.all(
      ['npm', 'yarn1', 'yarn4', 'pnpm'].map((c) =>
        loadTree(path.join(LOCKFILES, 'express-4.18.2', c)),
      ),
    );
    const nodes = graphs.map((g) => [...g.nodes.keys()].sort());
    const edges = graphs.map((g) => g.edges.map((e) => `${e.from}->${e.to}`).sort());
    assert.equal(nodes[0]!.length, 71);
    for (let i = 1; i < graphs.length; i++) {
      assert.deepEqual(nodes[i], nodes[0], graphs[i]!.source);
      assert.deepEqual(edges[i], edges[0], graphs[i]!.source);
    }
    assert.deepEqual(
      graphs.map((g) => g.source),
      ['npm', 'yarn1', 'yarn4', 'pnpm'],
    );
    // ranges are kept where the format keeps them
    const npm = graphs[0]!;
    assert.ok(
      npm.edges.some(
        (e) => e.from === 'express@4.18.2' && e.to === 'debug@2.6.9' && e.spec === '2.6.9',
      ),
    );
    assert.ok(graphs[3]!.edges.filter((e) => e.from !== ROOT).every((e) => e.spec === undefined));
  });

  it('loads an alias as the package it names, in every format', async () => {
    // `"my-ms": "npm:ms@2.1.3"` and @isaacs/cliui@8.0.2's string-width-cjs, strip-ansi-cjs and
    // wrap-ansi-cjs aliases, locked by npm 11, yarn 1, yarn 4, pnpm 10 (v9) and pnpm 8 (v6)
    const formats = ['npm', 'yarn1', 'yarn4', 'pnpm', 'pnpm-v6'];
    const graphs = await Promise.all(
      formats.map((c) => loadTree(path.join(LOCKFILES, 'alias', c))),
    );
    const nodes = graphs.map((g) => [...g.nodes.keys()].sort());
    const edges = graphs.map((g) => g.edges.map((e) => `${e.from}->${e.to}`).sort());
    assert.equal(nodes[0]!.length, 18);
    for (const key of ['ms@2.1.3', 'string-width@4.2.3', 'strip-ansi@6.0.1', 'wrap-ansi@7.0.0']) {
      assert.ok(nodes[0]!.includes(key), key);
    }
    assert.ok(!nodes[0]!.some((k) => /^my-ms@|-cjs@/.test(k)));
    for (let i = 0; i < graphs.length; i++) {
      assert.deepEqual(nodes[i], nodes[0], formats[i]);
      assert.deepEqual(edges[i], edges[0], formats[i]);
      assert.deepEqual(graphs[i]!.skipped, [], formats[i]);
    }
    // the formats that keep ranges keep the alias's declared spec on its edge
    const specs = graphs.map((g) => g.edges.map((e) => `${e.from}->${e.to} ${e.spec}`).sort());
    assert.deepEqual(specs[1], specs[0], 'yarn1');
    assert.deepEqual(specs[2], specs[0], 'yarn4');
    assert.ok(specs[0]!.includes('@isaacs/cliui@8.0.2->wrap-ansi@7.0.0 npm:wrap-ansi@^7.0.0'));
    assert.ok(specs[0]!.includes('->ms@2.1.3 npm:ms@2.1.3'));
  });

  it('yarn 1: an alias is the package after npm:, and its resolved URL must agree', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vetted-lock-'));
    try {
      const url = 'https://registry.npmjs.org/debug/-/debug-2.1.3.tgz';
      writeFileSync(
        path.join(dir, 'package.json'),
        JSON.stringify({ dependencies: { ms: 'npm:debug@2.1.3', other: 'npm:ms@2.1.3' } }),
      );
      writeFileSync(
        path.join(dir, 'yarn.lock'),
        [
          '# yarn lockfile v1',
          '',
          '"ms@npm:debug@2.1.3":',
          '  version "2.1.3"',
          `  resolved "${url}#0000"`,
          '',
          '"other@npm:ms@2.1.3":',
          '  version "2.1.3"',
          `  resolved "${url}"`,
          '',
        ].join('\n'),
      );
      const g = await loadTree(dir);
      assert.deepEqual([...g.nodes.keys()], ['debug@2.1.3']);
      assert.deepEqual(g.edges, [{ from: ROOT, to: 'debug@2.1.3', spec: 'npm:debug@2.1.3' }]);
      assert.deepEqual(g.skipped, [
        {
          name: 'other',
          spec: 'npm:ms@2.1.3',
          reason: `resolved ${url} is debug@2.1.3, not ms@2.1.3`,
        },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('npm: an entry whose resolved URL names another package or a file is not verified', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vetted-lock-'));
    try {
      const other = 'https://registry.npmjs.org/other/-/other-9.9.9.tgz';
      const deps = { destroy: '1.2.0', local: 'file:../evil', ms: '2.1.3' };
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ dependencies: deps }));
      const lock = {
        name: 'app',
        lockfileVersion: 3,
        packages: {
          '': { name: 'app', dependencies: deps },
          'node_modules/destroy': { version: '1.2.0', resolved: other },
          'node_modules/local': { version: '1.0.0', resolved: 'file:../evil' },
          'node_modules/ms': {
            version: '2.1.3',
            resolved: 'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz',
          },
        },
      };
      writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify(lock));
      const g = await loadTree(dir);
      assert.deepEqual([...g.nodes.keys()], ['ms@2.1.3']);
      assert.deepEqual(g.skipped.map((s) => `${s.name}: ${s.reason}`).sort(), [
        `destroy: resolved ${other} is other@9.9.9, not destroy@1.2.0`,
        'local: not a registry package',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says what it expected for a directory without a lockfile or a broken one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vetted-lock-'));
    try {
      await assert.rejects(
        loadTree(dir),
        (err) => isVettedError(err, 'TREE_UNREADABLE') && /no package-lock\.json/.test(err.message),
      );
      await assert.rejects(loadTree(path.join(dir, 'missing.lock')), /does not exist/);
      writeFileSync(path.join(dir, 'pnpm-lock.yaml'), "lockfileVersion: '5.4'\n");
      await assert.rejects(loadTree(dir), /pnpm lockfile version 5\.4 is not supported/);
      mkdirSync(path.join(dir, 'y'));
      writeFileSync(
        path.join(dir, 'y', 'yarn.lock'),
        '<<<<<<< HEAD\na@1:\n  version "1"\n=======\n>>>>>>> x\n',
      );
      await assert.rejects(loadTree(path.join(dir, 'y')), (err) =>
        isVettedError(err, 'TREE_UNREADABLE'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a pnpm-installed node_modules', () => {
  it('is read from .pnpm/lock.yaml, each node at its real directory in .pnpm', async () => {
    const pnpm = await installClient('pnpm');
    const project = clientProject('pnpm', pnpm, machineRegistry(), {});
    try {
      cpSync(path.join(LOCKFILES, 'express-4.18.2', 'pnpm'), project.dir, { recursive: true });
      const install = await runClient(project, [
        'install',
        '--frozen-lockfile',
        '--ignore-scripts',
      ]);
      assert.equal(install.code, 0, install.stderr || install.stdout);
      const modules = path.join(project.dir, 'node_modules');
      const g = await loadTree(modules);
      const fromLock = await loadTree(path.join(LOCKFILES, 'express-4.18.2', 'pnpm'));
      assert.equal(g.source, 'node_modules');
      assert.equal(g.path, modules);
      assert.equal(g.lockfile, path.join(project.dir, 'package.json'));
      assert.deepEqual(g.skipped, []);
      assert.deepEqual([...g.nodes.keys()].sort(), [...fromLock.nodes.keys()].sort());
      assert.equal(g.nodes.size, 71);
      const store = path.join(modules, '.pnpm') + path.sep;
      for (const node of g.nodes.values()) {
        assert.equal(node.locations?.length, 1, node.key);
        const at = node.locations[0]!;
        assert.ok(at.startsWith(store), at);
        assert.ok(at.endsWith(path.join('node_modules', node.name)), at);
      }
    } finally {
      rmSync(project.dir, { recursive: true, force: true });
      rmSync(project.env.HOME!, { recursive: true, force: true });
    }
  });
});

describe('pathsTo', () => {
  it('lists every path from the project, shortest first, and survives cycles', () => {
    const g = new GraphBuilder();
    for (const k of ['a', 'b', 'c', 'd']) g.node(k, '1.0.0');
    g.edge(ROOT, 'a@1.0.0', '^1');
    g.edge(ROOT, 'd@1.0.0', '^1');
    g.edge('a@1.0.0', 'b@1.0.0', '^1');
    g.edge('b@1.0.0', 'c@1.0.0', '^1');
    g.edge('d@1.0.0', 'c@1.0.0', '^1');
    g.edge('c@1.0.0', 'b@1.0.0', '^1'); // cycle b <-> c
    const { paths, total } = pathsTo(g.build('npm', 'x'), 'c@1.0.0');
    assert.equal(total, 2);
    assert.deepEqual(paths, [
      ['d@1.0.0', 'c@1.0.0'],
      ['a@1.0.0', 'b@1.0.0', 'c@1.0.0'],
    ]);
  });
  it('bounds its work on a graph dense with cycles and says the count is a lower bound', () => {
    const g = new GraphBuilder();
    const n = 40;
    for (let i = 0; i < n; i++) g.node(`p${i}`, '1.0.0');
    g.edge(ROOT, 'p0@1.0.0', '^1');
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) if (i !== j) g.edge(`p${i}@1.0.0`, `p${j}@1.0.0`, '^1');
    }
    const started = Date.now();
    const { paths, total, complete } = pathsTo(g.build('npm', 'x'), `p${n - 1}@1.0.0`);
    assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
    assert.equal(complete, false);
    // every walk from p1 on circles among p1..p38 without meeting the root again
    assert.equal(total, paths.length);
    assert.deepEqual(paths[0], ['p0@1.0.0', `p${n - 1}@1.0.0`]);
  });
});

describe('alias ranges', () => {
  it('reads the range after the last @ of npm:<name>@<range>', () => {
    assert.deepEqual(aliasOf('npm:wrap-ansi@^7.0.0'), { name: 'wrap-ansi', range: '^7.0.0' });
    assert.deepEqual(aliasOf('npm:@scope/pkg@>=1 <2'), { name: '@scope/pkg', range: '>=1 <2' });
    assert.deepEqual(aliasOf('npm:@scope/pkg'), { name: '@scope/pkg', range: '*' });
    assert.equal(aliasOf('npm:^5.1.2'), undefined); // yarn 4's plain range
    assert.equal(aliasOf('npm:5.1.2'), undefined);
    assert.equal(aliasOf('^7.0.0'), undefined);
    assert.equal(rangeFor('npm:wrap-ansi@^7.0.0', 'wrap-ansi'), '^7.0.0');
    assert.equal(rangeFor('^8.1.0', 'wrap-ansi'), '^8.1.0');
    assert.equal(rangeFor('npm:other@^7.0.0', 'wrap-ansi'), undefined);
    assert.equal(rangeFor('npm:wrap-ansi@latest', 'wrap-ansi'), undefined);
    assert.equal(rangeFor('github:chalk/wrap-ansi', 'wrap-ansi'), undefined);
  });
});

describe('OSV advisories', () => {
  it('matches versions and SEMVER ranges, and tells malicious entries apart', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vetted-osv-'));
    try {
      writeFileSync(
        path.join(dir, 'GHSA-x.json'),
        JSON.stringify({
          id: 'GHSA-xxxx',
          summary: 'Prototype pollution',
          affected: [
            {
              package: { ecosystem: 'npm', name: 'lib' },
              ranges: [{ type: 'SEMVER', events: [{ introduced: '1.2.0' }, { fixed: '1.4.1' }] }],
            },
            { package: { ecosystem: 'PyPI', name: 'other' }, versions: ['1.0.0'] },
          ],
        }),
      );
      writeFileSync(
        path.join(dir, 'MAL-1.json'),
        JSON.stringify({
          id: 'MAL-2026-1',
          summary: 'Malicious code in lib (npm)',
          affected: [{ package: { ecosystem: 'npm', name: 'lib' }, versions: ['2.0.1'] }],
        }),
      );
      const db = loadAdvisories(dir);
      assert.equal(db.size, 2);
      assert.deepEqual(db.match('lib', '1.1.9'), []);
      assert.deepEqual(
        db.match('lib', '1.3.0').map((m) => [m.id, m.malicious]),
        [['GHSA-xxxx', false]],
      );
      assert.deepEqual(db.match('lib', '1.4.1'), []);
      assert.deepEqual(
        db.match('lib', '2.0.1').map((m) => [m.id, m.malicious]),
        [['MAL-2026-1', true]],
      );
      assert.deepEqual(db.match('other', '1.0.0'), []);
      // a vulnerability worded "malicious" is not malware; a withdrawn entry no longer applies;
      // the OpenSSF feed nests scoped packages two folders down
      writeFileSync(
        path.join(dir, 'GHSA-q.json'),
        JSON.stringify({
          id: 'GHSA-qqqq',
          summary: 'qs vulnerable to Prototype Pollution through a malicious query string',
          affected: [{ package: { ecosystem: 'npm', name: 'qs' }, versions: ['6.11.0'] }],
        }),
      );
      writeFileSync(
        path.join(dir, 'MAL-w.json'),
        JSON.stringify({
          id: 'MAL-2099-0003',
          withdrawn: '2026-01-01T00:00:00Z',
          affected: [{ package: { ecosystem: 'npm', name: 'ms' }, versions: ['2.0.0'] }],
        }),
      );
      mkdirSync(path.join(dir, 'npm', '@isaacs', 'cliui'), { recursive: true });
      writeFileSync(
        path.join(dir, 'npm', '@isaacs', 'cliui', 'MAL-2099-0001.json'),
        JSON.stringify({
          id: 'MAL-2099-0001',
          affected: [{ package: { ecosystem: 'npm', name: '@isaacs/cliui' }, versions: ['8.0.2'] }],
        }),
      );
      const more = loadAdvisories(dir);
      assert.equal(more.size, 4);
      assert.equal(more.withdrawn, 1);
      assert.deepEqual(
        more.match('qs', '6.11.0').map((m) => [m.id, m.malicious]),
        [['GHSA-qqqq', false]],
      );
      assert.deepEqual(more.match('ms', '2.0.0'), []);
      assert.equal(more.match('@isaacs/cliui', '8.0.2')[0]?.malicious, true);
      writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ summary: 'no id' }));
      assert.throws(() => loadAdvisories(dir), /bad\.json: not an OSV entry \(id:/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('attestation', () => {
  const signer = createSigner(generateKeyPairSync('ed25519').privateKey);
  const keys = new Map([[signer.keyId, signer.publicKeyPem]]);
  const statement = buildStatement(
    { name: 'package-lock.json', sha256: 'a'.repeat(64) },
    [
      { name: 'a', version: '1.0.0', status: 'verified', reasons: [] },
      { name: '@s/b', version: '2.0.0', status: 'held', reasons: ['x'] },
    ],
    { registry: 'http://r/', policy: { preset: 'standard', digest: 'd' } },
  );

  it('round-trips, names the key, and fails when changed or signed by another key', () => {
    const envelope = signStatement(statement, signer);
    const checked = verifyEnvelope(envelope, keys);
    assert.equal(checked.keyId, signer.keyId);
    assert.equal(checked.statement.predicate.admitted, false);
    assert.equal(checked.statement.predicate.components[1]!.purl, 'pkg:npm/%40s/b@2.0.0');

    const changed = {
      ...envelope,
      payload: Buffer.from(JSON.stringify({ ...statement, subject: [] })).toString('base64'),
    };
    assert.throws(() => verifyEnvelope(changed, keys), /does not verify/);
    const other = createSigner(generateKeyPairSync('ed25519').privateKey);
    assert.throws(
      () => verifyEnvelope(signStatement(statement, other), keys),
      /not among the trusted keys/,
    );
    assert.throws(() => verifyEnvelope({ payload: 'x' }, keys), /not a DSSE envelope/);
    // base64 that decodes to the same bytes but is not their encoding is refused
    const sig = envelope.signatures[0]!.sig;
    const sloppy = {
      ...envelope,
      signatures: [{ ...envelope.signatures[0]!, sig: `${sig.slice(0, -2)}!=` }],
    };
    assert.throws(() => verifyEnvelope(sloppy, keys), /canonical base64|does not verify/);
    const padded = { ...envelope, payload: `${envelope.payload} ` };
    assert.throws(() => verifyEnvelope(padded, keys), /not canonical base64/);
  });

  it('uses DSSE pre-authentication encoding with byte lengths', () => {
    assert.equal(pae('t', Buffer.from('é')).toString(), 'DSSEv1 1 t 2 é');
  });
});
