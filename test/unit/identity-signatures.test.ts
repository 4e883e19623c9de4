import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  checkSignatures,
  createKeySource,
  loadKeysFile,
  toRegistryKeys,
} from '../../src/verify/identity/signatures';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'identity');
const KEYS_FILE = path.join(FIXTURES, 'npm-keys', 'keys.json');
const keys = loadKeysFile(KEYS_FILE);
const EXPIRING = 'SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA';
const LASTING = 'SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U';

interface Entry {
  name: string;
  version: string;
  integrity: string;
  keyid: string;
  sig: string;
}
const entries: Entry[] = JSON.parse(
  readFileSync(path.join(FIXTURES, 'signatures', 'registry-signatures.json'), 'utf8'),
).entries;

/** Before the expiring key's end (2025-01-29): when every fixture signature was made. */
const BEFORE_EXPIRY = new Date('2024-06-01T00:00:00Z');

const check = (e: Entry, over: Partial<Entry> = {}, publishedAt = BEFORE_EXPIRY) => {
  const v = { ...e, ...over };
  return checkSignatures(
    {
      name: v.name,
      version: v.version,
      integrity: v.integrity,
      signatures: [{ keyid: v.keyid, sig: v.sig }],
      publishedAt,
    },
    keys,
  );
};
const codes = (r: ReturnType<typeof checkSignatures>) => r.findings.map((f) => f.code);

describe('registry signatures', () => {
  it('has fixtures signed with both keys', () => {
    assert.equal(entries.length, 15);
    assert.ok(entries.some((e) => e.keyid === EXPIRING));
    assert.ok(entries.some((e) => e.keyid === LASTING));
  });

  describe('when nothing was changed', () => {
    for (const e of entries) {
      it(`verifies ${e.name}@${e.version}`, () => {
        const r = check(e);
        assert.deepEqual(codes(r), []);
        assert.deepEqual(r.verified, [e.keyid]);
      });
    }
  });

  describe('when the signed message or the key is altered', () => {
    for (const e of entries) {
      it(`fails ${e.name}@${e.version} with another version, integrity or key`, () => {
        assert.deepEqual(codes(check(e, { version: `${e.version}-1` })), ['SIGNATURE_INVALID']);
        const other = entries.find((x) => x.integrity !== e.integrity)!.integrity;
        assert.deepEqual(codes(check(e, { integrity: other })), ['SIGNATURE_INVALID']);
        const otherKey = e.keyid === EXPIRING ? LASTING : EXPIRING;
        assert.deepEqual(codes(check(e, { keyid: otherKey })), ['SIGNATURE_INVALID']);
        assert.deepEqual(check(e, { keyid: otherKey }).verified, []);
      });
    }
  });

  it('names a key the registry does not list', () => {
    const r = check(entries[0]!, { keyid: 'SHA256:not-a-registry-key' });
    assert.deepEqual(codes(r), ['SIGNATURE_KEY_UNKNOWN']);
  });

  describe('when the key has expired', () => {
    const e = entries.find((x) => x.keyid === EXPIRING)!;
    it('accepts a version published before the expiry', () => {
      assert.deepEqual(codes(check(e, {}, new Date('2025-01-28T23:00:00Z'))), []);
    });
    it('refuses a version published after it', () => {
      const r = check(e, {}, new Date('2025-02-01T00:00:00Z'));
      assert.deepEqual(codes(r), ['SIGNATURE_KEY_EXPIRED']);
      assert.match(r.findings[0]!.message, /expired 2025-01-29/);
    });
    it('refuses when the publish time is unknown', () => {
      const r = checkSignatures(
        { ...e, signatures: [{ keyid: e.keyid, sig: e.sig }], publishedAt: undefined },
        keys,
      );
      assert.deepEqual(codes(r), ['SIGNATURE_KEY_EXPIRED']);
    });
    it('never expires the key without an expiry', () => {
      const lasting = entries.find((x) => x.keyid === LASTING)!;
      assert.deepEqual(codes(check(lasting, {}, new Date('2030-01-01T00:00:00Z'))), []);
    });
  });

  it('verifies the signatures inside the real packuments by their publish time', () => {
    for (const file of ['not-licensed.json', 'tiny-tarball.json']) {
      const doc = JSON.parse(readFileSync(path.join(FIXTURES, 'packuments', file), 'utf8'));
      const m = doc.versions['1.0.0'];
      const r = checkSignatures(
        {
          name: doc.name,
          version: '1.0.0',
          integrity: m.dist.integrity,
          signatures: m.dist.signatures,
          publishedAt: new Date(doc.time['1.0.0']),
        },
        keys,
      );
      assert.deepEqual(codes(r), [], file);
      assert.equal(r.verified.length, 1);
    }
  });

  it('rejects a keys body without usable keys', () => {
    assert.throws(() => toRegistryKeys({}), /expected/);
    assert.throws(() => toRegistryKeys({ keys: [{ keyid: 'x', keytype: 'ed25519', key: 'AA' }] }));
  });

  it('skips a key that does not parse, or is not P-256, and keeps the others', () => {
    const body = JSON.parse(readFileSync(KEYS_FILE, 'utf8'));
    const ed25519 = generateKeyPairSync('ed25519')
      .publicKey.export({ format: 'der', type: 'spki' })
      .toString('base64');
    body.keys.unshift(
      { keyid: 'SHA256:broken', keytype: 'ecdsa-sha2-nistp256', key: 'bm90IGEga2V5' },
      { keyid: 'SHA256:ed', keytype: 'ecdsa-sha2-nistp256', key: ed25519 },
    );
    assert.deepEqual(
      toRegistryKeys(body).map((k) => k.keyid),
      [EXPIRING, LASTING],
    );
  });
});

