/**
 * Resource limits of one sandboxed run, their defaults, and their translation into the rlimits
 * `prlimit` sets inside the sandbox. Host-side limits (wall time, output bytes, trace bytes,
 * disk growth) are enforced by the runner. Depends on nothing.
 *
 * NOTE: memory is bounded with RLIMIT_DATA, not RLIMIT_AS. Node reserves about 10 GiB of
 * address space for every WebAssembly memory, so any useful RLIMIT_AS breaks wasm, while
 * RLIMIT_DATA counts only writable private mappings, which is what a memory hog grows.
 */
import { VettedError } from '../errors';

export interface SandboxLimits {
  /** Wall time of one run, in ms. The whole process tree is killed when it runs out. */
  timeMs: number;
  /** CPU seconds per process (RLIMIT_CPU): SIGXCPU at the limit, SIGKILL one second later. */
  cpuSeconds: number;
  /** Writable private memory per process, in bytes (RLIMIT_DATA). Default 2 GiB. */
  memoryBytes: number;
  /** Processes and threads of the sandbox user (RLIMIT_NPROC, counted inside its namespace). */
  processes: number;
  /** Largest file a process may write, in bytes (RLIMIT_FSIZE): SIGXFSZ beyond it. */
  fileSizeBytes: number;
  /** stdout and stderr each keep this many bytes; the rest is counted and dropped. */
  outputBytes: number;
  /** The syscall trace may grow to this many bytes; the run is killed beyond it. */
  traceBytes: number;
  /** Growth of the work filesystem's used space during a run; the run is killed beyond it. */
  diskBytes: number;
}

export const DEFAULT_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  timeMs: 60_000,
  cpuSeconds: 60,
  memoryBytes: 2 * 1024 ** 3,
  processes: 256,
  fileSizeBytes: 256 * 1024 ** 2,
  outputBytes: 64 * 1024,
  traceBytes: 64 * 1024 ** 2,
  diskBytes: 2 * 1024 ** 3,
});

/** Smallest values that still let node start, so a typo cannot make every run fail. */
const MINIMUM: Readonly<SandboxLimits> = {
  timeMs: 100,
  cpuSeconds: 1,
  memoryBytes: 256 * 1024 ** 2,
  processes: 16,
  fileSizeBytes: 1024 ** 2,
  outputBytes: 1024,
  traceBytes: 1024 ** 2,
  diskBytes: 16 * 1024 ** 2,
};

/**
 * Fills defaults and checks every value.
 * @throws VettedError CONFIG_INVALID naming the limit (`limits.memoryBytes`, ...).
 * @example resolveLimits({ timeMs: 10_000 }, 'behaviour.limits')
 */
export function resolveLimits(
  limits: Partial<SandboxLimits> = {},
  where = 'limits',
  base: Readonly<SandboxLimits> = DEFAULT_LIMITS,
): SandboxLimits {
  const out = { ...base };
  for (const key of Object.keys(limits) as Array<keyof SandboxLimits>) {
    const value = limits[key];
    if (value === undefined) continue;
    if (!(key in MINIMUM)) {
      throw new VettedError('CONFIG_INVALID', `${where}.${String(key)} is not a sandbox limit`);
    }
    if (!Number.isSafeInteger(value) || value < MINIMUM[key]) {
      throw new VettedError(
        'CONFIG_INVALID',
        `${where}.${key} must be an integer of at least ${MINIMUM[key]}, got ${String(value)}`,
      );
    }
    out[key] = value;
  }
  return out;
}

/** The `prlimit` options that set the per-process limits inside the sandbox. */
export function prlimitArgs(limits: SandboxLimits): string[] {
  return [
    `--cpu=${limits.cpuSeconds}:${limits.cpuSeconds + 1}`,
    `--data=${limits.memoryBytes}`,
    `--nproc=${limits.processes}`,
    `--fsize=${limits.fileSizeBytes}`,
    '--core=0',
  ];
}
