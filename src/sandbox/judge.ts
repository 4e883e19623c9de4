/**
 * Judging one sandboxed run: its trace events and exit turned into findings with stable codes,
 * severities the policy can tell apart, and evidence (the syscall lines, the phase and the
 * step they came from). What the package's purpose explains (a native build's compilers, or
 * what the policy allows for it) is reported at `info`. Depends on ./strace-parser's events
 * and the shared Finding type; knows nothing of bwrap.
 *
 * | code                      | severity          | when |
 * |---------------------------|-------------------|------|
 * | INSTALL_SCRIPT_NETWORK    | critical          | an install step connected or sent (DNS included) |
 * | LOAD_NETWORK              | critical          | loading an entry point did |
 * | DECOY_READ                | critical          | a decoy secret file or directory was opened |
 * | DECOY_LEAK                | critical          | a decoy value appears in argv, a path or data sent |
 * | WRITE_OUTSIDE_PACKAGE     | critical / high   | HOME outside the project / anywhere else |
 * | SHELL_SPAWN               | high / info       | a shell other than the script runner's own |
 * | PROCESS_SPAWN             | medium / info     | any other program (critical when it lives in TMP or HOME) |
 * | INSTALL_TIMEOUT           | high              | an install step ran out of time |
 * | LOAD_TIMEOUT              | high              | an entry point did not finish loading and exit in time |
 * | RUNAWAY_CPU               | high              | killed at the CPU limit, or timed out while busy |
 * | RESOURCE_LIMIT            | high / medium     | process, trace or disk limit hit / memory, file size |
 * | UNIX_SOCKET               | medium            | a connection to a local socket |
 * | NETWORK_LISTEN            | medium            | a listening socket |
 * | RESOLVER_READ             | low               | resolver configuration read with no query seen |
 */
import { posix } from 'node:path';
import type { Finding, Severity } from '../types';
import type { DecoySecret, Decoys } from './decoys';
import type { BehaviourExpectations, Phase } from './expectations';
import { FindingCollector } from './findings';
import type { RunResult } from './sandbox';
import type { ParsedTrace } from './strace-parser';
import type { ExecEvent, FileEvent, NetEvent, TraceEvent } from './trace-events';

export interface SandboxLayout {
  home: string;
  project: string;
  packageDir: string;
  tmp: string;
  /** Path of the node binary inside the sandbox; node spawning node is never a finding. */
  node: string;
}

export interface RunContext {
  phase: Phase;
  /** `preinstall`, `node-gyp rebuild`, `require ./lib/index.js`, `bin foo --help`, ... */
  step: string;
  layout: SandboxLayout;
  decoys: Decoys;
  expectations: BehaviourExpectations;
  /** The package has binding.gyp. */
  hasBindingGyp: boolean;
  /** Leading execs of the first process that belong to the runner (prlimit, the command). */
  runnerExecs: number;
}

export interface RunCounts {
  execs: number;
  network: number;
  dns: number;
  writesOutside: number;
  decoyReads: number;
  fileWrites: number;
}

/** Counts of nothing seen yet, to add to. */
export function emptyCounts(): RunCounts {
  return { execs: 0, network: 0, dns: 0, writesOutside: 0, decoyReads: 0, fileWrites: 0 };
}

export interface Judgement {
  findings: Finding[];
  counts: RunCounts;
}

const SHELLS = new Set(['sh', 'dash', 'bash', 'zsh', 'ksh', 'mksh', 'fish', 'csh', 'tcsh', 'ash']);
/** What a native build runs: node-gyp and its helpers, make, compilers, gyp's python, shims. */
const NATIVE_TOOLCHAIN = new RegExp(
  '^(?:[\\w-]+-linux-gnu-)?(?:' +
    [
      'sh|dash|bash|env|make|gmake|cmake|ninja',
      'cc|c\\+\\+|gcc|g\\+\\+|cpp|clang|clang\\+\\+|cc1|cc1plus|as|ld|ld\\.bfd|ld\\.gold',
      'collect2|lto-wrapper|ar|ranlib|strip|objcopy|python3?|python3\\.\\d+',
      'node-gyp|node-gyp-build(?:-optional|-test)?|node-pre-gyp|prebuild-install|cmake-js',
      'uname|sed|grep|printf|mkdir|rm|ln|cp|mv|touch|cat|flock|which|dirname|basename|expr|test',
    ].join('|') +
    ')(?:-\\d+)?$',
);
/**
 * CPU over wall time above which a timed-out run counts as busy. An idle wait uses almost
 * none; a spinning loop gets well above this even sharing two cores with a compile.
 */
