/**
 * Runs one host program (git, npm, gpg) with a hard time limit: the whole process group is
 * killed when the limit passes or the signal aborts, and only the tail of its output is kept.
 * A program counts as finished once it exits, even when something it started (gpg's agent, an
 * orphaned helper) still holds its output open: a short grace for the last output, then its
 * group is killed and the pipes are closed. Never throws for what the program does; a spawn
 * failure comes back as `code: undefined`. Depends on node:child_process only.
 */
import { spawn } from 'node:child_process';

/** How long output may trail the program's exit before the pipes are closed. */
const CLOSE_GRACE_MS = 3_000;

export interface BoundedRunOptions {
  cwd?: string;
  env: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Bytes of stdout kept (from the start). Default 1 MiB. */
  stdoutBytes?: number;
  /** Bytes of stderr kept (the end). Default 8 KiB. */
  stderrBytes?: number;
  /** Written to stdin, then closed. */
  input?: string;
}

export interface BoundedRunResult {
  /** Exit code; undefined when the program could not start or was killed. */
  code?: number;
  /** The signal that ended the program, when one did. */
  signal?: NodeJS.Signals;
  stdout: string;
  /** The end of stderr (`stderrBytes`). */
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

/** @example const res = await runBounded('git', ['--version'], { env, timeoutMs: 5000 }); */
export function runBounded(
  cmd: string,
  args: string[],
  options: BoundedRunOptions,
): Promise<BoundedRunResult> {
  const started = performance.now();
  const keepOut = options.stdoutBytes ?? 1024 ** 2;
  const keepErr = options.stderrBytes ?? 8192;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    // decoded by the streams, so a character split across two chunks stays whole
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      if (stdout.length < keepOut) stdout += text.slice(0, keepOut - stdout.length);
    });
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-keepErr);
    });
    if (options.input !== undefined) {
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(options.input);
    }
    const stop = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs);
    let grace: NodeJS.Timeout | undefined;
    options.signal?.addEventListener('abort', stop, { once: true });
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, extra = '') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(grace);
      options.signal?.removeEventListener('abort', stop);
      const result: BoundedRunResult = {
        stdout,
        stderr: stderr + extra,
        timedOut,
        durationMs: Math.round(performance.now() - started),
      };
      if (!timedOut && code !== null) result.code = code;
      if (signal !== null) result.signal = signal;
      resolve(result);
    };
    child.once('error', (err) => finish(null, null, `spawning ${cmd}: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (done) return;
      // it finished in time: only the grace bounds what is left
      clearTimeout(timer);
      grace = setTimeout(() => {
        stop();
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, signal);
      }, CLOSE_GRACE_MS);
    });
    child.once('close', (code, signal) => finish(code, signal));
  });
}

/** The last lines of a program's output, for a reason or a finding (npm's log lines left out). */
export function tailOf(text: string, lines = 4): string {
  return withoutLogLines(text).split('\n').slice(-lines).join('\n').slice(-600);
}

/** npm's lines that point at its debug log on the server. */
const LOG_LINE = /A complete log of this run can be found in|Log files were not written/i;

/**
 * A reason fit for the world-readable record: lines naming npm's debug log dropped, and every
 * path under `home` (vetted's home) or a rebuild workspace shown without the server's layout.
 * @example publicReason('npm error 404\nnpm error A complete log ... /srv/vetted/x.log', '/srv/vetted')
 *   // 'npm error 404'
 */
export function publicReason(text: string, home: string): string {
  let out = withoutLogLines(text).replace(
    /(?:\/[^\s/'"`:]+)*\/vetted-behaviour-[\w-]+/g,
    '<workspace>',
  );
  const root = home.replace(/\/+$/, '');
  if (root.length > 1) out = out.split(root).join('<home>');
  return out.trim();
}

function withoutLogLines(text: string): string {
  return text
    .split('\n')
    .filter((line) => !LOG_LINE.test(line))
    .join('\n')
    .trim();
}
