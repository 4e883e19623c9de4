import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { steerPackument } from '../../src/metadata/steer';
import type { Packument, VersionVerdict } from '../../src/metadata/steer';
import { filterMetadata } from '../../src/metadata/filter';
import { metadataContext } from '../../src/metadata/context';
import type { MetadataContext } from '../../src/metadata/context';
import { silentLogger } from '../../src/log/logger';

function doc(versions: string[], tags: Record<string, string>): Packument {
  const time: Record<string, string> = { created: 't0', modified: 't9' };
  for (const v of versions) time[v] = `t-${v}`;
  return {
    name: 'p',
    versions: Object.fromEntries(versions.map((v) => [v, { name: 'p', version: v }])),
    'dist-tags': tags,
    time,
  };
}

const verdicts = (map: Record<string, VersionVerdict['status']>) => (v: string) =>
  map[v] ? { status: map[v], reason: `${map[v]} reason` } : undefined;

describe('steerPackument', () => {
  describe('when the latest version is held', () => {
    it('retargets latest to the newest admitted version of its major line', () => {
      const d = doc(['1.0.0', '1.1.0', '2.0.0', '2.1.0'], { latest: '2.1.0' });
      const r = steerPackument(
        d,
        verdicts({ '1.1.0': 'verified', '2.0.0': 'approved', '2.1.0': 'held' }),
      );
      assert.equal(d['dist-tags']?.latest, '2.0.0');
      assert.deepEqual(Object.keys(d.versions ?? {}), ['1.0.0', '1.1.0', '2.0.0']);
      assert.equal(r.restricted['2.1.0']?.status, 'held');
      assert.equal(d.time?.['2.1.0'], undefined);
      assert.equal(d.time?.modified, 't9');
    });
  });

  describe('when no admitted version shares the major line', () => {
    it('keeps latest on the newest admitted release and drops other tags', () => {
      const d = doc(['1.0.0', '2.0.0', '3.0.0-beta.1'], { latest: '2.0.0', beta: '3.0.0-beta.1' });
      steerPackument(
        d,
        verdicts({ '1.0.0': 'verified', '2.0.0': 'revoked', '3.0.0-beta.1': 'denied' }),
      );
      assert.deepEqual(d['dist-tags'], { latest: '1.0.0' });
    });
  });

  describe('when nothing is admitted yet', () => {
    it('keeps latest on the newest undecided version and queues it, not other tags', () => {
      const d = doc(['1.0.0', '1.1.0', '1.2.0'], { latest: '1.2.0', next: '1.0.0' });
      const r = steerPackument(d, verdicts({ '1.2.0': 'rejected' }));
      assert.equal(d['dist-tags']?.latest, '1.1.0');
      assert.deepEqual(r.unknownTargets, ['1.1.0']);
      assert.equal(d['dist-tags']?.next, '1.0.0');
    });
  });

  describe('when a prerelease tag loses its target', () => {
    it('moves it to the newest admitted prerelease of the same major', () => {
      const d = doc(['2.0.0-beta.1', '2.0.0-beta.2', '1.0.0'], {
        latest: '1.0.0',
        beta: '2.0.0-beta.2',
      });
      steerPackument(
        d,
        verdicts({ '1.0.0': 'verified', '2.0.0-beta.1': 'verified', '2.0.0-beta.2': 'held' }),
      );
      assert.equal(d['dist-tags']?.beta, '2.0.0-beta.1');
    });
  });

  it('gives a different verdict key when a verdict changes', () => {
    const a = steerPackument(doc(['1.0.0'], {}), verdicts({ '1.0.0': 'verified' }));
    const b = steerPackument(doc(['1.0.0'], {}), verdicts({ '1.0.0': 'approved' }));
    assert.notEqual(a.verdictKey, b.verdictKey);
  });
});

describe('filterMetadata', () => {
  describe('when the engine is not running', () => {
    it('returns no versions and marks the request failed', async () => {
      const context: MetadataContext = {};
      const out = await metadataContext.run(context, () =>
        filterMetadata(doc(['1.0.0'], { latest: '1.0.0' }), undefined, 'not started', silentLogger),
      );
      assert.deepEqual(out.versions, {});
      assert.deepEqual(out['dist-tags'], {});
      assert.match(context.failed ?? '', /not started/);
    });
  });
});
