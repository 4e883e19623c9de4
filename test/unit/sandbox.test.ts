import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  bwrapArgs,
  checkSandbox,
  commandLine,
  plantDecoys,
  resolveLimits,
  seccompProgram,
} from '../../src/sandbox';
import { isVettedError } from '../../src/errors';
import { processesWith, startTestSandbox } from '../fixtures/behaviour/sandbox-helpers';
import type { TestSandbox } from '../fixtures/behaviour/sandbox-helpers';

const execFileAsync = promisify(execFile);

describe('checkSandbox', () => {
  it('finds the sandbox usable on this machine', async () => {
    const check = await checkSandbox();
    assert.equal(check.available, true, check.available ? '' : check.reason);
  });
  it('says unavailable, naming the tool, when one is missing', async () => {
    const check = await checkSandbox({ tools: { strace: '/nonexistent/strace' } });
    assert.equal(check.available, false);
    assert.match(check.available ? '' : check.reason, /strace .*\/nonexistent\/strace/);
  });
  it('says unavailable when the sandbox cannot start', async () => {
    // /bin/false stands in for a bwrap refused by the kernel: it exits non-zero, traces nothing
    const check = await checkSandbox({ tools: { bwrap: '/bin/false' } });
    assert.equal(check.available, false);
    assert.match(check.available ? '' : check.reason, /cannot start/);
  });
});

describe('the command line', () => {
  it('isolates every namespace, drops capabilities and mounts the root read-only', async () => {
    const check = await checkSandbox();
    assert.ok(check.available);
    const spec = {
      argv: ['/usr/bin/true'],
      cwd: '/',
      env: {},
      mounts: [],
      limits: resolveLimits(),
      tracePath: '/tmp/x',
    };
    const args = bwrapArgs(check.runner, spec);
    for (const flag of [
      '--unshare-user',
      '--unshare-net',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--disable-userns',
      '--die-with-parent',
      '--new-session',
      '--clearenv',
    ]) {
      assert.ok(args.includes(flag), flag);
    }
    assert.deepEqual(args.slice(-6), ['--seccomp', '3', '--chdir', '/', '--remount-ro', '/']);
    const line = commandLine(check.runner, spec);
    assert.deepEqual(line.slice(0, 5), [
      '/usr/bin/setpriv',
      '--pdeathsig',
      'KILL',
      '--',
      '/usr/bin/strace',
    ]);
    assert.ok(line.includes('--nproc=256'));
    if (process.getuid?.() === 0) assert.ok(line.includes('--reuid=65534'));
  });
  it('builds a six-instruction seccomp program', () => {
    assert.equal(seccompProgram().length, 6 * 8);
  });
});

describe('resolveLimits', () => {
  it('fills the defaults', () => {
    assert.equal(resolveLimits({ timeMs: 5000 }).timeMs, 5000);
    assert.equal(resolveLimits().processes, 256);
  });
  it('rejects a bad value, naming it', () => {
    assert.throws(
      () => resolveLimits({ processes: 2 }, 'behaviour.loadLimits'),
      (err: unknown) =>
        isVettedError(err, 'CONFIG_INVALID') &&
        /behaviour\.loadLimits\.processes/.test(err.message),
    );
  });
});

describe('plantDecoys', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vetted-decoys-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('plants plausible secrets, different on every call', async () => {
    const opts = { sandboxHome: '/home/dev', user: 'dev', hostname: 'devbox' };
    const a = await plantDecoys({ ...opts, hostHome: path.join(dir, 'a') });
    const b = await plantDecoys({ ...opts, hostHome: path.join(dir, 'b') });
    const npmrc = await readFile(path.join(dir, 'a', '.npmrc'), 'utf8');
    assert.match(npmrc, /^\/\/registry\.npmjs\.org\/:_authToken=npm_[A-Za-z0-9]{36}\n$/);
    assert.match(a.env.GITHUB_TOKEN ?? '', /^ghp_[A-Za-z0-9]{36}$/);
    assert.match(a.env.AWS_ACCESS_KEY_ID ?? '', /^AKIA[A-Z2-7]{16}$/);
    assert.notEqual(a.env.NPM_TOKEN, b.env.NPM_TOKEN);
    assert.notDeepEqual(
      a.secrets.map((s) => s.value),
      b.secrets.map((s) => s.value),
    );
    assert.deepEqual(
      a.files.map((f) => f.kind),
      [
        'npm-token',
        'ssh-key',
        'aws-credentials',
        'gcloud-credentials',
        'git-credentials',
        'docker-credentials',
      ],
    );
    assert.equal((await stat(path.join(dir, 'a', '.ssh', 'id_ed25519'))).mode & 0o777, 0o600);
  });
  it('writes an SSH key that ssh-keygen accepts', async () => {
    const key = path.join(dir, 'a', '.ssh', 'id_ed25519');
    const { stdout } = await execFileAsync('ssh-keygen', ['-y', '-f', key]);
    const pub = await readFile(`${key}.pub`, 'utf8');
    assert.equal(stdout.trim(), pub.trim());
  });
});

