import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createTyposquatCheck, loadHighImpact } from '../../src/verify/identity/typosquat';
import type { TyposquatCheck } from '../../src/verify/identity/typosquat';
import { checkReleaseLine } from '../../src/verify/identity/release-line';
import { lineOf } from '../../src/verify/identity/versions';
import type { Packument } from '../../src/registry/packument';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'identity');
const packument = (name: string): Packument =>
  JSON.parse(readFileSync(path.join(FIXTURES, 'packuments', `${name}.json`), 'utf8'));

describe('typosquat', () => {
  let check: TyposquatCheck;
  before(async () => {
    check = createTyposquatCheck(await loadHighImpact(), { allow: ['expresss'] });
  });

  const FLAGGED = [
    { name: 'crossenv', suggestion: 'cross-env', kind: 'separator' },
    { name: 'cross_env', suggestion: 'cross-env', kind: 'separator' },
    { name: 'expres', suggestion: 'express', kind: 'edit' },
    { name: 'loadsh', suggestion: 'lodash', kind: 'edit' },
    { name: '@bable/core', suggestion: '@babel/core', kind: 'scope' },
    { name: '@typs/node', suggestion: '@types/node', kind: 'scope' },
  ];
  for (const c of FLAGGED) {
    it(`flags ${c.name} and suggests ${c.suggestion}`, () => {
      const f = check(c.name);
      assert.equal(f?.code, 'TYPOSQUAT');
      assert.equal(f?.evidence?.suggestion, c.suggestion);
      assert.equal(f?.evidence?.kind, c.kind);
      assert.ok(f?.message.includes(`did you mean "${c.suggestion}"?`), f?.message);
    });
  }

  const CLEAN = ['express', 'lodash', 'cross-env', '@babel/core', 'wrappy', 'inflight', 'vt-clean'];
  for (const name of CLEAN) {
    it(`leaves ${name} alone`, () => assert.equal(check(name), undefined));
  }

  it('leaves allowed names alone', () => assert.equal(check('expresss'), undefined));
});

