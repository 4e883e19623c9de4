import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarballPath } from '../../src/gate/tarball-path';

describe('parseTarballPath', () => {
  describe('when given every form a client or Verdaccio uses', () => {
    const cases: Array<[string, string, string]> = [
      ['unscoped', '/tiny-a/-/tiny-a-1.0.0.tgz', 'tiny-a'],
      ['scoped, literal slash', '/@acme/tiny-b/-/tiny-b-1.0.0.tgz', '@acme/tiny-b'],
      ['scoped, %2f', '/@acme%2ftiny-b/-/tiny-b-1.0.0.tgz', '@acme/tiny-b'],
      ['scoped, %2F', '/@acme%2Ftiny-b/-/tiny-b-1.0.0.tgz', '@acme/tiny-b'],
      ['scoped, %40 and %2F', '/%40acme%2Ftiny-b/-/tiny-b-1.0.0.tgz', '@acme/tiny-b'],
      ['scoped, Verdaccio publish form', '/@acme/tiny-b/-/@acme/tiny-b-1.0.0.tgz', '@acme/tiny-b'],
      ['with a query string', '/tiny-a/-/tiny-a-1.0.0.tgz?cache=1', 'tiny-a'],
      ['encoded dash segment', '/tiny-a/%2D/tiny-a-1.0.0.tgz', 'tiny-a'],
    ];
    for (const [label, url, name] of cases) {
      it(`decodes ${label} to ${name}@1.0.0`, () => {
        const parsed = parseTarballPath(url);
        assert.equal(parsed.kind, 'tarball');
        assert.ok(parsed.kind === 'tarball');
        assert.equal(parsed.name, name);
        assert.equal(parsed.version, '1.0.0');
      });
    }
    it('keeps prerelease and build parts of the version', () => {
      const parsed = parseTarballPath('/a-b/-/a-b-2.0.0-beta.1.tgz');
      assert.ok(parsed.kind === 'tarball');
      assert.equal(parsed.version, '2.0.0-beta.1');
    });
  });

  describe('when the path is not a tarball route', () => {
    for (const url of [
      '/express',
      '/@acme%2ftiny-b',
      '/-/ping',
      '/-/vetted/api/health',
      '/express/4.18.2',
      '/-/package/x/dist-tags',
    ]) {
      it(`leaves ${url} to Verdaccio`, () => assert.equal(parseTarballPath(url).kind, 'other'));
    }
  });

  describe('when the path is hostile or malformed', () => {
    const cases: Array<[string, string, number]> = [
      ['path traversal in the name', '/..%2f..%2fetc/-/passwd-1.0.0.tgz', 400],
      ['encoded traversal', '/%2e%2e/-/%2e%2e-1.0.0.tgz', 400],
      ['broken percent-encoding', '/tiny-a/-/tiny-a-1.0.0%zz.tgz', 400],
      ['non-semver version', '/tiny-a/-/tiny-a-latest.tgz', 400],
      ['file of another package', '/tiny-a/-/other-1.0.0.tgz', 404],
      ['trailing slash', '/tiny-a/-/tiny-a-1.0.0.tgz/', 404],
      ['not a .tgz', '/tiny-a/-/tiny-a-1.0.0.zip', 404],
      ['scope mismatch in file part', '/@acme/tiny-b/-/@evil/tiny-b-1.0.0.tgz', 404],
      ['NUL byte', '/tiny-a%00/-/tiny-a-1.0.0.tgz', 400],
      ['upper-case and spaces', '/a b/-/a b-1.0.0.tgz', 400],
      ['upper-case scope', '/@TYPES/ms/-/ms-2.1.0.tgz', 400],
      ['upper-case scoped name', '/@types/MS/-/MS-2.1.0.tgz', 400],
      ['very long name', `/${'a'.repeat(2000)}/-/a-1.0.0.tgz`, 400],
    ];
    for (const [label, url, status] of cases) {
      it(`answers ${status} for ${label}`, () => {
        const parsed = parseTarballPath(url);
        assert.equal(parsed.kind, 'invalid', JSON.stringify(parsed));
        assert.ok(parsed.kind === 'invalid');
        assert.equal(parsed.status, status);
      });
    }
    it('never throws on generated input', () => {
      const alphabet = [
        '/',
        '-',
        '%',
        '2',
        'f',
        'F',
        '4',
        '0',
        '@',
        '.',
        'a',
        'tgz',
        '%2e',
        '%00',
        '\u0430',
        '__proto__',
        '?',
        '#',
      ];
      let seed = 7;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      for (let i = 0; i < 5000; i++) {
        let url = '/';
        const n = Math.floor(rand() * 20);
        for (let j = 0; j < n; j++) url += alphabet[Math.floor(rand() * alphabet.length)];
        const parsed = parseTarballPath(url);
        assert.ok(['tarball', 'invalid', 'other'].includes(parsed.kind));
        if (parsed.kind === 'tarball') assert.ok(!parsed.name.includes('..'));
      }
    });
  });
});
