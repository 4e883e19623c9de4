/**
 * Phase 1 of the behaviour layer, on the host and outside the sandbox: the verified tarball
 * unpacked as npm unpacks it (`node_modules/<name>`, links and special files dropped, modes
 * normalised, bins executable and linked in `node_modules/.bin`), and the package's
 * dependencies installed beside it by the real npm with every script disabled, a user config
 * and cache of its own, and of the server's environment only what reaches the upstream
 * (proxy and CA settings; the machine's global npmrc is read as npm reads it).
 * Depends on tar, ./toolchain and ../run-bounded.
 */
import { chmod, lstat, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import type { NodeToolchain } from './toolchain';
import { runBounded } from '../run-bounded';
import { feedTarball } from '../tar-feed';

export interface ExtractLimits {
  maxEntries: number;
  maxBytes: number;
}

export const DEFAULT_EXTRACT_LIMITS: Readonly<ExtractLimits> = Object.freeze({
  maxEntries: 20_000,
  maxBytes: 512 * 1024 ** 2,
});

/**
 * Unpacks `tarball` into `dest` (created), as pacote does for npm.
 * @throws Error when the archive is unreadable or over the limits.
 */
export async function extractPackage(
  tarball: Buffer,
  dest: string,
  bins: string[],
  limits: ExtractLimits = DEFAULT_EXTRACT_LIMITS,
): Promise<{ files: number; bytes: number }> {
  await mkdir(dest, { recursive: true });
  const executables = new Set(bins.map((b) => path.posix.normalize(b)));
  let files = 0;
  let bytes = 0;
  let over: string | undefined;
  await new Promise<void>((resolve, reject) => {
    const unpack = tar.x({
      cwd: dest,
      strip: 1,
      noMtime: true,
      preserveOwner: false,
      filter: (name, entry) => {
        const type = 'type' in entry ? entry.type : undefined;
        if (type !== 'File' && type !== 'OldFile' && type !== 'ContiguousFile') return false;
        files++;
        bytes += 'size' in entry ? entry.size : 0;
        if (files > limits.maxEntries || bytes > limits.maxBytes) {
          over ??= `the package is over the unpack limits (${files} files, ${bytes} bytes)`;
          return false;
        }
        const rel = path.posix.normalize(name.split('/').slice(1).join('/'));
        const exe = executables.has(rel) ? 0o111 : 0;
        if ('mode' in entry) entry.mode = (((entry.mode ?? 0) | 0o644) & 0o755) | exe;
        return true;
      },
    });
    unpack.on('error', reject);
    unpack.on('close', () => resolve());
    // in slices: a gzip bomb must not inflate whole in memory (the filter skips its bytes)
    feedTarball(unpack, tarball, () => false).catch(reject);
  });
  if (over) throw new Error(over);
  return { files, bytes };
}

/** The bins a package.json declares, as `{ name: relative path }`, npm's way. */
export function packageBins(pkg: Record<string, unknown>, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  const bin = pkg.bin;
  const base = name.startsWith('@') ? (name.split('/')[1] ?? name) : name;
  const entries: Array<[string, unknown]> =
    typeof bin === 'string'
      ? [[base, bin]]
      : bin && typeof bin === 'object'
        ? Object.entries(bin)
        : [];
  for (const [key, target] of entries) {
    const binName = path.posix.basename(key.replace(/\\/g, '/'));
    if (typeof target !== 'string' || !/^[\w.@+-]+$/.test(binName) || binName.startsWith('.')) {
      continue;
    }
    const rel = path.posix.normalize(target.replace(/\\/g, '/')).replace(/^(\.\/)+/, '');
    if (rel.startsWith('..') || path.posix.isAbsolute(rel)) continue;
    out[binName] = rel;
  }
  return out;
}

/** Links each bin into `<project>/node_modules/.bin`, as npm's bin-links does. */
export async function linkBins(
  project: string,
  name: string,
  bins: Record<string, string>,
): Promise<void> {
  const binDir = path.join(project, 'node_modules', '.bin');
  await mkdir(binDir, { recursive: true });
  for (const [binName, rel] of Object.entries(bins)) {
    const file = path.join(project, 'node_modules', name, rel);
    const info = await lstat(file).catch(() => undefined);
    if (!info?.isFile()) continue;
    await chmod(file, (info.mode & 0o777) | 0o111);
    const link = path.join(binDir, binName);
    await symlink(path.posix.join('..', name, rel), link).catch(() => undefined);
  }
}

/** What the dependency install keeps of the server's environment: how to reach the upstream. */
export const NETWORK_ENV = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];