const BUSY_SHARE = 0.25;
const RESOLVER_SOCKETS = new Set(['/var/run/nscd/socket', '/run/nscd/socket']);
const HARMLESS_WRITES =
  /^\/(?:dev\/(?:null|zero|full|random|urandom|tty|stdout|stderr|fd\/\d+|pts\/\d+)|proc\/(?:self|thread-self|\d+)\/fd\/\d+)$/;
const WRITE_VERBS: Record<FileEvent['op'], string> = {
  open: 'write to',
  create: 'write',
  delete: 'delete',
  rename: 'rename',
  mkdir: 'create the directory',
  symlink: 'create the link',
  link: 'create the link',
  chmod: 'change the mode of',
  truncate: 'truncate',
};

/**
 * The findings of one run.
 * @example const { findings } = judgeRun(parseStrace(result.trace, opts), result, context);
 */
export function judgeRun(trace: ParsedTrace, result: RunResult, ctx: RunContext): Judgement {
  const out = new FindingCollector(ctx);
  const events = trace.events;
  const native = nativeBuildExpected(ctx, events);
  const counts = emptyCounts();

  for (const exec of spawnedPrograms(events, trace.rootPid, ctx.runnerExecs)) {
    counts.execs++;
    judgeExec(exec, ctx, native, out);
  }
  const listening = listeningPorts(events);
  let dnsSeen = false;
  for (const e of events) {
    if (e.kind === 'net') {
      const n = judgeNet(e, ctx, listening, out);
      counts.network += n.network;
      counts.dns += n.dns;
      dnsSeen ||= n.dns > 0;
    } else if (e.kind === 'file') {
      if (e.write) counts.fileWrites++;
      const f = judgeFile(e, ctx, out);
      counts.decoyReads += f.decoy;
      counts.writesOutside += f.outside;
    }
  }
  if (!dnsSeen) {
    const resolver = events.find(
      (e): e is FileEvent => e.kind === 'file' && e.path === '/etc/resolv.conf',
    );
    if (resolver) out.add('RESOLVER_READ', 'low', 'read /etc/resolv.conf', resolver);
  }
  judgeLeaks(trace, ctx.decoys.secrets, out);
  judgeLimits(events, result, ctx, out);
  return { findings: out.findings(), counts };
}

function nativeBuildExpected(ctx: RunContext, events: TraceEvent[]): boolean {
  if (ctx.phase !== 'install') return false;
  const setting = ctx.expectations.nativeBuild;
  if (setting !== 'auto') return setting;
  if (ctx.hasBindingGyp) return true;
  return events.some(
    (e) => e.kind === 'exec' && e.argv.some((a) => /(^|\/)node-gyp(\.js)?$/.test(a)),
  );
}

/**
 * Programs started, minus the runner's own execs; failed attempts (a shell trying each PATH
 * entry) fold into the success that followed, or stay as one attempt.
 */
function spawnedPrograms(
  events: TraceEvent[],
  rootPid: number | undefined,
  runnerExecs: number,
): ExecEvent[] {
  let skipped = 0;
  const out: ExecEvent[] = [];
  const execs = events.filter((e): e is ExecEvent => e.kind === 'exec');
  for (let i = 0; i < execs.length; i++) {
    const e = execs[i] as ExecEvent;
    if (e.pid === rootPid && e.ok && skipped < runnerExecs) {
      skipped++;
      continue;
    }
    const base = posix.basename(e.path);
    const next = execs.slice(i + 1).find((x) => x.pid === e.pid);
    // a failed attempt followed by the same program (a PATH search) is that program
    if (!e.ok && next && posix.basename(next.path) === base) continue;
    // `#!/usr/bin/env node` is node
    if (e.ok && base === 'env' && next?.ok && isNode(next.path)) continue;
    out.push(e);
  }
  return out;
}