describe('createKeySource', () => {
  let hits = 0;
  let answer = 404;
  let body = readFileSync(KEYS_FILE, 'utf8');
  const server = createServer((req, res) => {
    hits++;
    assert.equal(req.url, '/-/npm/v1/keys');
    res.statusCode = answer;
    // a little late, so loads made at once overlap
    setTimeout(() => res.end(answer === 200 ? body : '{}'), 50);
  });
  const ready = new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`),
    ),
  );
  after(() => server.close());

  it('says why when the upstream has no keys and none are configured', async () => {
    const set = await createKeySource({ registry: await ready }).load();
    assert.equal(set.keys, undefined);
    assert.match(!set.keys ? set.reason : '', /serves no registry keys .*answered 404/);
  });

  it('falls back to the configured file', async () => {
    const set = await createKeySource({ registry: await ready, fallbackFile: KEYS_FILE }).load();
    assert.equal(set.keys?.length, 2);
    assert.equal(set.keys ? set.source : '', 'fallback');
  });

  it('asks an upstream without keys once, for loads at once and later', async () => {
    const source = createKeySource({ registry: await ready, fallbackFile: KEYS_FILE });
    const before = hits;
    const sets = await Promise.all([source.load(), source.load(), source.load()]);
    const later = await source.load();
    assert.equal(hits - before, 1);
    for (const set of [...sets, later]) assert.equal(set.keys ? set.source : '', 'fallback');
  });

  it("uses the upstream's good keys when one entry is malformed", async () => {
    answer = 200;
    const doc = JSON.parse(readFileSync(KEYS_FILE, 'utf8'));
    doc.keys.push({ keyid: 'SHA256:broken', keytype: 'ecdsa-sha2-nistp256', key: '!!' });
    body = JSON.stringify(doc);
    const set = await createKeySource({ registry: await ready, fallbackFile: KEYS_FILE }).load();
    body = readFileSync(KEYS_FILE, 'utf8');
    answer = 404;
    assert.equal(set.keys ? set.source : '', 'upstream');
    assert.deepEqual(
      set.keys?.map((k) => k.keyid),
      [EXPIRING, LASTING],
    );
  });

  it("uses the upstream's keys and caches them", async () => {
    answer = 200;
    const source = createKeySource({ registry: await ready });
    const before = hits;
    const first = await source.load();
    const second = await source.load();
    assert.equal(first.keys ? first.source : '', 'upstream');
    assert.equal(second, first);
    assert.equal(hits - before, 1);
  });
});
