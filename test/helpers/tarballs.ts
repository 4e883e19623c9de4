/**
 * Package tarballs built in memory, for made-up packuments: plain ones, and hostile archives no
 * packer would make (paths out of the package, links out, device files, bombs, cut gzip).
 * A minimal ustar writer, so every header field is under the test's control.
 */
import { gzipSync } from 'node:zlib';

export interface EntryOptions {
  /** ustar type flag: '0' file, '1' hard link, '2' symlink, '3' char device, '5' directory. */
  type?: string;
  linkname?: string;
}

/** One ustar entry: a 512-byte header, the body, padding to a block. */
export function tarEntry(name: string, body: Buffer | string, opts: EntryOptions = {}): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  const header = Buffer.alloc(512);
  header.write(name.slice(0, 100), 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write(`${Math.floor(Date.now() / 1000).toString(8)}\0`, 136);
  header.write(' '.repeat(8), 148);
  header.write(opts.type ?? '0', 156);
  if (opts.linkname) header.write(opts.linkname.slice(0, 100), 157);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, pad]);
}

/** A gzipped archive of the entries, with the two zero blocks that end a tar. */
export function tgz(...entries: Buffer[]): Buffer {
  return tgzOf(entries);
}

/** `tgz` for long lists, which cannot be spread into arguments. */
export function tgzOf(entries: Buffer[]): Buffer {
  return gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]));
}

/** A small, clean package: package.json and an index.js. */
export function cleanPackage(name: string, version: string, extra = ''): Buffer {
  return tgz(
    tarEntry('package/package.json', JSON.stringify({ name, version, main: 'index.js' })),
    tarEntry(
      'package/index.js',
      `module.exports = ${JSON.stringify(`${name}@${version}`)};${extra}\n`,
    ),
  );
}

/**
 * Hostile archives of a package `name@version`, by label. The gzip bomb unpacks to 2 GiB from
 * about 2 MB; the file-count one holds 200,000 empty entries.
 */
export function hostilePackages(name: string, version: string): Array<[string, Buffer]> {
  const manifest = tarEntry('package/package.json', JSON.stringify({ name, version }));
  const index = tarEntry('package/index.js', 'module.exports = 1;\n');
  const good = tgz(manifest, index);
  return [
    ['a path escaping the directory', tgz(manifest, tarEntry('package/../../../tmp/escaped', 'x'))],
    ['an absolute path', tgz(manifest, tarEntry('/tmp/vetted-absolute', 'x'))],
    ['a symlink out', tgz(manifest, tarEntry('package/l', '', { type: '2', linkname: '/etc' }))],
    [
      'a hard link out',
      tgz(manifest, tarEntry('package/h', '', { type: '1', linkname: '../../etc/passwd' })),
    ],
    ['a device file', tgz(manifest, tarEntry('package/dev', '', { type: '3' }))],
    ['a gzip bomb', gzipBomb(manifest, 2 * 1024 * 1024 * 1024)],
    [
      'a huge file count',
      tgzOf([
        manifest,
        ...Array.from({ length: 200_000 }, (_, i) => tarEntry(`package/f/${i}`, '')),
      ]),
    ],
    ['a broken gzip stream', Buffer.concat([good.subarray(0, good.length - 40), Buffer.alloc(8)])],
  ];
}

/** A tar whose one large entry is zeros, gzipped in pieces so building it stays small. */
function gzipBomb(manifest: Buffer, bytes: number): Buffer {
  const header = tarEntry('package/zeros', Buffer.alloc(0));
  // the header names the real size; the body blocks follow as separate gzip members
  header.write(`${bytes.toString(8).padStart(11, '0')}\0`, 124);
  header.write(' '.repeat(8), 148);
  let sum = 0;
  for (const byte of header.subarray(0, 512)) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const chunk = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  const members = [gzipSync(Buffer.concat([manifest, header.subarray(0, 512)]))];
  for (let done = 0; done < bytes; done += 64 * 1024 * 1024) members.push(chunk);
  members.push(gzipSync(Buffer.alloc(1024)));
  // concatenated gzip members are one valid gzip stream (RFC 1952, 2.2)
  return Buffer.concat(members);
}