describe('release line', () => {
  const codesOf = (doc: Packument, v: string) =>
    checkReleaseLine(doc, v).findings.map((f) => f.code);

  it('keeps 0.x minors and majors apart', () => {
    assert.equal(lineOf('0.3.1'), '0.3');
    assert.equal(lineOf('4.0.0-rc.0'), '4');
  });

  it("reports wrappy's publisher change with the versions and accounts", () => {
    const r = checkReleaseLine(packument('wrappy'), '1.0.2');
    assert.equal(r.previous?.version, '1.0.1');
    const changed = r.findings.find((f) => f.code === 'PUBLISHER_CHANGED');
    assert.equal(
      changed?.message,
      '1.0.2 was published by zkat; 1.0.1 by isaacs (zkat is new to this line)',
    );
    assert.deepEqual(codesOf(packument('wrappy'), '1.0.2'), [
      'PUBLISHER_CHANGED',
      'MAINTAINERS_CHANGED',
    ]);
  });

  it("follows inflight's publishers isaacs, othiym23, zkat, isaacs", () => {
    const doc = packument('inflight');
    assert.deepEqual(codesOf(doc, '1.0.3'), ['PUBLISHER_CHANGED', 'MAINTAINERS_CHANGED']);
    // othiym23's own 1.0.3 does not vouch for his 1.0.4 until someone admits it
    assert.deepEqual(codesOf(doc, '1.0.4'), ['PUBLISHER_CHANGED', 'MAINTAINERS_CHANGED']);
    assert.deepEqual(checkReleaseLine(doc, '1.0.4', { admitted: ['1.0.3'] }).findings, []);
    assert.deepEqual(codesOf(doc, '1.0.5'), [
      'PUBLISHER_CHANGED',
      'MAINTAINERS_CHANGED',
      'REPOSITORY_CHANGED',
    ]);
    const back = checkReleaseLine(doc, '1.0.6').findings[0];
    assert.equal(back?.message, '1.0.6 was published by isaacs; 1.0.5 by zkat');
    assert.deepEqual(checkReleaseLine(doc, '1.0.2').newDependencies, ['wrappy']);
  });

  it('compares within the line: eslint-scope 3.7.3 against 3.7.1, not the 4.x published between', () => {
    const r = checkReleaseLine(packument('eslint-scope'), '3.7.3');
    assert.equal(r.previous?.version, '3.7.1');
    assert.deepEqual(
      r.findings.map((f) => f.code),
      ['PUBLISHER_CHANGED'],
    );
  });

  it('holds a new account publishing right after the usual publisher', () => {
    const doc = packument('eslint-scope');
    const m = doc.versions!['3.7.3']!;
    m._npmUser = { name: 'mallory', email: 'm@example.invalid' };
    doc.time!['3.7.3'] = new Date(Date.parse(doc.time!['3.7.1']!) + 3 * 3600e3).toISOString();
    const r = checkReleaseLine(doc, '3.7.3');
    const held = r.findings.find((f) => f.code === 'PUBLISHER_NEW_ACCOUNT');
    assert.match(
      held?.message ?? '',
      /published by mallory, who never published this line .* 3 h after ivolodin/,
    );
  });

  it('reports provenance, trusted publishing and signatures dropped since the previous release', () => {
    const doc = packument('wrappy');
    const prev = doc.versions!['1.0.1']!;
    prev.dist = {
      ...prev.dist,
      attestations: { url: 'x', provenance: { predicateType: 'https://slsa.dev/provenance/v1' } },
      signatures: [{ keyid: 'k', sig: 's' }],
    } as never;
    prev._npmUser = { name: 'isaacs', trustedPublisher: { id: 'github' } };
    const codes = codesOf(doc, '1.0.2');
    for (const c of ['PROVENANCE_DOWNGRADE', 'SIGNATURE_MISSING', 'TRUSTED_PUBLISHER_DROPPED']) {
      assert.ok(codes.includes(c), `${c} in ${codes.join(', ')}`);
    }
  });

  it('sees several lines published within minutes, and a dormant package waking', () => {
    const doc = packument('inflight');
    const at = Date.parse('2026-01-01T00:00:00Z');
    doc.versions!['2.0.0'] = { ...doc.versions!['1.0.6']!, version: '2.0.0' };
    doc.versions!['3.0.0'] = { ...doc.versions!['1.0.6']!, version: '3.0.0' };
    doc.time!['2.0.0'] = new Date(at).toISOString();
    doc.time!['3.0.0'] = new Date(at + 5 * 60e3).toISOString();
    doc.versions!['1.0.7'] = { ...doc.versions!['1.0.6']!, version: '1.0.7' };
    doc.time!['1.0.7'] = new Date(at + 10 * 60e3).toISOString();
    const codes = codesOf(doc, '3.0.0');
    assert.ok(codes.includes('RELEASE_BURST'), codes.join());
    assert.ok(codesOf(doc, '2.0.0').includes('DORMANT_PACKAGE'));
  });

  it('says the publisher comparison is unavailable on a document without publisher data', () => {
    const doc = packument('wrappy');
    for (const m of Object.values(doc.versions!)) {
      delete m._npmUser;
      delete m.maintainers;
    }
    const r = checkReleaseLine(doc, '1.0.2');
    assert.equal(
      r.publishersUnavailable,
      'the registry gives no _npmUser/maintainers for this package',
    );
    assert.deepEqual(
      r.findings.map((f) => f.code),
      [],
    );
  });
});

/** alice publishes 1.0.0-1.0.2 with provenance, signatures and trusted publishing, then mallory
 * publishes a throwaway 1.0.3 an hour later and 1.0.4 six minutes after that. */
function takeover(over: Record<string, Record<string, unknown>> = {}): Packument {
  const dist = {
    integrity: 'sha512-x',
    signatures: [{ keyid: 'SHA256:k', sig: 'c2ln' }],
    attestations: { url: 'u', provenance: { predicateType: 'https://slsa.dev/provenance/v1' } },
  };
  const v = (version: string, user: string) => ({
    name: 'p',
    version,
    _npmUser: {
      name: user,
      email: `${user}@x`,
      ...(user === 'alice' ? { trustedPublisher: { id: 'github' } } : {}),
    },
    maintainers: [{ name: 'alice', email: 'alice@x' }],
    dist: user === 'alice' ? dist : { integrity: `sha512-${version}` },
    ...over[version],
  });
  const base = Date.parse('2024-01-01T00:00:00Z');
  const hours = { '1.0.0': 0, '1.0.1': 100, '1.0.2': 200, '1.0.3': 201, '1.0.4': 201.1 };
  return {
    name: 'p',
    versions: Object.fromEntries(
      Object.keys(hours).map((ver) => [ver, v(ver, ver < '1.0.3' ? 'alice' : 'mallory')]),
    ),
    time: Object.fromEntries(
      Object.entries(hours).map(([ver, h]) => [ver, new Date(base + h * 3600e3).toISOString()]),
    ),
  } as Packument;
}