export interface InstallDependenciesOptions {
  project: string;
  manifest: Record<string, unknown>;
  registry: string;
  toolchain: NodeToolchain;
  /** npm's configuration directory (userconfig, globalconfig). */
  configDir: string;
  /** npm's cache. */
  cache: string;
  /** Lines added to the npmrc (upstream credentials). */
  npmrc?: string[];
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface InstallDependenciesResult {
  /** Dependencies asked for; 0 means npm was not run. */
  requested: number;
  ok: boolean;
  exitCode?: number;
  durationMs: number;
  /** The end of npm's output, when it failed. */
  output?: string;
}

/**
 * `npm install --ignore-scripts --omit=dev` of the manifest's dependencies (optional ones as
 * optional, required peers too, as npm 7+ installs them) into `project`.
 */
export async function installDependencies(
  options: InstallDependenciesOptions,
): Promise<InstallDependenciesResult> {
  const { manifest } = options;
  const started = performance.now();
  const deps = { ...stringRecord(manifest.dependencies) };
  const peerMeta = isRecord(manifest.peerDependenciesMeta) ? manifest.peerDependenciesMeta : {};
  for (const [peer, range] of Object.entries(stringRecord(manifest.peerDependencies))) {
    const meta = peerMeta[peer];
    if (!(isRecord(meta) && meta.optional === true) && !(peer in deps)) deps[peer] = range;
  }
  const optional = stringRecord(manifest.optionalDependencies);
  for (const name of Object.keys(optional)) delete deps[name];
  const requested = Object.keys(deps).length + Object.keys(optional).length;
  if (requested === 0) return { requested, ok: true, durationMs: 0 };

  await writeFile(
    path.join(options.project, 'package.json'),
    JSON.stringify({
      name: 'project',
      version: '1.0.0',
      private: true,
      dependencies: deps,
      optionalDependencies: optional,
    }),
  );
  const userconfig = path.join(options.configDir, 'npmrc');
  await writeFile(
    userconfig,
    [`registry=${options.registry}`, ...(options.npmrc ?? [])].join('\n') + '\n',
    { mode: 0o600 },
  );
  const args = [
    options.toolchain.npmCli,
    'install',
    `--registry=${options.registry}`,
    '--ignore-scripts',
    '--omit=dev',
    '--no-audit',
    '--no-fund',
    '--no-package-lock',
    '--no-update-notifier',
    '--loglevel=error',
    // fail in seconds, not the minutes npm's default backoff takes, when the upstream is down
    '--fetch-retries=2',
    '--fetch-retry-mintimeout=1000',
    '--fetch-retry-maxtimeout=5000',
  ];
  const env: Record<string, string> = {
    PATH: `${path.dirname(options.toolchain.node)}:/usr/bin:/bin`,
    HOME: options.configDir,
    npm_config_userconfig: userconfig,
    npm_config_cache: options.cache,
  };
  for (const name of NETWORK_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  const res = await runBounded(options.toolchain.node, args, {
    cwd: options.project,
    env,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
  });
  const out: InstallDependenciesResult = {
    requested,
    ok: res.code === 0,
    durationMs: Math.round(performance.now() - started),
  };
  if (res.code !== undefined) out.exitCode = res.code;
  if (res.code !== 0) {
    const said = `${res.stdout}\n${res.stderr}`.trim();
    const late = res.timedOut ? `\nnpm did not finish within ${options.timeoutMs} ms` : '';
    out.output = (said + late).slice(-2000);
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringRecord(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  return Object.fromEntries(
    Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}
