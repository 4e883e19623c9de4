/**
 * Where the CPU went during a measurement, from Linux's /proc: the server process (all its
 * threads), wrk (this process's reaped children), and everything else on the machine. CPU
 * milliseconds per request hold up better than requests/s when other work shares the cores,
 * and the "other" share says how much that happened.
 * Returns undefined where /proc is not available.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface CpuSample {
  at: number;
  serverMs: number;
  serverUserMs: number;
  childrenMs: number;
  selfMs: number;
  busyMs: number;
}

export interface CpuShare {
  /** Server CPU (user + system), milliseconds per request. */
  serverMsPerReq: number;
  serverUserMsPerReq: number;
  /** Cores' worth of CPU used, averaged over the measurement. */
  serverCores: number;
  wrkCores: number;
  /** Everything else on the machine: other processes and kernel threads (not interrupts). */
  otherCores: number;
}

let ticksPerSecond: number | undefined;

function tickMs(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond =
        Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return 1000 / ticksPerSecond;
}

/** Fields of /proc/<pid>/stat after the command name, numbered as in proc(5). */
function statFields(pid: number | 'self'): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name may hold spaces and parentheses; field 3 (state) follows the last ')'
  return ['', '', '', ...text.slice(text.lastIndexOf(')') + 2).split(' ')];
}

/** A snapshot of CPU counters; undefined when /proc cannot be read. */
export function sampleCpu(serverPid: number | undefined): CpuSample | undefined {
  if (serverPid === undefined) return undefined;
  try {
    const ms = tickMs();
    const server = statFields(serverPid);
    const self = statFields('self');
    const cpu =
      readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ??
      [];
    // user nice system idle iowait irq softirq steal: busy is user + nice + system. Interrupt
    // time is left out: it is mostly the loopback traffic of the measurement itself.
    const busy = [0, 1, 2].reduce((sum, i) => sum + (cpu[i] ?? 0), 0);
    const n = (fields: string[], i: number) => Number(fields[i] ?? 0);
    return {
      at: performance.now(),
      serverMs: (n(server, 14) + n(server, 15)) * ms,
      childrenMs: (n(self, 16) + n(self, 17)) * ms,
      selfMs: (n(self, 14) + n(self, 15)) * ms,
      serverUserMs: n(server, 14) * ms,
      busyMs: busy * ms,
    };
  } catch {
    return undefined;
  }
}

/** The CPU used between two samples, for `requests` requests. */
export function cpuShare(
  before: CpuSample | undefined,
  after: CpuSample | undefined,
  requests: number,
): CpuShare | undefined {
  if (!before || !after || requests === 0) return undefined;
  const wall = after.at - before.at;
  const server = after.serverMs - before.serverMs;
  const wrk = after.childrenMs - before.childrenMs;
  const self = after.selfMs - before.selfMs;
  const busy = after.busyMs - before.busyMs;
  return {
    serverMsPerReq: server / requests,
    serverUserMsPerReq: (after.serverUserMs - before.serverUserMs) / requests,
    serverCores: server / wall,
    wrkCores: wrk / wall,
    otherCores: Math.max(0, busy - server - wrk - self) / wall,
  };
}
