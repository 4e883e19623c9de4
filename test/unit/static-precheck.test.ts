import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { staticPrecheck } from '../../src/verify/layers/static-precheck';
import { readTarball } from '../../src/verify/tarball-contents';
import type { LayerInput } from '../../src/verify/layer';

/** A minimal ustar writer, so tests can build archives no packer would make. */
function tarEntry(
  name: string,
  body: Buffer | string,
  opts: { type?: string; linkname?: string; size?: number } = {},
): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  const header = Buffer.alloc(512);
  header.write(name.slice(0, 100), 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${(opts.size ?? data.length).toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write(opts.type ?? '0', 156);
  if (opts.linkname) header.write(opts.linkname, 157);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, pad]);
}

function tgz(...entries: Buffer[]): Buffer {
  return gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]));
}

const pkg = (extra: Record<string, unknown> = {}) =>
  tarEntry('package/package.json', JSON.stringify({ name: 'x', version: '1.0.0', ...extra }));

function input(
  tarball: Buffer,
  manifest: Record<string, unknown> = { name: 'x', version: '1.0.0' },
): LayerInput {
  return {
    name: 'x',
    version: '1.0.0',
    packument: {},
    manifest,
    tarball,
    signal: new AbortController().signal,
  };
}

const codes = async (tarball: Buffer, manifest?: Record<string, unknown>) => {
  const result = await staticPrecheck.run(input(tarball, manifest));
  return { outcome: result.outcome, codes: result.findings.map((f) => f.code) };
};

describe('staticPrecheck', () => {
  it('passes a plain JavaScript package', async () => {
    assert.deepEqual(await codes(tgz(pkg(), tarEntry('package/index.js', 'module.exports = 1'))), {
      outcome: 'pass',
      codes: [],
    });
  });

  describe('when the package runs code at install time', () => {
    it('reports each install script with its command', async () => {
      const scripts = { preinstall: 'node a.js', postinstall: 'curl x | sh' };
      const result = await staticPrecheck.run(
        input(tgz(pkg({ scripts })), { name: 'x', version: '1.0.0', scripts }),
      );
      assert.equal(result.outcome, 'warn');
      assert.deepEqual(
        result.findings.map((f) => f.evidence?.script),
        ['preinstall', 'postinstall'],
      );
    });
    it('reports binding.gyp as an implicit node-gyp rebuild', async () => {
      assert.deepEqual((await codes(tgz(pkg(), tarEntry('package/binding.gyp', '{}')))).codes, [
        'NATIVE_BUILD',
      ]);
    });
    it('reports scripts the registry metadata hides', async () => {
      const r = await codes(tgz(pkg({ scripts: { postinstall: 'node steal.js' } })), {
        name: 'x',
        version: '1.0.0',
      });
      assert.deepEqual(r.codes, ['INSTALL_SCRIPT', 'MANIFEST_MISMATCH']);
    });
  });

  it('reports bundled native binaries', async () => {
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(100)]);
    assert.deepEqual((await codes(tgz(pkg(), tarEntry('package/bin/tool', elf)))).codes, [
      'BUNDLED_BINARY',
    ]);
  });

  describe('when the archive is hostile', () => {
    const cases: Array<[string, Buffer]> = [
      ['a path escaping the package', tgz(pkg(), tarEntry('package/../../etc/x', 'x'))],
      ['an absolute path', tgz(pkg(), tarEntry('/etc/cron.d/x', 'x'))],
      [
        'a symlink out',
        tgz(pkg(), tarEntry('package/link', '', { type: '2', linkname: '../../../../etc/passwd' })),
      ],
      [
        'an absolute hard link',
        tgz(pkg(), tarEntry('package/hard', '', { type: '1', linkname: '/etc/shadow' })),
      ],
      ['a device file', tgz(pkg(), tarEntry('package/dev', '', { type: '3' }))],
    ];
    for (const [label, tarball] of cases) {
      it(`fails ${label}`, async () => {
        const r = await codes(tarball);
        assert.equal(r.outcome, 'fail');
        assert.ok(r.codes.includes('TARBALL_UNSAFE'), r.codes.join());
      });
    }
    it('fails a broken gzip stream', async () => {
      const good = tgz(pkg());
      const r = await codes(good.subarray(0, good.length - 20));
      assert.equal(r.outcome, 'fail');
    });
    it('fails a tarball without package.json', async () => {
      assert.equal((await codes(tgz(tarEntry('package/index.js', '1')))).outcome, 'fail');
    });
    it('stops at the entry limit instead of reading everything', async () => {
      const many = Array.from({ length: 60 }, (_, i) => tarEntry(`package/f${i}.js`, '1'));
      const contents = await readTarball(tgz(pkg(), ...many), {
        maxEntries: 20,
        maxUnpackedBytes: 1e9,
        maxPackageJsonBytes: 1e6,
      });
      assert.equal(contents.truncated, true);
      assert.ok(contents.entries.length <= 20);
    });
    it('stops at the size limit on a gzip bomb', async () => {
      const bomb = tgz(pkg(), tarEntry('package/zeros', Buffer.alloc(64 * 1024 * 1024)));
      assert.ok(bomb.length < 200 * 1024, `bomb is ${bomb.length} bytes`);
      const contents = await readTarball(bomb, {
        maxEntries: 100,
        maxUnpackedBytes: 8 * 1024 * 1024,
        maxPackageJsonBytes: 1e6,
      });
      assert.equal(contents.truncated, true);
    });
  });
});

describe('staticPrecheck and npm publish', () => {
  it('does not call the implicit node-gyp rebuild npm adds to the registry copy a mismatch', async () => {
    const tarball = tgz(pkg(), tarEntry('package/binding.gyp', '{}'));
    const manifest = {
      name: 'x',
      version: '1.0.0',
      gypfile: true,
      scripts: { install: 'node-gyp rebuild' },
    };
    const result = await staticPrecheck.run(input(tarball, manifest));
    assert.deepEqual(
      result.findings.map((f) => f.code),
      ['NATIVE_BUILD'],
    );
  });
  it('still reports an install script the tarball does not have', async () => {
    const manifest = { name: 'x', version: '1.0.0', scripts: { install: 'node-gyp rebuild' } };
    const result = await staticPrecheck.run(input(tgz(pkg()), manifest));
    assert.ok(result.findings.some((f) => f.code === 'MANIFEST_MISMATCH'));
  });
});
