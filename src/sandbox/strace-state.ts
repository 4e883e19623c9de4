/**
 * The parser's per-process state while it walks a trace in order: each process's working
 * directory (inherited across clone, shared between threads), the symlinks the traced code
 * created (a write through one lands on its target), and where each socket is connected (a
 * send without an address goes there). Turns one joined call into an event.
 * Depends on ./strace-syntax and ./strace-net.
 */
import { posix } from 'node:path';
import { annotationOf, atomText, field, readArgs, readReturn, textOf } from './strace-syntax';
import type { Value } from './strace-syntax';
import { iovecs, sockaddr, withDns } from './strace-net';
import type { EventBase, FileEvent, FileOp, Family, NetEvent, TraceEvent } from './trace-events';

export interface CloneStart {
  child: number;
  sharesFs: boolean;
}

const FILE_SYSCALLS = new Set([
  'open',
  'openat',
  'openat2',
  'creat',
  'rename',
  'renameat',
  'renameat2',
  'unlink',
  'unlinkat',
  'rmdir',
  'mkdir',
  'mkdirat',
  'symlink',
  'symlinkat',
  'link',
  'linkat',
  'truncate',
  'chmod',
  'fchmodat',
]);
export const CLONES = new Set(['clone', 'clone3', 'fork', 'vfork']);
/** Calls that follow a symlink in the last component of their path. */
const FOLLOWS_LAST = new Set([
  'open',
  'openat',
  'openat2',
  'creat',
  'truncate',
  'chmod',
  'fchmodat',
]);
const WRITE_FLAGS = /\b(O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND)\b/;

/** Per-process state: working directories, symlinks created, sockets connected. */
export class TraceState {
  private readonly cwd = new Map<number, { dir?: string }>();
  private readonly links = new Map<string, string>();
  private readonly peers = new Map<string, { family: Family; address?: string; port?: number }>();

  constructor(
    private readonly initialCwd: string | undefined,
    private readonly clones: Map<number, CloneStart[]>,
  ) {}

  /** Called for every line, in order, before its event is built; `first` starts in cwd. */
  enter(pid: number, index: number, first: number | undefined): void {
    if (!this.cwd.has(pid)) {
      this.cwd.set(pid, { dir: pid === first ? this.initialCwd : undefined });
    }
    for (const clone of this.clones.get(index) ?? []) {
      const parent = this.cwd.get(pid) ?? {};
      this.cwd.set(clone.child, clone.sharesFs ? parent : { dir: parent.dir });
    }
  }

  toEvent(
    pid: number,
    time: string | undefined,
    name: string,
    argText: string,
    retText: string,
  ): TraceEvent | undefined {
    const ret = readReturn(retText);
    const ok = ret.errno === undefined && ret.value !== undefined && ret.value >= 0;
    const line = `${name}(${argText}) = ${retText}`.slice(0, 16 * 1024);
    const base: EventBase = { pid, time, syscall: name, line, ok };
    if (ret.errno) base.errno = ret.errno;
    const args = readArgs(argText);

    if (name === 'execve' || name === 'execveat') {
      const at = name === 'execveat' ? 1 : 0;
      const dirfd = name === 'execveat' ? args[0] : undefined;
      const path = this.resolve(pid, textOf(args[at]) ?? '', dirfd, true);
      const argv = args[at + 1]?.t === 'array' ? args[at + 1] : undefined;
      const list = argv?.t === 'array' ? argv.items.map((v) => textOf(v) ?? '…') : [];
      return { ...base, kind: 'exec', path, argv: list };
    }
    if (name === 'chdir' || name === 'fchdir') {
      if (ok) {
        const dir =
          name === 'chdir' ? this.resolve(pid, textOf(args[0]) ?? '') : annotationOf(args[0]);
        const ref = this.cwd.get(pid);
        if (ref) ref.dir = dir?.startsWith('/') ? dir : undefined;
      }
      return undefined;
    }
    if (CLONES.has(name)) {
      const child = ret.hostPid ?? ret.value;
      return { ...base, kind: 'clone', child, thread: /\bCLONE_THREAD\b/.test(argText) };
    }
    if (FILE_SYSCALLS.has(name)) return this.fileEvent(base, name, args, ret.path);
    return this.netEvent(base, name, args);
  }