describe('runSandboxed', () => {
  let box: TestSandbox;
  before(async () => {
    box = await startTestSandbox();
  });
  after(() => box.dispose());

  it('runs a command and returns its exit, output and trace', async () => {
    const { result, trace } = await box.run(['/bin/sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(result.exitCode, 3);
    assert.equal(result.stdout, 'out\n');
    assert.equal(result.stderr, 'err\n');
    assert.ok(trace.events.some((e) => e.kind === 'exec' && e.path === '/bin/sh'));
  });
  it('runs as an unprivileged user with no capabilities and no network but loopback', async () => {
    const { result } = await box.run([
      '/bin/sh',
      '-c',
      "id -u; grep CapEff /proc/self/status; sed -n '3,$p' /proc/net/dev | cut -d: -f1 | tr -d ' '",
    ]);
    assert.match(result.stdout, /^1000\nCapEff:\s+0000000000000000\nlo\n$/);
  });
  it('keeps only the bytes allowed of the output', async () => {
    const { result } = await box.run(['/bin/sh', '-c', 'yes | head -c 100000'], {
      limits: { outputBytes: 1024 },
    });
    assert.equal(result.stdout.length, 1024);
    assert.equal(result.outputTruncated, true);
  });
  it('kills the whole tree when the time runs out', async () => {
    const marker = `vetted-marker-${process.pid}-${Date.now()}`;
    const { result } = await box.run(['/bin/sh', '-c', 'sleep 60 & sleep 60 & sleep 60', marker], {
      limits: { timeMs: 1000 },
    });
    assert.equal(result.killed, 'time');
    assert.ok(result.durationMs < 5000, `${result.durationMs} ms`);
    assert.deepEqual(await processesWith(marker), []);
  });
  it('passes no descriptor of the host process into the sandbox', async () => {
    // a node holding an inherited descriptor (fd 40, open on a host file, no close-on-exec,
    // as a service manager may leave one) runs the sandbox and lists its descriptors inside
    const script = `
      const { checkSandbox, runSandboxed, resolveLimits } = require(${JSON.stringify(
        path.resolve(__dirname, '..', '..', 'src', 'sandbox'),
      )});
      checkSandbox().then(async (c) => {
        const r = await runSandboxed(c.runner, { argv: ['/usr/bin/ls', '-l', '/proc/self/fd'],
          cwd: '/', env: {}, mounts: [], limits: resolveLimits(), tracePath: process.argv[1] });
        process.stdout.write(r.stdout);
      });`;
    const dir = await mkdtemp(path.join(tmpdir(), 'vetted-fds-'));
    try {
      const held = path.join(dir, 'held');
      await writeFile(held, '');
      const { stdout } = await execFileAsync('/bin/bash', [
        '-c',
        'exec 40<>"$0"; exec "$1" -e "$2" "$3"',
        held,
        process.execPath,
        script,
        path.join(dir, 'trace'),
      ]);
      const fds = new Map(
        [...stdout.matchAll(/ (\d+) -> (.*)$/gm)].map((m) => [Number(m[1]), m[2] ?? '']),
      );
      // fd 40 is there, but as /dev/null: the host file did not get in
      assert.equal(fds.get(40), '/dev/null', stdout);
      for (const [fd, target] of fds) {
        if (fd > 2) assert.match(target, /^(\/dev\/null|\/proc\/\d+\/fd)$/, stdout);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('makes io_uring look absent, so no file or socket is opened unseen', async () => {
    const py =
      'import ctypes; libc = ctypes.CDLL(None, use_errno=True); ' +
      'buf = ctypes.create_string_buffer(120); ' +
      'print(libc.syscall(425, 8, buf), ctypes.get_errno())';
    const { result } = await box.run(['/usr/bin/python3', '-c', py]);
    assert.equal(result.stdout.trim(), '-1 38');
  });
  it('samples the CPU time of the tree', async () => {
    const { result } = await box.run([
      '/bin/sh',
      '-c',
      'i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done',
    ]);
    assert.ok((result.cpuMs ?? 0) > 0, JSON.stringify(result.cpuMs));
  });
});

describe('the workspace', () => {
  it('is removed with everything the sandbox left, however it set modes', async () => {
    const box = await startTestSandbox();
    await box.run([
      '/bin/sh',
      '-c',
      'mkdir -p /tmp/a/b && touch /tmp/a/b/f && chmod 000 /tmp/a/b /tmp/a',
    ]);
    await writeFile(path.join(box.ws.dir, 'note'), 'x');
    await box.dispose();
    await assert.rejects(stat(box.ws.dir), { code: 'ENOENT' });
  });
});