describe('release line baseline', () => {
  const HELD = [
    'PUBLISHER_NEW_ACCOUNT',
    'TRUSTED_PUBLISHER_DROPPED',
    'PROVENANCE_DOWNGRADE',
    'SIGNATURE_MISSING',
  ];

  describe("when a new account's throwaway version sits between the admitted one and this", () => {
    it('compares with the newest admitted version and still holds', () => {
      const r = checkReleaseLine(takeover(), '1.0.4', { admitted: ['1.0.0', '1.0.1', '1.0.2'] });
      assert.equal(r.previous?.version, '1.0.2');
      assert.equal(r.basis, 'admitted');
      assert.deepEqual(r.skipped, ['1.0.3']);
      assert.deepEqual(
        r.findings.map((f) => f.code),
        HELD,
      );
      assert.equal(
        r.findings[0]?.message,
        '1.0.4 was published by mallory, who published no admitted version of this line and was not a maintainer of 1.0.2; their first release since, 1.0.3, came 1 h after alice published 1.0.2',
      );
    });

    it('ignores admitted versions of other lines and later ones', () => {
      const doc = takeover();
      doc.versions!['2.0.0'] = { ...doc.versions!['1.0.3']!, version: '2.0.0' };
      doc.time!['2.0.0'] = doc.time!['1.0.3']!;
      const r = checkReleaseLine(doc, '1.0.3', { admitted: ['1.0.1', '1.0.4', '2.0.0'] });
      assert.equal(r.previous?.version, '1.0.1');
      assert.deepEqual(r.skipped, ['1.0.2']);
    });

    it('holds the same way when nothing in the line is admitted yet', () => {
      const r = checkReleaseLine(takeover(), '1.0.4');
      assert.equal(r.previous?.version, '1.0.2');
      assert.equal(r.basis, 'earlier');
      assert.deepEqual(
        r.findings.map((f) => f.code),
        HELD,
      );
    });
  });

  it('takes an approved throwaway as the baseline once a person admitted it', () => {
    const r = checkReleaseLine(takeover(), '1.0.4', { admitted: ['1.0.2', '1.0.3'] });
    assert.equal(r.previous?.version, '1.0.3');
    assert.deepEqual(r.findings, []);
  });

  it('leaves the usual publisher alone across a version nobody admitted', () => {
    const doc = takeover();
    for (const v of ['1.0.3', '1.0.4']) {
      doc.versions![v] = { ...doc.versions!['1.0.2']!, version: v };
    }
    const r = checkReleaseLine(doc, '1.0.4', { admitted: ['1.0.2'] });
    assert.equal(r.previous?.version, '1.0.2');
    assert.deepEqual(r.findings, []);
  });

  describe('when dist fields are there but unusable', () => {
    const CASES: [string, Record<string, unknown>, string[]][] = [
      ['empty signatures and attestations', { signatures: [], attestations: {} }, HELD.slice(2)],
      ['a signatures object', { signatures: { keyid: 'k', sig: 's' } }, ['SIGNATURE_MISSING']],
      ['a signature without sig', { signatures: [{ keyid: 'SHA256:k' }] }, ['SIGNATURE_MISSING']],
      ['attestations without url', { attestations: { provenance: {} } }, ['PROVENANCE_DOWNGRADE']],
      ['attestations without provenance', { attestations: { url: 'u' } }, ['PROVENANCE_DOWNGRADE']],
    ];
    for (const [what, fields, expected] of CASES) {
      it(`counts ${what} as missing`, () => {
        const doc = takeover();
        const alice = doc.versions!['1.0.2']!;
        doc.versions!['1.0.3'] = {
          ...alice,
          version: '1.0.3',
          dist: { ...(alice.dist as object), ...fields },
        };
        const codes = checkReleaseLine(doc, '1.0.3', { admitted: ['1.0.2'] }).findings.map(
          (f) => f.code,
        );
        assert.deepEqual(codes, expected);
      });
    }
  });
});
