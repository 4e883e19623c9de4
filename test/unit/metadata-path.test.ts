import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { packumentPath, parseMetadataPath } from '../../src/metadata/metadata-path';

describe('parseMetadataPath', () => {
  const cases: Array<[string, ReturnType<typeof parseMetadataPath>]> = [
    ['/left-pad', { kind: 'packument', name: 'left-pad' }],
    ['/left-pad?write=true', { kind: 'packument', name: 'left-pad' }],
    ['/left-pad/1.3.0', { kind: 'version', name: 'left-pad', spec: '1.3.0' }],
    ['/left-pad/latest', { kind: 'version', name: 'left-pad', spec: 'latest' }],
    ['/@s/n', { kind: 'packument', name: '@s/n' }],
    ['/@s%2fn', { kind: 'packument', name: '@s/n' }],
    ['/@s%2Fn', { kind: 'packument', name: '@s/n' }],
    ['/%40s%2Fn', { kind: 'packument', name: '@s/n' }],
    ['/@s/n/1.0.0', { kind: 'version', name: '@s/n', spec: '1.0.0' }],
    ['/%40s%2fn/next', { kind: 'version', name: '@s/n', spec: 'next' }],
    ['/-/package/@s%2fn/dist-tags', { kind: 'dist-tags', name: '@s/n' }],
    ['/-/package/left-pad/dist-tags', { kind: 'dist-tags', name: 'left-pad' }],
    ['/ms/', { kind: 'packument', name: 'ms' }],
    ['/@types/ms/', { kind: 'packument', name: '@types/ms' }],
    ['/@types%2fms/?write=true', { kind: 'packument', name: '@types/ms' }],
    ['/ms/2.1.0/', { kind: 'version', name: 'ms', spec: '2.1.0' }],
    ['/-/package/ms/dist-tags/', { kind: 'dist-tags', name: 'ms' }],
  ];
  for (const [url, expected] of cases) {
    it(`reads ${url}`, () => assert.deepEqual(parseMetadataPath(url), expected));
  }

  const others = [
    '/',
    '/-/ping',
    '/-/vetted/api/health',
    '/-/v1/search?text=x',
    '/left-pad/-/left-pad-1.3.0.tgz',
    '/left-pad/-rev/3-abc',
    '/%zz',
    '/..%2f..%2fetc',
    '/@s/n/1.0.0/extra',
    '/ms//',
    '/Bad Name',
  ];
  for (const url of others) {
    it(`leaves ${url} to Verdaccio`, () => assert.equal(parseMetadataPath(url), undefined));
  }

  it('asks Verdaccio for the packument in the encoded form its route expects', () => {
    assert.equal(packumentPath('@s/n'), '/@s%2fn');
    assert.equal(packumentPath('left-pad'), '/left-pad');
  });
});
