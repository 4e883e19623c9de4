/**
 * From an strace log to events: programs executed (with argv), network attempts (family,
 * address, port, DNS names asked), file operations with the absolute path they touched, clones
 * and process exits. Joins `<unfinished ...>`/`<... resumed>` halves, follows each process's
 * working directory (inherited across clone, shared between threads) to resolve relative paths,
 * and remembers symlinks the traced code created so a write through one lands on its target.
 * Knows nothing of findings. Depends on ./strace-syntax and ./strace-state.
 */
import { joinResumed, readLine, readReturn } from './strace-syntax';
import type { LineBody } from './strace-syntax';
import { CLONES, TraceState } from './strace-state';
import type { CloneStart } from './strace-state';
import type { ExitEvent, TraceEvent } from './trace-events';

export interface ParseOptions {
  /**
   * Drop everything before the first execve by a process other than the first one: the
   * sandbox's own setup (setpriv, bwrap mounting), which runs before any package code.
   */
  skipSetup?: boolean;
  /** Working directory of the first process after setup (the sandbox's `--chdir`). */
  cwd?: string;
}

export interface ParsedTrace {
  events: TraceEvent[];
  lines: number;
  /** Lines that were neither a call, an exit nor a known message. */
  unparsed: number;
  /** Pid of the process that started the traced command, when setup was skipped. */
  rootPid?: number;
  pids: number;
}

const MAX_LINE = 64 * 1024;

/**
 * Parses a whole log.
 * @example parseStrace(text, { skipSetup: true, cwd: '/home/dev/project' })
 */
export function parseStrace(text: string, options: ParseOptions = {}): ParsedTrace {
  const raw = text.split('\n');
  const lines = raw.map((l) => (l.length > MAX_LINE ? undefined : readLine(l)));
  const start = options.skipSetup ? setupEnd(lines) : 0;
  const state = new TraceState(options.cwd, scanClones(lines, start));
  const out: ParsedTrace = { events: [], lines: 0, unparsed: 0, pids: 0 };
  const pending = new Map<number, { name: string; head: string; index: number }>();
  const pids = new Set<number>();
  const first = lines.slice(start).find((l) => l)?.pid;
  if (options.skipSetup) out.rootPid = first;

  for (let i = start; i < lines.length; i++) {
    const line = lines[i];
    if (!line) {
      if ((raw[i] ?? '') !== '') out.unparsed++;
      continue;
    }
    out.lines++;
    pids.add(line.pid);
    state.enter(line.pid, i, first);
    let body: LineBody = line.body;
    if (body.kind === 'unfinished') {
      pending.set(line.pid, { name: body.name, head: body.head, index: i });
      continue;
    }
    if (body.kind === 'resumed') {
      const head = pending.get(line.pid);
      pending.delete(line.pid);
      if (!head || head.name !== body.name) {
        out.unparsed++;
        continue;
      }
      body = joinResumed(head.head, body.rest, body.name);
    }
    if (body.kind === 'exit') {
      const exit: ExitEvent = { kind: 'exit', pid: line.pid, time: line.time, line: raw[i] ?? '' };
      if (body.code !== undefined) exit.code = body.code;
      if (body.signal !== undefined) exit.signal = body.signal;
      out.events.push(exit);
      continue;
    }
    if (body.kind !== 'call') {
      if (!/^(---|\+\+\+)/.test(body.kind === 'other' ? body.text : '')) out.unparsed++;
      continue;
    }
    const event = state.toEvent(line.pid, line.time, body.name, body.args, body.ret);
    if (event) out.events.push(event);
  }
  out.pids = pids.size;
  return out;
}

/** Index of the first execve by a process other than the first one in the log. */
function setupEnd(lines: Array<ReturnType<typeof readLine>>): number {
  const first = lines.find((l) => l)?.pid;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line || line.pid === first) continue;
    const b = line.body;
    if ((b.kind === 'call' || b.kind === 'unfinished') && /^execve/.test(b.name)) return i;
  }
  return lines.length;
}

/** Where each clone began (its first line), with the child's pid from its return value. */
function scanClones(lines: Array<ReturnType<typeof readLine>>, start: number) {
  const starts = new Map<number, CloneStart[]>();
  const open = new Map<number, { index: number; head: string }>();
  for (let i = start; i < lines.length; i++) {
    const line = lines[i];
    if (!line) continue;
    const b = line.body;
    let index = i;
    let call: LineBody = b;
    if (b.kind === 'unfinished' && CLONES.has(b.name)) {
      open.set(line.pid, { index: i, head: b.head });
      continue;
    }
    if (b.kind === 'resumed' && CLONES.has(b.name)) {
      const head = open.get(line.pid);
      open.delete(line.pid);
      if (!head) continue;
      index = head.index;
      call = joinResumed(head.head, b.rest, b.name);
    }
    if (call.kind !== 'call' || !CLONES.has(call.name)) continue;
    const ret = readReturn(call.ret);
    const child = ret.hostPid ?? ret.value;
    if (child === undefined || child <= 0) continue;
    const list = starts.get(index) ?? [];
    list.push({ child, sharesFs: /\bCLONE_FS\b/.test(call.args) });
    starts.set(index, list);
  }
  return starts;
}
