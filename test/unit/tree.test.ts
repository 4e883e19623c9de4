/**
 * Tree loading from the four lockfile formats, dependency paths, OSV advisory matching and the
 * DSSE attestation round trip.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadTree } from '../../src/tree/lockfiles';
import { GraphBuilder, ROOT, pathsTo } from '../../src/tree/graph';
import { loadAdvisories } from '../../src/advisories/osv';
import { buildStatement, pae, signStatement, verifyEnvelope } from '../../src/tree/attest';
import { createSigner } from '../../src/index/signer';
import { isVettedError } from '../../src/errors';

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
