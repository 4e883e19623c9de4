/**
 * Runs wrk (the Debian package) against one URL and reads its result from a Lua `done()` hook
 * that prints the summary and latency percentiles as one JSON line. One wrk thread, so the
 * load generator takes one of the machine's cores and the server the other.
 * Depends on: `wrk` on PATH.
 */
import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const MARKER = 'BENCH_JSON ';

// wrk reports latency in microseconds; %.0f because LuaJIT's %d rejects non-integers.
const DONE_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '${MARKER}{"requests":%.0f,"durationUs":%.0f,"bytes":%.0f,' ..
    '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},' ..
    '"latencyUs":{"min":%.0f,"mean":%.1f,"max":%.0f,"p50":%.0f,"p90":%.0f,"p99":%.0f,"p999":%.0f}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
`;

const running = new Set<ChildProcess>();

/** Ends any wrk still running (the bench was interrupted). */
export function stopWrk(): void {
  for (const child of running) child.kill('SIGTERM');
}

export interface WrkResult {
  requests: number;
  durationS: number;
  rps: number;
  /** Response bytes per second, headers included. */
  bytesPerS: number;
  /** Responses with a status outside 2xx/3xx. */
  non2xx: number;
  /** Socket errors and timeouts (not status codes). */
  socketErrors: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
}

export interface WrkOptions {
  url: string;
  connections: number;
  durationS: number;
  /** The Lua script from `writeWrkScript`. */
  script: string;
  /** Request headers, `Name: value` (the metadata cases send corgi's Accept). */
  headers?: string[];
}

/** Writes the reporting Lua script into `dir` and returns its path. */
export function writeWrkScript(dir: string): string {
  const file = path.join(dir, 'report.lua');
  writeFileSync(file, DONE_SCRIPT);
  return file;
}

/** Fails early with a clear message when wrk is not installed. */
export async function checkWrk(): Promise<string> {
  try {
    // wrk has no --version flag that exits 0; its usage text starts with the version line
    const res = await execFileAsync('wrk', ['-v']).catch(
      (err: { stdout?: string; code?: unknown }) => {
        if (err.code === 'ENOENT') throw err;
        return { stdout: err.stdout ?? '' };
      },
    );
    return res.stdout.split('\n')[0]?.trim() ?? 'wrk';
  } catch (err) {
    throw new Error('wrk is not installed: run `apt-get install wrk`', { cause: err });
  }
}

/**
 * Runs one wrk measurement.
 * @throws when wrk exits non-zero or prints no result line.
 * @example
 *   const r = await runWrk({ url, connections: 32, durationS: 8, script });
 */
export async function runWrk(opts: WrkOptions): Promise<WrkResult> {
  const args = [
    '-t1',
    `-c${opts.connections}`,
    `-d${opts.durationS}s`,
    '--timeout',
    '10s',
    '-s',
    opts.script,
    ...(opts.headers ?? []).flatMap((h) => ['-H', h]),
    opts.url,
  ];
  let stdout: string;
  try {
    const run = execFileAsync('wrk', args, {
      timeout: (opts.durationS + 30) * 1000,
      maxBuffer: 1024 * 1024,
    });
    running.add(run.child);
    ({ stdout } = await run.finally(() => running.delete(run.child)));
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `wrk ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`,
      {
        cause: err,
      },
    );
  }
  const line = stdout.split('\n').find((l) => l.startsWith(MARKER));
  if (!line) throw new Error(`wrk printed no result line for ${opts.url}:\n${stdout}`);
  return toResult(JSON.parse(line.slice(MARKER.length)) as RawResult);
}

interface RawResult {
  requests: number;
  durationUs: number;
  bytes: number;
  errors: Record<'connect' | 'read' | 'write' | 'status' | 'timeout', number>;
  latencyUs: Record<'min' | 'mean' | 'max' | 'p50' | 'p90' | 'p99' | 'p999', number>;
}

function toResult(raw: RawResult): WrkResult {
  const durationS = raw.durationUs / 1e6;
  const ms = (us: number) => us / 1000;
  const { connect, read, write, timeout, status } = raw.errors;
  return {
    requests: raw.requests,
    durationS,
    rps: raw.requests / durationS,
    bytesPerS: raw.bytes / durationS,
    non2xx: status,
    socketErrors: connect + read + write + timeout,
    latencyMs: {
      p50: ms(raw.latencyUs.p50),
      p90: ms(raw.latencyUs.p90),
      p99: ms(raw.latencyUs.p99),
      p999: ms(raw.latencyUs.p999),
      max: ms(raw.latencyUs.max),
      mean: ms(raw.latencyUs.mean),
    },
  };
}