function judgeExec(e: ExecEvent, ctx: RunContext, native: boolean, out: FindingCollector): void {
  const base = posix.basename(e.path);
  if (e.path === ctx.layout.node || isNode(e.path)) return;
  const fromWritable = isWritableArea(e.path, ctx.layout);
  const allowed =
    ctx.expectations.allowSpawn.includes(base) || (native && NATIVE_TOOLCHAIN.test(base));
  const shell = SHELLS.has(base);
  const code = shell ? 'SHELL_SPAWN' : 'PROCESS_SPAWN';
  const what = `${e.ok ? 'ran' : 'tried to run'} ${fromWritable ? e.path : base}`;
  const extra = { argv: e.argv.slice(0, 20) };
  if (fromWritable) out.add(code, 'critical', `${what} (a writable location or memory)`, e, extra);
  else if (allowed) out.add(code, 'info', what, e, extra);
  else out.add(code, shell ? 'high' : 'medium', what, e, extra);
}

function listeningPorts(events: TraceEvent[]): Set<number> {
  const ports = new Set<number>();
  for (const e of events) {
    if (e.kind === 'net' && e.op === 'bind' && e.ok && e.port) ports.add(e.port);
  }
  return ports;
}

function judgeNet(
  e: NetEvent,
  ctx: RunContext,
  listening: Set<number>,
  out: FindingCollector,
): { network: number; dns: number } {
  const none = { network: 0, dns: 0 };
  if (e.family === 'unix') {
    if (e.op !== 'connect' || RESOLVER_SOCKETS.has(e.address ?? '')) return none;
    out.add('UNIX_SOCKET', 'medium', `connected to ${e.address}`, e);
    return none;
  }
  if (e.family !== 'inet' && e.family !== 'inet6') return none;
  if (e.op === 'bind') {
    if (e.port) out.add('NETWORK_LISTEN', 'medium', `bound ${e.address}:${e.port}`, e);
    return none;
  }
  if (e.op === 'listen') return none;
  // a loopback connection to a port this run listens on is the package talking to itself
  if (isLoopback(e.address) && e.port !== 53 && e.port && listening.has(e.port)) return none;
  const code = ctx.phase === 'install' ? 'INSTALL_SCRIPT_NETWORK' : 'LOAD_NETWORK';
  // the connect to the sandbox's resolver is named by the query that follows it
  const where = e.dns
    ? `looked up ${e.dns.join(', ')}`
    : e.port === 53
      ? undefined
      : `${e.op === 'send' ? 'sent to' : 'connected to'} ${e.address}:${e.port}`;
  const severity: Severity = ctx.expectations.allowNetwork ? 'info' : 'critical';
  out.add(code, severity, where, e, {
    address: e.address,
    port: e.port,
    dns: e.dns,
  });
  return { network: 1, dns: e.dns ? 1 : 0 };
}

function judgeFile(
  e: FileEvent,
  ctx: RunContext,
  out: FindingCollector,
): { decoy: number; outside: number } {
  const { layout, decoys } = ctx;
  const paths = [e.realPath, e.path, e.from].filter((p): p is string => !!p);
  const decoy =
    decoys.files.find((d) => paths.includes(d.path)) ??
    decoys.dirs.find((d) => paths.some((p) => p === d.path));
  if (decoy) {
    out.add('DECOY_READ', 'critical', `opened ${decoy.path}`, e, {
      decoy: decoy.kind,
    });
  }
  const found = decoy ? 1 : 0;
  // `mkdir -p` tries every ancestor; one that exists changes nothing
  if (!e.write || (e.op === 'mkdir' && e.errno === 'EEXIST')) return { decoy: found, outside: 0 };
  const target = e.realPath ?? e.path;
  const targets = e.op === 'rename' && e.from ? [target, e.from] : [target];
  const outside = targets.filter((p) => !writeAllowed(p, ctx));
  if (outside.length === 0) return { decoy: found, outside: 0 };
  const inHome = outside.some((p) => within(p, layout.home) && !within(p, layout.project));
  const verb = WRITE_VERBS[e.op];
  out.add(
    'WRITE_OUTSIDE_PACKAGE',
    inHome ? 'critical' : 'high',
    `${e.ok ? verb : `tried to ${verb}`} ${outside.join(' and ')}${e.errno ? ` (${e.errno})` : ''}`,
    e,
    { path: outside[0] },
  );
  return { decoy: found, outside: 1 };
}

