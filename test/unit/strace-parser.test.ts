import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseStrace, straceArgs } from '../../src/sandbox';
import { dnsNames } from '../../src/sandbox/strace-net';
import type { ExecEvent, FileEvent, NetEvent, ParsedTrace } from '../../src/sandbox';
import { decodeString, readArgs, readLine } from '../../src/sandbox/strace-syntax';

const execFileAsync = promisify(execFile);
const REPO = path.resolve(__dirname, '..', '..', '..');

/**
 * A trace captured from the real runner (bwrap setup, then node running a payload that reads
 * ~/.npmrc, writes through a symlink, looks up a name and runs a shell pipeline). Lines that
 * only load shared libraries were removed to keep it small; every other line is as strace
 * wrote it, `<unfinished ...>`/`<... resumed>` pairs included.
 */
const SANDBOXED = path.join(REPO, 'test', 'fixtures', 'behaviour', 'sandboxed-node.trace');

const execs = (t: ParsedTrace) => t.events.filter((e): e is ExecEvent => e.kind === 'exec');
const files = (t: ParsedTrace) => t.events.filter((e): e is FileEvent => e.kind === 'file');
const nets = (t: ParsedTrace) => t.events.filter((e): e is NetEvent => e.kind === 'net');

/** A DNS query for `name` (type A), as a resolver sends it. */
function dnsQuery(name: string): Buffer {
  const labels = name
    .split('.')
    .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const header = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

describe('parseStrace', () => {
  describe('when given the trace of a real node process', () => {
    let dir: string;
    let trace: ParsedTrace;

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'vetted-strace-'));
      const query = dnsQuery('exfil.example.test').toString('hex');
      await writeFile(
        path.join(dir, 'payload.js'),
        `
const fs = require('fs');
const net = require('net');
const dgram = require('dgram');
const { execFileSync } = require('child_process');
fs.mkdirSync('sub');
process.chdir('sub');
// asynchronous, so a libuv worker thread opens it relative to the shared cwd
fs.writeFile('relative.txt', 'x', () => {
  fs.renameSync('relative.txt', 'moved.txt');
  fs.unlinkSync('moved.txt');
  fs.symlinkSync('..', 'up');
  fs.writeFileSync('up/through-link.txt', 'x');
  execFileSync('/bin/sh', ['-c', 'echo hi > from-shell.txt']);
  const u = dgram.createSocket('udp4');
  u.send(Buffer.from('${query}', 'hex'), 9, '127.0.0.1', () => {
    u.close();
    const s = net.connect(9, '127.0.0.1');
    s.on('error', () => {});
  });
});
`,
      );
      const out = path.join(dir, 'trace');
      await execFileAsync('strace', straceArgs(out, [process.execPath, 'payload.js']), {
        cwd: dir,
      });
      trace = parseStrace(await readFile(out, 'utf8'), { cwd: dir });
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('reads every line', () => {
      assert.equal(trace.unparsed, 0);
      assert.ok(trace.lines > 20, `${trace.lines} lines`);
    });
    it('records programs run, with their argv', () => {
      const sh = execs(trace).find((e) => e.path === '/bin/sh');
      assert.deepEqual(sh?.argv, ['/bin/sh', '-c', 'echo hi > from-shell.txt']);
      assert.equal(sh?.ok, true);
    });
    it('resolves paths a worker thread opened relative to the working directory', () => {
      const created = files(trace).find((e) => e.path.endsWith('relative.txt'));
      assert.equal(created?.path, path.join(dir, 'sub', 'relative.txt'));
      assert.equal(created?.op, 'create');
      assert.equal(created?.write, true);
    });
    it('records renames, deletions and the shell child writing in its inherited cwd', () => {
      const rename = files(trace).find((e) => e.op === 'rename');
      assert.equal(rename?.from, path.join(dir, 'sub', 'relative.txt'));
      assert.equal(rename?.path, path.join(dir, 'sub', 'moved.txt'));
      assert.ok(files(trace).some((e) => e.op === 'delete' && e.path.endsWith('sub/moved.txt')));
      const shellWrite = files(trace).find((e) => e.path.endsWith('from-shell.txt'));
      assert.equal(shellWrite?.path, path.join(dir, 'sub', 'from-shell.txt'));
    });
    it('follows a symlink the traced code created', () => {
      const write = files(trace).find((e) => e.path.endsWith('through-link.txt'));
      assert.equal(write?.path, path.join(dir, 'through-link.txt'));
      assert.equal(write?.realPath, path.join(dir, 'through-link.txt'));
    });
    it('records connects and sends with address, port and the DNS name asked for', () => {
      const send = nets(trace).find((e) => e.op === 'send' && e.port === 9);
      assert.equal(send?.family, 'inet');
      assert.equal(send?.address, '127.0.0.1');
      assert.deepEqual(send?.dns, ['exfil.example.test']);
      const connect = nets(trace).find((e) => e.op === 'connect' && e.family === 'inet');
      assert.equal(connect?.port, 9);
      assert.equal(connect?.ok, false);
    });
  });

  describe('when given a trace from the sandbox', () => {
    let trace: ParsedTrace;
    before(async () => {
      trace = parseStrace(await readFile(SANDBOXED, 'utf8'), {
        skipSetup: true,
        cwd: '/home/dev/project/node_modules/sample',
      });
    });

    it('drops the sandbox setup and starts at the first exec inside it', () => {
      assert.equal(trace.rootPid, 658);
      assert.equal(execs(trace)[0]?.path, '/usr/bin/prlimit');
      assert.ok(!files(trace).some((e) => e.path.startsWith('/newroot')));
    });
    it('joins calls split across <unfinished ...> and <... resumed>', () => {
      const cat = execs(trace).find((e) => e.path === '/usr/bin/cat');
      assert.deepEqual(cat?.argv, ['cat']);
      assert.equal(cat?.pid, 671);
      assert.equal(cat?.ok, true);
      const vforks = trace.events.filter((e) => e.kind === 'clone' && e.syscall === 'vfork');
      assert.deepEqual(
        vforks.map((e) => (e.kind === 'clone' ? e.child : undefined)),
        [672, 673],
      );
    });
    it('follows working directories through clones, vforks and fchdir', () => {
      const dirs = files(trace)
        .filter((e) => e.op === 'mkdir')
        .map((e) => e.path);
      assert.deepEqual(dirs, ['/tmp/a"b>c<d\nx', '/home/dev/d', '/home/dev/d/e']);
      const owned = files(trace).find((e) => e.path.endsWith('owned.txt'));
      assert.equal(owned?.path, '/home/dev/owned.txt');
    });
    it('resolves a write through a link to where the kernel put it', () => {
      const profile = files(trace).find((e) => e.path.endsWith('.profile'));
      assert.equal(profile?.path, '/home/dev/.profile');
      assert.equal(profile?.realPath, '/home/dev/.profile');
    });
    it('reads the DNS query sent to the sandbox resolver', () => {
      const query = nets(trace).find((e) => e.syscall === 'sendmmsg');
      assert.deepEqual(query?.dns, ['collect.example.org']);
      assert.equal(query?.address, '127.0.0.1');
      assert.equal(query?.port, 53);
    });
    it('records exits with their pid', () => {
      const exits = trace.events.filter((e) => e.kind === 'exit');
      assert.ok(exits.some((e) => e.pid === 658 && e.code === 0));
    });
  });

  describe('when lines are damaged or foreign', () => {
    it('counts them as unparsed and keeps going', () => {
      const text = [
        'not strace at all',
        '12 10:00:00.000001 <... execve resumed>) = 0',
        '12 10:00:00.000002 openat(AT_FDCWD</x>, "y", O_RDONLY) = 3</x/y>',
      ].join('\n');
      const trace = parseStrace(text);
      assert.equal(trace.unparsed, 2);
      assert.equal(files(trace)[0]?.path, '/x/y');
    });
  });
});

describe('strace syntax', () => {
  it('decodes C escapes to bytes', () => {
    assert.deepEqual(
      [...decodeString('a\\"\\n\\303\\261\\x41\\\\')],
      [97, 34, 10, 195, 177, 65, 92],
    );
  });
  it('keeps strings whole when they contain syntax', () => {
    const line = readLine(
      '7 sendto(3<socket:[1]>, "a, {sa_family=AF_INET}) = 9", 9, 0, NULL, 0) = 9',
    );
    assert.equal(line?.body.kind, 'call');
    const args = line?.body.kind === 'call' ? readArgs(line.body.args) : [];
    assert.equal(args.length, 6);
    assert.equal(
      args[1]?.t === 'str' ? args[1].bytes.toString() : '',
      'a, {sa_family=AF_INET}) = 9',
    );
  });
  it('reads a DNS query over TCP, after its length prefix', () => {
    const q = dnsQuery('a.example');
    const tcp = Buffer.concat([Buffer.from([0, q.length]), q]);
    assert.deepEqual(dnsNames(tcp, 53), ['a.example']);
    assert.deepEqual(dnsNames(Buffer.from('GET / HTTP/1.1\r\n\r\n'), 80), []);
  });
});
