/**
 * Rebuilding a package from its source commit:
 *
 *   1. checkout     the commit's files into a fresh sandbox workspace (host side, no .git)
 *   2. install      its dependencies, dev ones included, from the upstream with every script
 *                   off, on the host (the only step with network) and as the sandbox's host
 *                   user when vetted is root; at the workspace root when the package is a
 *                   workspace of it, else in the package's folder. Nothing of the repository
 *                   but its dependency list is obeyed (./host-install)
 *   3. pack         `npm pack` in the package's folder INSIDE the bubblewrap sandbox, with no
 *                   network: npm runs `prepack`, `prepare` and `postpack` as it does on publish
 *
 * Every step is time-limited and a failure comes back as `{ step, reason }`, never thrown,
 * so the layer can say `unavailable` with why. Node and npm are the server's own; the
 * versions the package declares (`engines`, `packageManager`) are reported beside them.
 * Depends on ../../sandbox, ./git, ./host-install and ./run-bounded.
 */
import { lstat, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { baseEnv, createWorkspace, resolveLimits, runSandboxed } from '../../sandbox';
import type { NodeToolchain, SandboxLimits, SandboxRunner } from '../../sandbox';
import { checkoutCommit, listTree } from './git';
import { installBuildDependencies, removeRepositoryConfig } from './host-install';
import { tailOf } from '../../run-bounded';

export type RebuildStep = 'checkout' | 'install' | 'pack';

export interface RebuildOptions {
  gitDir: string;
  commit: string;
  /** The package's folder in the repository, `''` for the root. */
  directory: string;
  upstream: string;
  runner: SandboxRunner;
  toolchain: NodeToolchain;
  /** Parent of the workspace. Default: the OS temp dir. */
  workRoot?: string;
  /** npm cache shared between rebuilds (the host-side install only). */
  npmCache: string;
  /** Time install and pack may take together, in ms. */
  timeoutMs: number;
  signal: AbortSignal;
}

export interface RebuildTimings {
  checkoutMs: number;
  installMs?: number;
  packMs?: number;
}

export type RebuildResult =
  | {
      ok: true;
      tarball: Buffer;
      /** Files of the commit, relative to the package folder (for classification). */
      tree: Set<string>;
      timings: RebuildTimings;
      declared: { node?: string; packageManager?: string };
    }
  | { ok: false; step: RebuildStep; reason: string; timings: RebuildTimings };

const MAX_TARBALL_BYTES = 512 * 1024 ** 2;

/** Runs the three steps; the workspace is removed afterwards. */
export async function rebuildPackage(options: RebuildOptions): Promise<RebuildResult> {
  const ws = await createWorkspace({ root: options.workRoot, hostUser: options.runner.hostUser });
  const timings: RebuildTimings = { checkoutMs: 0 };
  const fail = (step: RebuildStep, reason: string): RebuildResult => ({
    ok: false,
    step,
    reason,
    timings,
  });
  try {
    // 1. checkout
    let started = performance.now();
    const gitOpts = { timeoutMs: options.timeoutMs, signal: options.signal };
    const failed = await checkoutCommit(options.gitDir, options.commit, ws.host.project, gitOpts);
    const allFiles = await listTree(options.gitDir, options.commit, gitOpts);
    timings.checkoutMs = since(started);
    if (failed) return fail('checkout', failed);
    // the repository's npm and yarn settings are obeyed neither on the host nor in the sandbox
    await removeRepositoryConfig(ws.host.project, allFiles);
    const prefix = options.directory ? `${options.directory}/` : '';
    const tree = new Set(
      [...allFiles].filter((f) => f.startsWith(prefix)).map((f) => f.slice(prefix.length)),
    );
    const pkgHostDir = path.join(ws.host.project, ...options.directory.split('/').filter(Boolean));
    // a committed link must not lead the host-side install out of the workspace
    if (!(await isRealDirectory(ws.host.project, options.directory))) {
      return fail(
        'checkout',
        `the package folder "${options.directory}" is not a directory of the commit`,
      );
    }
    const pkg = await readJson(path.join(pkgHostDir, 'package.json'));
    if (!pkg)
      return fail('checkout', `${prefix}package.json is missing or not JSON at ${options.commit}`);

    // 2. install, on the host, scripts off
    started = performance.now();
    const root = await readJson(path.join(ws.host.project, 'package.json'));
    const inWorkspace = prefix !== '' && root !== undefined && root.workspaces !== undefined;
    const installDir = inWorkspace ? ws.host.project : pkgHostDir;
    const installPkg = inWorkspace ? (root as Record<string, unknown>) : pkg;
    if (inWorkspace || hasDependencies(installPkg) || installPkg.workspaces !== undefined) {
      await rm(path.join(installDir, 'node_modules'), { recursive: true, force: true });
      const res = await installBuildDependencies({
        checkout: ws.host.project,
        tree: allFiles,
        installDir: inWorkspace ? '' : options.directory,
        configDir: ws.host.npm,
        upstream: options.upstream,
        node: options.toolchain.node,
        npmCli: options.toolchain.npmCli,
        npmCache: options.npmCache,
        timeoutMs: options.timeoutMs,
        signal: options.signal,
      });
      timings.installMs = since(started);
      if (res) return fail('install', res);
    }

    // 3. pack, in the sandbox, no network, in what is left of the time limit
    const leftMs = Math.max(1000, options.timeoutMs - (timings.installMs ?? 0));
    started = performance.now();
    const outHost = path.join(ws.host.tmp, 'vetted-pack');
    await mkdir(outHost, { recursive: true });
    await ws.handOver();
    const sandboxDir = path.posix.join(
      ws.sandbox.project,
      ...options.directory.split('/').filter(Boolean),
    );
    const env: Record<string, string> = {
      ...baseEnv(identity(ws), options.toolchain.node, {}),
      npm_config_cache: `${ws.sandbox.home}/.npm`,
      npm_config_update_notifier: 'false',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_offline: 'true',
      CI: 'true',
    };
    const limits: SandboxLimits = resolveLimits(
      { timeMs: leftMs, cpuSeconds: Math.ceil(leftMs / 1000) },
      'sources.rebuildTimeout',
    );
    const run = await runSandboxed(options.runner, {
      argv: [
        options.toolchain.node,
        options.toolchain.npmCli,
        'pack',
        '--pack-destination',
        '/tmp/vetted-pack',
        '--loglevel=warn',
        '--ignore-scripts=false',
      ],
      cwd: sandboxDir,
      env,
      mounts: ws.mounts,
      limits,
      tracePath: ws.tracePath('rebuild-pack'),
      diskPath: ws.dir,
      signal: options.signal,
    });
    timings.packMs = since(started);
    if (options.signal.aborted) throw options.signal.reason ?? new Error('aborted');
    if (run.killed === 'time') {
      const limit = Math.round(options.timeoutMs / 1000);
      return fail('pack', `install and build did not finish in ${limit} s`);
    }
    if (run.exitCode !== 0) {
      const why = run.killed ? `killed (${run.killed})` : `exited ${run.exitCode ?? run.signal}`;
      return fail('pack', `npm pack ${why}: ${tailOf(run.stderr || run.stdout)}`);
    }
    const made = (await readdir(outHost)).filter((f) => f.endsWith('.tgz'));
    const file = made[0];
    if (made.length !== 1 || !file) {
      return fail(
        'pack',
        `npm pack left ${made.length} tarballs: ${tailOf(run.stderr || run.stdout)}`,
      );
    }
    const info = await stat(path.join(outHost, file));
    if (!info.isFile() || info.size > MAX_TARBALL_BYTES) {
      return fail('pack', `the rebuilt tarball is not a file under ${MAX_TARBALL_BYTES} bytes`);
    }
    const tarball = await readFile(path.join(outHost, file));
    const declared: { node?: string; packageManager?: string } = {};
    const engines = pkg.engines as Record<string, unknown> | undefined;
    if (typeof engines?.node === 'string') declared.node = engines.node;
    const manager = (root ?? pkg).packageManager ?? pkg.packageManager;
    if (typeof manager === 'string') declared.packageManager = manager;
    return { ok: true, tarball, tree, timings, declared };
  } finally {
    await ws.dispose();
  }
}

/** Each component of `rel` under `root` is a directory, not a link. */
async function isRealDirectory(root: string, rel: string): Promise<boolean> {
  let dir = root;
  for (const part of rel.split('/').filter(Boolean)) {
    dir = path.join(dir, part);
    const info = await lstat(dir).catch(() => undefined);
    if (!info?.isDirectory()) return false;
  }
  return true;
}

function hasDependencies(pkg: Record<string, unknown>): boolean {
  return ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'].some(
    (k) => {
      const v = pkg[k];
      return v !== null && typeof v === 'object' && Object.keys(v).length > 0;
    },
  );
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    const value: unknown = JSON.parse(await readFile(file, 'utf8'));
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function identity(ws: {
  user: string;
  hostname: string;
  sandbox: { home: string; project: string; tmp: string };
}) {
  return { user: ws.user, hostname: ws.hostname, ...ws.sandbox };
}

function since(start: number): number {
  return Math.round(performance.now() - start);
}
