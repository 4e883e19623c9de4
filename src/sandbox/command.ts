/**
 * The command line of a sandboxed run, built as data so tests and reports can show it:
 *
 *   setpriv --pdeathsig KILL -- strace -f ... -o TRACE --
 *     [setpriv --reuid U --regid G --clear-groups --]   (only when vetted runs as root)
 *     bwrap --unshare-{user,ipc,pid,net,uts,cgroup-try} --disable-userns --uid 1000 ...
 *       --ro-bind /usr /usr ... --bind HOME TMP PROJECT ... --seccomp 3 --remount-ro / --
 *       prlimit --cpu --data --nproc --fsize --core=0 -- COMMAND
 *
 * strace runs outside the sandbox, so nothing inside can see, signal or write to it or to the
 * trace; `--seccomp-bpf` means that if it died, traced calls would fail rather than run
 * unseen. Root drops to an unprivileged host uid first: RLIMIT_NPROC does not bind uid 0.
 * Depends on ./limits.
 */
import { lstat, readlink, stat } from 'node:fs/promises';
import { prlimitArgs } from './limits';
import type { SandboxLimits } from './limits';

export interface SandboxTools {
  bwrap: string;
  strace: string;
  prlimit: string;
  setpriv: string;
}

export const DEFAULT_TOOLS: Readonly<SandboxTools> = Object.freeze({
  bwrap: '/usr/bin/bwrap',
  strace: '/usr/bin/strace',
  prlimit: '/usr/bin/prlimit',
  setpriv: '/usr/bin/setpriv',
});

export interface Mount {
  host: string;
  sandbox: string;
  writable?: boolean;
}

export interface RunSpec {
  /** The command inside the sandbox; `argv[0]` is an absolute sandbox path. */
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Binds beyond the read-only system (HOME, TMP, the project, synthetic /etc files). */
  mounts: Mount[];
  limits: SandboxLimits;
  /** Host path strace writes the trace to; outside every mount. */
  tracePath: string;
  /** Host directory whose filesystem the disk-growth limit watches. */
  diskPath?: string;
  signal?: AbortSignal;
}

/** A piece of the read-only system: a host path bound at the same place, or a link. */
export type SystemEntry = { bind: string } | { symlink: string; at: string };

export interface SandboxRunner {
  tools: SandboxTools;
  /** Host uid and gid the sandbox runs as (`undefined`: vetted's own). */
  hostUser?: { uid: number; gid: number };
  /** The read-only system every sandbox sees. */
  system: SystemEntry[];
}

/** Syscalls traced; `?` marks those some architectures lack, so strace does not refuse them. */
export const TRACED_SYSCALLS = [
  'execve',
  'execveat',
  '?fork',
  '?vfork',
  'clone',
  'clone3',
  'chdir',
  'fchdir',
  'socket',
  'connect',
  'bind',
  'listen',
  'sendto',
  'sendmsg',
  'sendmmsg',
  '?open',
  'openat',
  '?openat2',
  '?creat',
  '?rename',
  'renameat',
  '?renameat2',
  '?unlink',
  'unlinkat',
  '?rmdir',
  '?mkdir',
  'mkdirat',
  '?symlink',
  'symlinkat',
  '?link',
  'linkat',
  'truncate',
  '?chmod',
  'fchmodat',
] as const;

/** strace's options: every process, pids translated out of the namespace, fds as paths. */
export function straceArgs(tracePath: string, argv: string[]): string[] {
  return [
    '-f',
    '-q',
    '-tt',
    '-y',
    '-s',
    '4096',
    '--decode-pids=pidns',
    '--seccomp-bpf',
    // signals stay on: with `signal=none` strace also drops "+++ killed by SIGXCPU +++"
    '-e',
    `trace=${TRACED_SYSCALLS.join(',')}`,
    '-o',
    tracePath,
    '--',
    ...argv,
  ];
}

