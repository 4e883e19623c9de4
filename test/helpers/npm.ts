/**
 * Runs the real npm CLI against a loopback registry with a throwaway configuration.
 *
 * Every run gets its own userconfig, globalconfig and cache, so ~/.npmrc, the machine's global
 * npmrc and any `npm_config_*` inherited from an enclosing `npm test` never reach the npm under
 * test. Depends on: `npm` on PATH, src/run-bounded.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { runBounded } from '../../src/run-bounded';

/** Output kept per stream: all of it, in practice (clients print kilobytes). */
const OUTPUT_BYTES = 64 * 1024 ** 2;

export interface NpmEnvOptions {
  /** Bearer token for the registry, written as `//host:port/path/:_authToken`. */
  token?: string;
  /** Directory for the npmrc files and the cache. Default: a new temp dir. Never removed. */
  dir?: string;
}

export interface NpmEnv {
  env: NodeJS.ProcessEnv;
  dir: string;
}

export interface RunNpmOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Kills npm (and its process group) after this long. Default 120 s. */
  timeoutMs?: number;
}

export interface NpmResult {
  /** Exit code; 128 + signal number when npm was killed by a signal. */
  code: number;
  stdout: string;
  stderr: string;
}

const DEFAULT_TIMEOUT_MS = 120_000;

// Inherited variables that would change what npm does: its own config and lifecycle variables
// (set by an enclosing `npm test`), and CI identity tokens that switch `npm publish` to OIDC.
const INHERITED_NPM = /^npm_/i;
const OIDC_VARS = [
  'ACTIONS_ID_TOKEN_REQUEST_URL',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  'NPM_ID_TOKEN',
  'SIGSTORE_ID_TOKEN',
];

/**
 * Creates an isolated npm configuration for `registryUrl` and returns the environment to run
 * npm with.
 *
 * @example
 *   const { env } = npmEnv(upstream.url, { token });
 *   await runNpm(['install', 'left-pad'], { cwd: project, env });
 */
export function npmEnv(registryUrl: string, opts: NpmEnvOptions = {}): NpmEnv {
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'vetted-npm-'));
  mkdirSync(dir, { recursive: true });
  const registry = new URL(registryUrl);
  if (!registry.pathname.endsWith('/')) registry.pathname += '/';

  const lines = [
    `registry=${registry.href}`,
    'audit=false',
    'fund=false',
    'update-notifier=false',
    // npm keeps its retries (clients really do repeat requests) but not its 10-60 s backoff:
    // with the defaults one corrupt tarball takes 140 s to fail. Override per run with flags.
    'fetch-retry-mintimeout=100',
    'fetch-retry-maxtimeout=1000',
  ];
  if (opts.token !== undefined) {
    // npm matches credentials by the registry URL without its protocol ("nerf dart").
    lines.push(`//${registry.host}${registry.pathname}:_authToken=${opts.token}`);
  }
  const userconfig = path.join(dir, 'npmrc');
  const globalconfig = path.join(dir, 'global-npmrc');
  writeFileSync(userconfig, lines.join('\n') + '\n', { mode: 0o600 });
  writeFileSync(globalconfig, '');

  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!INHERITED_NPM.test(key) && !OIDC_VARS.includes(key)) env[key] = value;
  }
  env.npm_config_userconfig = userconfig;
  env.npm_config_globalconfig = globalconfig;
  env.npm_config_cache = path.join(dir, 'cache');
  return { env, dir };
}

/**
 * Runs `npm <args>` and collects its output. A non-zero exit is a result, not an error.
 *
 * @throws when npm cannot be spawned or runs longer than `timeoutMs`.
 */
export function runNpm(args: string[], opts: RunNpmOptions): Promise<NpmResult> {
  return runProgram('npm', args, opts);
}

/**
 * Runs `bin <args>` in its own process group (so a timeout also ends the git and lifecycle
 * processes it started) and collects its output. A non-zero exit is a result, not an error.
 *
 * @throws when the program cannot be spawned or runs longer than `timeoutMs`.
 */
export async function runProgram(
  bin: string,
  args: string[],
  opts: RunNpmOptions,
): Promise<NpmResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const label = `${path.basename(bin)} ${args.join(' ')}`;
  const env = Object.fromEntries(
    Object.entries(opts.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const res = await runBounded(bin, args, {
    cwd: opts.cwd,
    env,
    timeoutMs,
    stdoutBytes: OUTPUT_BYTES,
    stderrBytes: OUTPUT_BYTES,
  });
  if (res.timedOut) {
    const tail = `${res.stdout.slice(-2000)}\n${res.stderr.slice(-2000)}`;
    throw new Error(`${label} timed out after ${timeoutMs} ms\n${tail}`);
  }
  if (res.code === undefined && res.signal === undefined)
    throw new Error(`spawning ${label}: ${res.stderr.trim()}`);
  const signalNumber = res.signal === undefined ? 0 : constants.signals[res.signal];
  return { code: res.code ?? 128 + signalNumber, stdout: res.stdout, stderr: res.stderr };
}
