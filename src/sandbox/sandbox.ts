/**
 * Runs one command in the sandbox (see ./command for the command line) and collects its exit,
 * output and trace. Limits only the host can enforce (wall time, output, trace size, disk
 * growth) are polled here; the whole tree is killed through bwrap, whose pid namespace dies
 * with its init. Owns no directories: callers pass the mounts and the trace path. Whatever
 * comes back (output, trace) is untrusted and read with size limits.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { open, readdir, readFile, statfs, stat } from 'node:fs/promises';
import { commandLine, seccompProgram } from './command';
import type { RunSpec, SandboxRunner } from './command';

export type KillReason = 'time' | 'trace' | 'disk' | 'abort';

export interface RunResult {
  exitCode?: number;
  signal?: string;
  /** Why the runner killed the tree, when it did. */
  killed?: KillReason;
  durationMs: number;
  /**
   * CPU time of the tree (strace included) at the last sample, taken every 250 ms and when
   * the runner kills it; absent for runs shorter than one sample.
   */
  cpuMs?: number;
  stdout: string;
  stderr: string;
  outputTruncated: boolean;
  trace: string;
  traceTruncated: boolean;
}

const POLL_MS = 250;
const KILL_GRACE_MS = 2_000;
const CLOCK_TICKS = 100;

/**
 * Runs one command and collects its output and trace. Never throws for what the command
 * does; throws only when the tools cannot be spawned.
 * @example const result = await runSandboxed(runner, { argv: ['/usr/bin/true'], ... });
 */
export async function runSandboxed(runner: SandboxRunner, spec: RunSpec): Promise<RunResult> {
  const argv = commandLine(runner, spec);
  const started = performance.now();
  // fd 3 carries the seccomp program to bwrap; descriptors this process inherited without
  // close-on-exec would pass into the sandbox as channels out of it, so /dev/null covers them
  const stdio: Array<'ignore' | 'pipe' | number> = ['ignore', 'pipe', 'pipe', 'pipe'];
  const devNull = await open('/dev/null', 'r+');
  for (const fd of await inheritedFds()) {
    while (stdio.length < fd) stdio.push('ignore');
    stdio[fd] = devNull.fd;
  }
  const child = spawn(argv[0] ?? '', argv.slice(1), {
    stdio,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
    detached: true,
  });
  // listen before any await: a spawn failure is emitted on the next tick
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal }));
      // strace has exited; whatever still holds its output open after a grace is cut off, so
      // a leftover process can never keep the run (and the job) waiting
      child.once('exit', (code, signal) => {
        const grace = setTimeout(() => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
          child.stdout?.destroy();
          child.stderr?.destroy();
          resolve({ code, signal });
        }, KILL_GRACE_MS);
        child.once('close', () => clearTimeout(grace));
      });
    },
  );
  exited.catch(() => undefined);
  await devNull.close();
  const seccompFd = child.stdio[3] as NodeJS.WritableStream | null;
  seccompFd?.on('error', () => undefined);
  seccompFd?.end(seccompProgram());

  const limit = spec.limits.outputBytes;
  const stdout = collect(child.stdout, limit);
  const stderr = collect(child.stderr, limit);
  const diskStart = spec.diskPath ? await usedBytes(spec.diskPath) : undefined;
  let killed: KillReason | undefined;
  let cpuMs: number | undefined;
  const kill = (reason: KillReason): void => {
    if (killed) return;
    killed = reason;
    // one last CPU sample of the live tree, so a timeout can tell busy from idle
    void (async () => {
      if (child.pid) cpuMs = (await treeCpuMs(child.pid)) ?? cpuMs;
      await killTree(child.pid, exited);
    })();
  };
  const onAbort = () => kill('abort');
  spec.signal?.addEventListener('abort', onAbort, { once: true });
  if (spec.signal?.aborted) kill('abort');
  const deadline = setTimeout(() => kill('time'), spec.limits.timeMs);
  const poll = setInterval(() => {
    void (async () => {
      if (child.pid) cpuMs = (await treeCpuMs(child.pid)) ?? cpuMs;
      const size = (await stat(spec.tracePath).catch(() => undefined))?.size ?? 0;
      if (size > spec.limits.traceBytes) kill('trace');
      if (spec.diskPath && diskStart !== undefined) {
        const used = await usedBytes(spec.diskPath);
        if (used !== undefined && used - diskStart > spec.limits.diskBytes) kill('disk');
      }
    })();
  }, POLL_MS);

  let status: { code: number | null; signal: NodeJS.Signals | null };
  try {
    status = await exited;
  } finally {
    clearTimeout(deadline);
    clearInterval(poll);
    spec.signal?.removeEventListener('abort', onAbort);
  }
  const trace = await readLimited(spec.tracePath, spec.limits.traceBytes);
  const result: RunResult = {
    durationMs: Math.round(performance.now() - started),
    stdout: stdout.text(),
    stderr: stderr.text(),
    outputTruncated: stdout.truncated() || stderr.truncated(),
    trace: trace.text,
    traceTruncated: trace.truncated || killed === 'trace',
  };
  if (status.code !== null) result.exitCode = status.code;
  if (status.signal !== null) result.signal = status.signal;
  if (killed) result.killed = killed;
  if (cpuMs !== undefined) result.cpuMs = cpuMs;
  return result;
}

