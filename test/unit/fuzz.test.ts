import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import semver from 'semver';
import validateName from 'validate-npm-package-name';
import { parseTarballPath } from '../../src/gate/tarball-path';
import { isPrototypeLookup } from '../../src/gate/prototype-path';
import { parseSpec } from '../../src/registry/resolve-spec';
import { dropMalformedVersions } from '../../src/registry/packument-guard';
import { isVettedError } from '../../src/errors';
import { fuzzPaths, fuzzSpecs, PROTO_KEYS, seeded } from '../helpers/fuzz-inputs';

const COUNT = process.env.VETTED_STRESS === '1' ? 100_000 : 10_000;

describe('parseTarballPath under fuzzing', () => {
  const paths = fuzzPaths(COUNT, 21);

  it(`never throws on ${COUNT} generated paths`, () => {
    for (const p of paths) assert.doesNotThrow(() => parseTarballPath(p), p);
  });

  it('accepts only valid names and exact semver versions', () => {
    let accepted = 0;
    for (const p of paths) {
      const parsed = parseTarballPath(p);
      if (parsed.kind !== 'tarball') continue;
      accepted++;
      assert.ok(validateName(parsed.name).validForOldPackages, `${p} -> ${parsed.name}`);
      assert.ok(!parsed.name.includes('..'), p);
      assert.equal(semver.valid(parsed.version), parsed.version, p);
      // `constructor` is a valid package name; `__proto__` is not
      assert.notEqual(parsed.name, '__proto__', p);
    }
    assert.ok(accepted > 0, 'some generated paths are real tarball routes');
  });

  it('decodes an accepted path the same way after re-encoding it', () => {
    for (const p of paths) {
      const parsed = parseTarballPath(p);
      if (parsed.kind !== 'tarball') continue;
      const base = parsed.name.startsWith('@') ? parsed.name.split('/')[1] : parsed.name;
      const again = parseTarballPath(
        `/${parsed.name.replace('/', '%2f')}/-/${base}-${parsed.version}.tgz`,
      );
      assert.deepEqual(again, { ...parsed, filename: `${base}-${parsed.version}.tgz` }, p);
    }
  });

  it('answers every invalid path with a 400 or 404 and a printable message', () => {
    for (const p of paths) {
      const parsed = parseTarballPath(p);
      if (parsed.kind !== 'invalid') continue;
      assert.ok(parsed.status === 400 || parsed.status === 404, p);
      assert.match(parsed.message, /^[\x20-\x7e…]*$/, p);
      assert.ok(parsed.message.length < 600, p);
    }
  });
});

describe('parseSpec under fuzzing', () => {
  it('returns a spec or throws SPEC_INVALID, nothing else', () => {
    for (const text of fuzzSpecs(COUNT, 5)) {
      try {
        const spec = parseSpec(text);
        assert.ok(typeof spec.name === 'string' && spec.name.length > 0, text);
      } catch (err) {
        assert.ok(isVettedError(err) && err.code === 'SPEC_INVALID', `${text}: ${String(err)}`);
      }
    }
  });
});

describe('isPrototypeLookup', () => {
  const cases: Array<[string, boolean]> = [
    ['/vt-clean/constructor', true],
    ['/vt-clean/__proto__', true],
    ['/@vt/scoped/toString', true],
    ['/@vt%2fscoped/hasOwnProperty', true],
    ['/vt-clean/%63onstructor', true],
    ['/vt-clean/1.0.0', false],
    ['/vt-clean/latest', false],
    ['/constructor', false],
    ['/vt-clean/-/vt-clean-1.0.0.tgz', false],
    ['/-/vetted/api/versions/constructor', false],
  ];
  for (const [url, expected] of cases) {
    it(`${expected ? 'flags' : 'passes'} ${url}`, () => {
      assert.equal(isPrototypeLookup(url), expected);
    });
  }
});

describe('dropMalformedVersions under fuzzing', () => {
  const values = [
    null,
    42,
    'x',
    [],
    [1],
    {},
    { tarball: 1 },
    { tarball: ['x'] },
    { integrity: 42 },
    { shasum: {} },
    { tarball: 'http://x/y.tgz', integrity: 'sha512-x' },
  ];
  it('leaves only versions whose dist Verdaccio can store, and pollutes nothing', () => {
    const rnd = seeded(3);
    for (let i = 0; i < 2_000; i++) {
      const versions: Record<string, unknown> = JSON.parse('{"__proto__": {"polluted": 1}}');
      for (let v = 0; v < 4; v++) {
        const key = rnd() < 0.2 ? (PROTO_KEYS[v] as string) : `1.0.${v}`;
        const dist = values[Math.floor(rnd() * values.length)];
        versions[key] = rnd() < 0.1 ? dist : { version: key, dist };
      }
      const doc = { versions };
      dropMalformedVersions(doc);
      for (const [key, entry] of Object.entries(doc.versions)) {
        assert.equal(typeof entry, 'object', key);
        assert.ok(entry !== null && !Array.isArray(entry), key);
        const dist = (entry as { dist?: unknown }).dist;
        if (dist === undefined || dist === null) continue;
        const d = dist as Record<string, unknown>;
        assert.ok(typeof dist === 'object' && !Array.isArray(dist), key);
        for (const field of ['tarball', 'integrity', 'shasum']) {
          assert.ok(d[field] === undefined || typeof d[field] === 'string', `${key}.${field}`);
        }
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    }
  });
});