/** bubblewrap's options for one run. Pure, so tests and reports can show the command line. */
export function bwrapArgs(runner: SandboxRunner, spec: RunSpec): string[] {
  const args = [
    '--unshare-user',
    '--unshare-ipc',
    '--unshare-pid',
    '--unshare-net',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--disable-userns',
    '--uid',
    '1000',
    '--gid',
    '1000',
    '--hostname',
    spec.env.HOSTNAME ?? 'devbox',
    '--cap-drop',
    'ALL',
    '--die-with-parent',
    '--new-session',
    '--clearenv',
  ];
  for (const [key, value] of Object.entries(spec.env)) args.push('--setenv', key, value);
  for (const e of runner.system) {
    if ('bind' in e) args.push('--ro-bind', e.bind, e.bind);
    else args.push('--symlink', e.symlink, e.at);
  }
  args.push('--proc', '/proc', '--dev', '/dev');
  for (const m of spec.mounts) args.push(m.writable ? '--bind' : '--ro-bind', m.host, m.sandbox);
  args.push('--seccomp', '3', '--chdir', spec.cwd, '--remount-ro', '/');
  return args;
}

/** The full argv the runner spawns. */
export function commandLine(runner: SandboxRunner, spec: RunSpec): string[] {
  const { tools } = runner;
  const inner = [tools.prlimit, ...prlimitArgs(spec.limits), '--', ...spec.argv];
  const bwrap = [tools.bwrap, ...bwrapArgs(runner, spec), '--', ...inner];
  const drop = runner.hostUser
    ? [
        tools.setpriv,
        `--reuid=${runner.hostUser.uid}`,
        `--regid=${runner.hostUser.gid}`,
        '--clear-groups',
        '--',
      ]
    : [];
  return [
    tools.setpriv,
    '--pdeathsig',
    'KILL',
    '--',
    tools.strace,
    ...straceArgs(spec.tracePath, [...drop, ...bwrap]),
  ];
}

/**
 * A seccomp program (classic BPF, as `bwrap --seccomp` reads it) that makes io_uring look
 * absent (ENOSYS): io_uring opens files and sockets without system calls strace could see.
 * The three io_uring numbers are the same on every architecture (425-427); the x32 bit is
 * masked off.
 */
export function seccompProgram(): Buffer {
  const insn = (code: number, jt: number, jf: number, k: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(code, 0);
    b.writeUInt8(jt, 2);
    b.writeUInt8(jf, 3);
    b.writeUInt32LE(k >>> 0, 4);
    return b;
  };
  const ENOSYS = 38;
  return Buffer.concat([
    insn(0x20, 0, 0, 0), // ld [nr]
    insn(0x54, 0, 0, 0xbfffffff), // and ~__X32_SYSCALL_BIT
    insn(0x35, 0, 2, 425), // jge 425 ? next : allow
    insn(0x25, 1, 0, 427), // jgt 427 ? allow : next
    insn(0x06, 0, 0, 0x00050000 | ENOSYS), // ret ERRNO(ENOSYS)
    insn(0x06, 0, 0, 0x7fff0000), // ret ALLOW
  ]);
}

/**
 * The read-only system every sandbox sees: /usr, the top-level links or directories of a
 * merged or split /usr, the loader's and the toolchain's /etc files, and `extra` host paths
 * (a node or npm installed outside /usr).
 */
export async function systemLayout(extra: string[] = []): Promise<SystemEntry[]> {
  const out: SystemEntry[] = [{ bind: '/usr' }];
  for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    const info = await lstat(top).catch(() => undefined);
    if (info?.isSymbolicLink()) out.push({ symlink: await readlink(top), at: top });
    else if (info?.isDirectory()) out.push({ bind: top });
  }
  for (const name of ['ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'alternatives', 'localtime']) {
    const path = `/etc/${name}`;
    if (await stat(path).catch(() => undefined)) out.push({ bind: path });
  }
  const bound = (path: string) =>
    out.some((e) => 'bind' in e && (path === e.bind || path.startsWith(`${e.bind}/`)));
  for (const path of extra) if (!bound(path)) out.push({ bind: path });
  return out;
}