/** Descriptors above 3 this process holds without close-on-exec (children inherit them). */
async function inheritedFds(): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc/self/fd').catch(() => [] as string[])) {
    const fd = Number(name);
    if (!(fd > 3)) continue;
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
    const flags = /^flags:\s+([0-7]+)/m.exec(info)?.[1];
    if (flags !== undefined && (parseInt(flags, 8) & 0o2000000) === 0) out.push(fd);
  }
  return out;
}

/** Kills bwrap (strace's child): its pid namespace, so every process inside, dies with it. */
async function killTree(pid: number | undefined, exited: Promise<unknown>): Promise<void> {
  if (pid === undefined) return;
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  for (const child of children.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(child), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  // strace exits once its tracees are gone; if it does not, end the whole group
  const timer = setTimeout(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, KILL_GRACE_MS);
  await exited.catch(() => undefined);
  clearTimeout(timer);
}

/** user+system CPU of `root` and its descendants, children they reaped included. */
export async function treeCpuMs(root: number): Promise<number | undefined> {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  const entries = await readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e) => {
        const text = await readFile(`/proc/${e}/stat`, 'utf8').catch(() => undefined);
        const rest = text?.slice(text.lastIndexOf(')') + 2).split(' ');
        if (!rest) return;
        // fields after "(comm)": state ppid ... utime(12th) stime cutime cstime
        const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(rest[i] ?? 0), 0);
        stats.set(Number(e), { ppid: Number(rest[1]), ticks });
      }),
  );
  if (!stats.has(root)) return undefined;
  let ticks = 0;
  const queue = [root];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const [child, s] of stats) if (s.ppid === pid) queue.push(child);
  }
  return Math.round((ticks * 1000) / CLOCK_TICKS);
}

async function usedBytes(path: string): Promise<number | undefined> {
  const s = await statfs(path).catch(() => undefined);
  return s ? (s.blocks - s.bfree) * s.bsize : undefined;
}

/** Reads at most `max` bytes, never through a symlink. */
export async function readLimited(
  path: string,
  max: number,
): Promise<{ text: string; truncated: boolean }> {
  let handle;
  try {
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch {
    return { text: '', truncated: false };
  }
  try {
    const buf = Buffer.alloc(Math.min(max + 1, (await handle.stat()).size + 1));
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const truncated = bytesRead > max;
    return { text: buf.subarray(0, Math.min(bytesRead, max)).toString('utf8'), truncated };
  } finally {
    await handle.close();
  }
}

function collect(stream: NodeJS.ReadableStream | null, max: number) {
  const chunks: Buffer[] = [];
  let kept = 0;
  let seen = 0;
  stream?.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (kept < max) {
      const part = chunk.subarray(0, max - kept);
      chunks.push(part);
      kept += part.length;
    }
  });
  return {
    text: () => Buffer.concat(chunks).toString('utf8'),
    truncated: () => seen > kept,
  };
}
