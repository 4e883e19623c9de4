import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseOptions } from '../../src/config/options';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'identity');
const parse = (identity: unknown) =>
  parseOptions({ identity }, { configDir: FIXTURES, storage: './storage' }).identity;

describe('identity options', () => {
  it('defaults to typosquat detection on, no fallback keys, the shipped trusted root', () => {
    assert.deepEqual(parse(undefined), { typosquat: { enabled: true, allow: [] } });
  });

  it('resolves the keys file against the config directory and loads it', () => {
    const o = parse({ keys: 'npm-keys/keys.json', typosquat: { allow: ['expresss'] } });
    assert.equal(o.keys, path.join(FIXTURES, 'npm-keys', 'keys.json'));
    assert.deepEqual(o.typosquat.allow, ['expresss']);
  });

  const BAD: Array<[string, unknown, RegExp]> = [
    ['an unknown option', { foo: 1 }, /^middlewares\.vetted\.identity\.foo: unknown option$/],
    ['a missing keys file', { keys: 'nope.json' }, /identity\.keys: registry keys file .*nope/],
    ['a keys file that is not a key list', { keys: 'packuments/wrappy.json' }, /identity\.keys/],
    ['a trusted root that is not one', { trustedRoot: 'npm-keys/keys.json' }, /trustedRoot/],
    ['a list given as a string', { typosquat: { allow: 'x' } }, /typosquat\.allow/],
  ];
  for (const [what, raw, message] of BAD) {
    it(`refuses ${what}, naming the option`, () => {
      assert.throws(() => parse(raw), { code: 'CONFIG_INVALID', message });
    });
  }
});