function writeAllowed(path: string, ctx: RunContext): boolean {
  const { layout } = ctx;
  if (within(path, layout.packageDir) || within(path, layout.tmp) || within(path, '/dev/shm')) {
    return true;
  }
  if (HARMLESS_WRITES.test(path)) return true;
  return ctx.expectations.allowWrite.some((p) =>
    within(path, p.startsWith('~/') ? posix.join(layout.home, p.slice(2)) : p),
  );
}

function judgeLeaks(trace: ParsedTrace, secrets: DecoySecret[], out: FindingCollector): void {
  for (const e of trace.events) {
    if (e.kind === 'exit') continue;
    for (const secret of secrets) {
      if (secret.value.length >= 12 && e.line.includes(secret.value)) {
        out.add('DECOY_LEAK', 'critical', `passed on the value of ${secret.where}`, e, {
          decoy: secret.kind,
          from: secret.where,
        });
      }
    }
  }
}

function judgeLimits(
  events: TraceEvent[],
  result: RunResult,
  ctx: RunContext,
  out: FindingCollector,
) {
  const busy =
    result.cpuMs !== undefined &&
    result.durationMs > 0 &&
    result.cpuMs / result.durationMs > BUSY_SHARE;
  const facts = { durationMs: result.durationMs, cpuMs: result.cpuMs };
  if (result.killed === 'time') {
    const code = ctx.phase === 'install' ? 'INSTALL_TIMEOUT' : 'LOAD_TIMEOUT';
    out.addFact(code, 'high', `did not finish within ${result.durationMs} ms`, {
      ...facts,
      busy,
      output: tail(result.stderr) || tail(result.stdout),
    });
    if (busy) out.addFact('RUNAWAY_CPU', 'high', 'kept the CPU busy until killed', facts);
  }
  for (const e of events) {
    if (e.kind === 'exit' && e.signal === 'SIGXCPU') {
      out.add('RUNAWAY_CPU', 'high', 'a process was killed at the CPU time limit', e);
    } else if (e.kind === 'exit' && e.signal === 'SIGXFSZ') {
      out.add('RESOURCE_LIMIT', 'medium', 'a process hit the file size limit', e);
    } else if (e.kind === 'clone' && e.errno === 'EAGAIN') {
      // a fork bomb meeting RLIMIT_NPROC
      out.add('RESOURCE_LIMIT', 'high', 'process creations refused at the process limit', e);
    }
  }
  if (result.killed === 'trace' || result.killed === 'disk') {
    const what = result.killed === 'trace' ? 'its syscall trace' : 'its disk use';
    out.addFact('RESOURCE_LIMIT', 'high', `killed: ${what} exceeded the limit`, facts);
  }
  if (/out of memory|Allocation failed|Cannot allocate memory/i.test(result.stderr)) {
    out.addFact('RESOURCE_LIMIT', 'medium', 'ran out of memory at the memory limit', {
      output: tail(result.stderr),
    });
  }
}

function isNode(path: string): boolean {
  const base = posix.basename(path);
  return base === 'node' || base === 'nodejs';
}

function isWritableArea(path: string, layout: SandboxLayout): boolean {
  // `/memfd:name (deleted)`: a program run from memory, never written to disk
  if (path.startsWith('/memfd:') || /^\/proc\/(?:self|thread-self|\d+)\/fd\//.test(path)) {
    return true;
  }
  if (within(path, layout.tmp) || within(path, '/dev/shm')) return true;
  return within(path, layout.home) && !within(path, layout.project);
}

function isLoopback(address: string | undefined): boolean {
  return (
    !!address && (/^127\./.test(address) || address === '::1' || address === '::ffff:127.0.0.1')
  );
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-5).join('\n').slice(-800);
}
