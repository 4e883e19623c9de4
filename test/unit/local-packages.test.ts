import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ssri from 'ssri';
import { openDatabase } from '../../src/index/database';
import { createLocalPackages, withLocalPackages } from '../../src/registry/local-packages';
import { publishTarget } from '../../src/registry/publish-watch';
import type { Upstream } from '../../src/registry/upstream';

const put = (url: string) => ({ method: 'PUT', url }) as IncomingMessage;

describe('publishTarget', () => {
  const CASES: Array<[string, string | undefined]> = [
    ['/vt-lib', 'vt-lib'],
    ['/@scope%2fvt-lib', '@scope/vt-lib'],
    ['/@scope%2Fvt-lib', '@scope/vt-lib'],
    ['/vt-lib/-rev/3-abc', undefined],
    ['/-/user/org.couchdb.user:bob', undefined],
    ['/-/v1/login', undefined],
    ['/%2e%2e', undefined],
    ['/..%2fetc', undefined],
  ];
  for (const [url, name] of CASES) {
    it(`reads ${url} as ${name ?? 'not a publish'}`, () =>
      assert.equal(publishTarget(put(url)), name));
  }
  it('ignores reads', () =>
    assert.equal(publishTarget({ method: 'GET', url: '/vt-lib' } as never), undefined));
});

describe('local packages', async () => {
  const home = mkdtempSync(path.join(tmpdir(), 'vetted-local-'));
  after(() => rmSync(home, { recursive: true, force: true }));
  const storage = path.join(home, 'storage');
  const subs = await openDatabase(path.join(home, 'index'));
  after(() => subs.db.close());
  const tarball = Buffer.from('not really a tarball, but bytes with an integrity');
  const integrity = ssri.fromData(tarball).toString();
  const write = (versions: string[]) => {
    mkdirSync(path.join(storage, '@s', 'lib'), { recursive: true });
    const doc = {
      name: '@s/lib',
      versions: Object.fromEntries(
        versions.map((v) => [
          v,
          {
            name: '@s/lib',
            version: v,
            dist: { integrity, tarball: `http://x/@s/lib/-/lib-${v}.tgz` },
          },
        ]),
      ),
    };
    writeFileSync(path.join(storage, '@s', 'lib', 'package.json'), JSON.stringify(doc));
    for (const v of versions)
      writeFileSync(path.join(storage, '@s', 'lib', `lib-${v}.tgz`), tarball);
  };
  const local = createLocalPackages(storage, subs.publishers);
  const missing: Upstream = {
    registry: 'http://upstream.invalid/',
    packument: async () => Promise.reject(Object.assign(new Error('404'), { code: 'E404' })),
    versions: async () => Promise.reject(Object.assign(new Error('404'), { code: 'E404' })),
    tarball: async () => Promise.reject(new Error('never fetched from the upstream')),
  };
  const upstream = withLocalPackages(missing, local, storage);

  it('records the publisher of new versions only', async () => {
    write(['1.0.0']);
    const before = local.versionsNow('@s/lib');
    write(['1.0.0', '1.0.1']);
    assert.deepEqual(await local.recordPublish('@s/lib', 'bob', before), ['1.0.1']);
    assert.equal((await local.publisherOf('@s/lib', '1.0.1'))?.user, 'bob');
    assert.equal(await local.publisherOf('@s/lib', '1.0.0'), undefined);
  });

  it('serves the stored document with the publisher as _npmUser', async () => {
    const doc = await upstream.packument('@s/lib');
    assert.deepEqual(doc.versions?.['1.0.1']?._npmUser, { name: 'bob', registry: 'vetted' });
    assert.equal(doc.versions?.['1.0.1']?.dist?.tarball, 'vetted-local:@s/lib/lib-1.0.1.tgz');
    assert.deepEqual([...(await upstream.versions('@s/lib'))], ['1.0.0', '1.0.1']);
  });

  it('reads stored tarballs against the integrity', async () => {
    assert.deepEqual(
      await upstream.tarball('vetted-local:@s/lib/lib-1.0.1.tgz', integrity),
      tarball,
    );
    writeFileSync(path.join(storage, '@s', 'lib', 'lib-1.0.1.tgz'), 'edited');
    await assert.rejects(upstream.tarball('vetted-local:@s/lib/lib-1.0.1.tgz', integrity), {
      code: 'EINTEGRITY',
    });
    await assert.rejects(upstream.tarball('vetted-local:../../etc/passwd', integrity), {
      code: 'E404',
    });
  });

  it('keeps the 404 for a name nobody has', async () => {
    await assert.rejects(upstream.packument('nobody'), { code: 'E404' });
  });
});
