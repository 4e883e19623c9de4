/**
 * The events the strace parser produces: programs run, files touched, network attempts,
 * clones and exits, each with the syscall line it came from. Types only.
 */
export interface EventBase {
  pid: number;
  time?: string;
  syscall: string;
  /** The whole call as strace printed it (joined when it was split), cut to 16 KiB. */
  line: string;
  ok: boolean;
  errno?: string;
}

export interface ExecEvent extends EventBase {
  kind: 'exec';
  path: string;
  argv: string[];
}

export type FileOp =
  'open' | 'create' | 'delete' | 'rename' | 'mkdir' | 'symlink' | 'link' | 'chmod' | 'truncate';

export interface FileEvent extends EventBase {
  kind: 'file';
  op: FileOp;
  /** Absolute path; `?/rel` when the directory it is relative to is unknown. */
  path: string;
  /** The path the kernel resolved (`-y` on the returned descriptor), when it says. */
  realPath?: string;
  /** The source of a rename or link, or a symlink's target. */
  from?: string;
  write: boolean;
  flags?: string;
}

export type Family = 'inet' | 'inet6' | 'unix' | 'netlink' | 'other';

export interface NetEvent extends EventBase {
  kind: 'net';
  op: 'connect' | 'send' | 'bind' | 'listen';
  family?: Family;
  address?: string;
  port?: number;
  /** Names asked for in DNS queries carried by this send. */
  dns?: string[];
}

export interface CloneEvent extends EventBase {
  kind: 'clone';
  child?: number;
  thread: boolean;
}

export interface ExitEvent {
  kind: 'exit';
  pid: number;
  time?: string;
  line: string;
  code?: number;
  signal?: string;
}

export type TraceEvent = ExecEvent | FileEvent | NetEvent | CloneEvent | ExitEvent;
