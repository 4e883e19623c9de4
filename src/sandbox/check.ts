/**
 * Whether the sandbox can run here: the tools exist, and a probe (`/usr/bin/true` inside the
 * full sandbox, traced) starts and shows up in its trace. A missing tool, user namespaces
 * turned off, or ptrace refused all end as `{ available: false, reason }`, never as a pass.
 * Depends on ./command, ./sandbox and ./strace-parser.
 */
import { constants as fsConstants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_TOOLS, systemLayout } from './command';
import type { SandboxRunner, SandboxTools } from './command';
import { resolveLimits } from './limits';
import { runSandboxed } from './sandbox';
import { parseStrace } from './strace-parser';

export type SandboxCheck =
  | { available: true; runner: SandboxRunner }
  /** `interrupted`: the probe was killed from outside, which says nothing about this host. */
  | { available: false; reason: string; interrupted?: boolean };

export interface CheckSandboxOptions {
  /** Paths of bwrap, strace, prlimit and setpriv. Default: Debian's, under /usr/bin. */
  tools?: Partial<SandboxTools>;
  /** Host uid and gid the sandbox runs as when vetted runs as root. Default 65534 (nobody). */
  hostUid?: number;
  hostGid?: number;
  /** Extra read-only host paths (node or npm installed outside /usr). */
  systemPaths?: string[];
  /** Directory for the probe's trace. Default: the OS temp dir. */
  tmpDir?: string;
}

const NOBODY = 65534;

/**
 * Probes the sandbox and returns the runner to use with it.
 * @example
 *   const check = await checkSandbox();
 *   if (!check.available) return { outcome: 'unavailable', reason: check.reason };
 */
export async function checkSandbox(options: CheckSandboxOptions = {}): Promise<SandboxCheck> {
  const tools: SandboxTools = { ...DEFAULT_TOOLS, ...options.tools };
  for (const [name, file] of Object.entries(tools)) {
    if (!(await isExecutable(file))) {
      return { available: false, reason: `${name} is not installed (no executable ${file})` };
    }
  }
  const runner: SandboxRunner = {
    tools,
    system: await systemLayout(options.systemPaths),
  };
  if (process.getuid?.() === 0) {
    runner.hostUser = { uid: options.hostUid ?? NOBODY, gid: options.hostGid ?? NOBODY };
  }

  const dir = await mkdtemp(path.join(options.tmpDir ?? tmpdir(), 'vetted-sandbox-check-'));
  try {
    const result = await runSandboxed(runner, {
      argv: ['/usr/bin/true'],
      cwd: '/',
      env: { PATH: '/usr/bin:/bin' },
      mounts: [],
      limits: resolveLimits({ timeMs: 15_000 }),
      tracePath: path.join(dir, 'trace'),
    });
    const parsed = parseStrace(result.trace, { skipSetup: true });
    const ran = parsed.events.some((e) => e.kind === 'exec' && e.ok && e.path === '/usr/bin/true');
    if (result.exitCode === 0 && ran) return { available: true, runner };
    const said = result.stderr.trim().split('\n').slice(-3).join(' / ');
    const how =
      result.exitCode !== undefined ? `exit ${result.exitCode}` : `signal ${result.signal}`;
    return {
      available: false,
      reason: `the sandbox cannot start here (${how}${ran ? '' : ', nothing traced'}): ${said || 'no output'}`,
      ...(interruptedRun(result) ? { interrupted: true } : {}),
    };
  } catch (err) {
    // the tools exist (checked above), so a probe that throws (its trace file gone, say) was
    // most likely cut short: retried, never taken for a host without a sandbox
    const reason = `the sandbox probe failed: ${String(err)}`;
    return { available: false, reason, interrupted: true };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function isExecutable(file: string): Promise<boolean> {
  return access(file, fsConstants.X_OK).then(
    () => true,
    () => false,
  );
}

/**
 * Whether a sandboxed run was killed by a signal the runner did not send (its time limits send
 * their own). Inside the sandbox's pid namespace a package cannot signal bwrap or strace, so
 * such a kill comes from outside: an operator, the OOM killer.
 */
export function interruptedRun(result: { signal?: string; killed?: string }): boolean {
  return result.signal !== undefined && result.killed === undefined;
}