  private fileEvent(
    base: EventBase,
    name: string,
    args: Value[],
    realPath: string | undefined,
  ): FileEvent | undefined {
    const pid = base.pid;
    const follows = FOLLOWS_LAST.has(name);
    const p = (i: number, dirfd?: number) =>
      this.resolve(
        pid,
        textOf(args[i]) ?? '',
        dirfd === undefined ? undefined : args[dirfd],
        follows,
      );
    const ev = (op: FileOp, path: string, write: boolean, extra: Partial<FileEvent> = {}) => {
      const out: FileEvent = { ...base, kind: 'file', op, path, write, ...extra };
      if (realPath && base.ok) out.realPath = realPath;
      return out;
    };
    switch (name) {
      case 'open':
      case 'openat':
      case 'openat2': {
        const at = name === 'open' ? 0 : 1;
        const flagArg = args[at + 1];
        const flags =
          flagArg?.t === 'struct' ? atomText(field(flagArg, 'flags')) : atomText(flagArg);
        const path = name === 'open' ? p(0) : p(1, 0);
        const write = WRITE_FLAGS.test(flags ?? '');
        return ev(write && /O_CREAT/.test(flags ?? '') ? 'create' : 'open', path, write, { flags });
      }
      case 'creat':
        return ev('create', p(0), true);
      case 'unlink':
      case 'rmdir':
        return ev('delete', p(0), true);
      case 'unlinkat':
        return ev('delete', p(1, 0), true);
      case 'mkdir':
        return ev('mkdir', p(0), true);
      case 'mkdirat':
        return ev('mkdir', p(1, 0), true);
      case 'truncate':
        return ev('truncate', p(0), true);
      case 'chmod':
        return ev('chmod', p(0), true);
      case 'fchmodat':
        return ev('chmod', p(1, 0), true);
      case 'rename':
        return ev('rename', p(1), true, { from: p(0) });
      case 'renameat':
      case 'renameat2':
        return ev('rename', p(3, 2), true, { from: p(1, 0) });
      case 'link':
        return ev('link', p(1), true, { from: p(0) });
      case 'linkat':
        return ev('link', p(3, 2), true, { from: p(1, 0) });
      case 'symlink':
      case 'symlinkat': {
        const linkPath = name === 'symlink' ? p(1) : p(2, 1);
        const target = textOf(args[0]) ?? '';
        const resolved = linkPath.startsWith('/')
          ? posix.resolve(posix.dirname(linkPath), target)
          : target;
        if (base.ok && linkPath.startsWith('/')) this.links.set(linkPath, resolved);
        return ev('symlink', linkPath, true, { from: resolved });
      }
      default:
        return undefined;
    }
  }

  private netEvent(base: EventBase, name: string, args: Value[]): NetEvent | undefined {
    const socket = annotationOf(args[0]);
    switch (name) {
      case 'connect':
      case 'bind': {
        const addr = sockaddr(args[1]);
        if (name === 'connect' && socket && addr) this.peers.set(socket, addr);
        return { ...base, kind: 'net', op: name, ...addr };
      }
      case 'listen':
        return { ...base, kind: 'net', op: 'listen' };
      case 'sendto': {
        const to = sockaddr(args[4]) ?? (socket ? this.peers.get(socket) : undefined);
        return withDns({ ...base, kind: 'net', op: 'send', ...to }, [args[1]]);
      }
      case 'sendmsg': {
        const to =
          sockaddr(field(args[1], 'msg_name')) ?? (socket ? this.peers.get(socket) : undefined);
        return withDns({ ...base, kind: 'net', op: 'send', ...to }, iovecs(args[1]));
      }
      case 'sendmmsg': {
        const msgs = args[1]?.t === 'array' ? args[1].items : [];
        const hdrs = msgs.map((m) => field(m, 'msg_hdr'));
        const named = hdrs.map((h) => sockaddr(field(h, 'msg_name'))).find((a) => a);
        const to = named ?? (socket ? this.peers.get(socket) : undefined);
        return withDns({ ...base, kind: 'net', op: 'send', ...to }, hdrs.flatMap(iovecs));
      }
      default:
        return undefined;
    }
  }

  /**
   * An absolute, normalised path, following the symlinks created during the run: those in
   * the directories always, the last component only for calls that follow it (open, exec).
   */
  private resolve(pid: number, path: string, dirfd?: Value, followLast = false): string {
    let abs: string | undefined;
    if (path.startsWith('/')) abs = path;
    else {
      // `-y` annotates the directory descriptor (AT_FDCWD included) with the kernel's view
      const atCwd = dirfd === undefined || atomText(dirfd) === 'AT_FDCWD';
      const base = annotationOf(dirfd) ?? (atCwd ? this.cwd.get(pid)?.dir : undefined);
      if (base?.startsWith('/')) abs = posix.join(base, path);
    }
    if (abs === undefined) return `?/${path}`;
    return this.followLinks(posix.normalize(abs), followLast);
  }

  private followLinks(path: string, followLast: boolean): string {
    let current = path;
    for (let hop = 0; hop < 8 && this.links.size > 0; hop++) {
      const parts = current.split('/');
      let replaced = false;
      for (let n = parts.length - (followLast ? 0 : 1); n > 1 && !replaced; n--) {
        const prefix = parts.slice(0, n).join('/');
        const target = this.links.get(prefix);
        if (target) {
          current = posix.normalize(posix.join(target, ...parts.slice(n)));
          replaced = true;
        }
      }
      if (!replaced) break;
    }
    return current;
  }
}
