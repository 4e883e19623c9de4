/**
 * The rebuild's host-side dependency install, the one step of the source layer that runs
 * outside the sandbox with network. It obeys nothing from the repository except the list of
 * dependencies:
 *
 *   - every `.npmrc` and `.yarnrc*` of the checkout is removed, and so is a `yarn.lock` where
 *     npm would read it (npm takes `resolved` URLs from it);
 *   - npm's user and global config are empty files of ours, HOME is a fresh directory, no
 *     `npm_config_*` variable is inherited, and the command line pins the registry, scripts
 *     off, `install-links=false` and a `git` that cannot run;
 *   - a dependency that is not a registry package (git, `file:`, `link:`, a tarball URL, an
 *     alias to one of those, `workspace:`), in the package, its workspaces or `overrides`,
 *     stops the rebuild with the reason instead of being fetched;
 *   - a package-lock (or shrinkwrap) is used only once every `resolved` entry is on the
 *     upstream or dropped (a registry tarball URL elsewhere: npm then asks the upstream for
 *     that name and version, still checked against the lock's integrity); any other source
 *     stops the rebuild. The original lock is put back afterwards, since a shrinkwrap is packed.
 *
 * Depends on npm-package-arg and ./run-bounded.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import npa from 'npm-package-arg';
import { runBounded, tailOf } from '../../run-bounded';
import { NETWORK_ENV } from '../../sandbox/install';

const DEP_FIELDS = [
  'dependencies',
  'devDependencies',
  'optionalDependencies',
  'peerDependencies',
] as const;

const CONFIG_FILES = new Set(['.npmrc', '.yarnrc', '.yarnrc.yml', '.yarnrc.yaml']);
const LOCKFILES = ['npm-shrinkwrap.json', 'package-lock.json'] as const;

export interface HostInstallOptions {
  /** The checkout's root on the host. */
  checkout: string;
  /** Files of the commit, relative to the checkout's root. */
  tree: ReadonlySet<string>;
  /** Where npm runs: the checkout's root or the package's folder, relative to `checkout`. */
  installDir: string;
  /** A fresh directory for npm's HOME and config, outside the checkout. */
  configDir: string;
  upstream: string;
  node: string;
  npmCli: string;
  npmCache: string;
  /** Runs npm as another host user: `setpriv` and its arguments, when vetted is root. */
  dropTo?: string[];
  timeoutMs: number;
  signal: AbortSignal;
}

/** Removes the repository's npm and yarn configuration from the checkout. */
export async function removeRepositoryConfig(
  checkout: string,
  tree: ReadonlySet<string>,
): Promise<void> {
  for (const file of tree) {
    if (CONFIG_FILES.has(path.posix.basename(file))) {
      await rm(path.join(checkout, ...file.split('/')), { recursive: true, force: true });
    }
  }
}

/**
 * Why the dependencies of these manifests (the install's package.json first, then its
 * workspaces') are not all registry packages, or undefined when they are. `overrides` are read
 * from the first.
 * @example nonRegistryDependencies([['package.json', { devDependencies: { x: 'github:a/x' } }]])
 *   // 'devDependencies of package.json: x is "github:a/x" (git), not a registry package'
 */
export function nonRegistryDependencies(
  manifests: ReadonlyArray<readonly [string, Record<string, unknown>]>,
): string | undefined {
  for (const [where, manifest] of manifests) {
    for (const field of DEP_FIELDS) {
      const deps = manifest[field];
      if (!isRecord(deps)) continue;
      for (const [name, spec] of Object.entries(deps)) {
        const why = typeof spec === 'string' ? specType(name, spec) : 'not a string';
        if (why) {
          return `${field} of ${where}: ${name} is ${quote(spec)} (${why}), not a registry package`;
        }
      }
    }
  }
  const [where, first] = manifests[0] ?? ['package.json', {}];
  const bad = overrideSpecs(first.overrides).find(([, spec]) => specType('x', spec));
  if (bad) return `overrides of ${where}: ${bad[0]} is ${quote(bad[1])}, not a registry package`;
  return undefined;
}

/**
 * The lock made safe to install from, `'drop'` when it is too old to check (npm then resolves
 * from package.json), or why it cannot be used.
 */
export function toRegistryLock(
  lock: unknown,
  upstream: string,
): { lock: Record<string, unknown> } | 'drop' | string {
  if (!isRecord(lock) || !isRecord(lock.packages)) return 'drop';
  const base = upstream.endsWith('/') ? upstream : `${upstream}/`;
  const packages: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === '' || !isRecord(entry)) {
      packages[key] = entry;
      continue;
    }
    const resolved = entry.resolved;
    const copy = { ...entry };
    if (entry.link === true) {
      // a workspace: a folder of the checkout itself
      const target = typeof resolved === 'string' ? path.posix.normalize(resolved) : '';
      if (!target || target.includes(':') || target.startsWith('..') || target.startsWith('/')) {
        return `the lockfile links ${key} to ${quote(resolved)}, outside the repository`;
      }
    } else if (typeof resolved === 'string' && !resolved.startsWith(base)) {
      if (!isRegistryTarballUrl(resolved)) {
        return `the lockfile resolves ${key} from ${quote(resolved)}, not from the registry`;
      }
      delete copy.resolved;
    }
    packages[key] = copy;
  }
  // the v1 tree beside `packages` is read only by npm 6; not left for anything to follow
  const out: Record<string, unknown> = { ...lock, packages };
  delete out.dependencies;
  return { lock: out };
}

/**
 * `npm install` of the checkout's dependencies from the upstream, as described above.
 * @returns why it did not install, or undefined.
 */
export async function installBuildDependencies(
  options: HostInstallOptions,
): Promise<string | undefined> {
  const dir = path.join(options.checkout, ...options.installDir.split('/').filter(Boolean));
  await removeRepositoryConfig(options.checkout, options.tree);
  await rm(path.join(dir, 'yarn.lock'), { force: true });
  const pkg = await readJson(path.join(dir, 'package.json'));
  if (!pkg) return 'package.json is missing or not JSON';
  const manifests: Array<[string, Record<string, unknown>]> = [[label(options.installDir), pkg]];
  for (const file of workspaceManifestPaths(pkg, options.installDir, options.tree)) {
    const manifest = await readJson(path.join(options.checkout, ...file.split('/')));
    if (manifest) manifests.push([file, manifest]);
  }
  const nonRegistry = nonRegistryDependencies(manifests);
  if (nonRegistry) return nonRegistry;

  const originals: Array<[string, Buffer]> = [];
  for (const name of LOCKFILES) {
    const file = path.join(dir, name);
    const bytes = await readFile(file).catch(() => undefined);
    if (!bytes) continue;
    originals.push([file, bytes]);
    const safe = toRegistryLock(parseJson(bytes), options.upstream);
    if (typeof safe === 'string' && safe !== 'drop') return `${name}: ${safe}`;
    if (safe === 'drop') await rm(file, { force: true });
    else await writeFile(file, JSON.stringify(safe.lock, null, 2));
  }
  try {
    return await runNpm(dir, options);
  } finally {
    for (const [file, bytes] of originals) await writeFile(file, bytes);
  }
}

async function runNpm(dir: string, options: HostInstallOptions): Promise<string | undefined> {
  const userconfig = path.join(options.configDir, 'npmrc');
  const globalconfig = path.join(options.configDir, 'npmrc-global');
  await writeFile(userconfig, `registry=${options.upstream}\n`, { mode: 0o644 });
  await writeFile(globalconfig, '', { mode: 0o644 });
  // a fresh environment: no npm_config_* of the server's, only how to reach the upstream
  const env: Record<string, string> = {
    PATH: `${path.dirname(options.node)}:/usr/bin:/bin`,
    HOME: options.configDir,
    npm_config_userconfig: userconfig,
    npm_config_globalconfig: globalconfig,
    npm_config_cache: options.npmCache,
  };
  for (const name of NETWORK_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  const argv = [
    options.node,
    options.npmCli,
    'install',
    `--userconfig=${userconfig}`,
    `--globalconfig=${globalconfig}`,
    `--registry=${options.upstream}`,
    '--ignore-scripts',
    '--install-links=false',
    // no git dependency gets this far; if one did, npm could not run git for it
    '--git=/bin/false',
    '--include=dev',
    '--no-audit',
    '--no-fund',
    '--no-update-notifier',
    '--loglevel=error',
    '--fetch-retries=2',
    '--fetch-retry-mintimeout=1000',
    '--fetch-retry-maxtimeout=5000',
  ];
  const [cmd, ...args] = [...(options.dropTo ?? []), ...argv] as [string, ...string[]];
  const res = await runBounded(cmd, args, {
    cwd: dir,
    env,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
  });
  if (options.signal.aborted) throw options.signal.reason ?? new Error('aborted');
  if (res.timedOut) {
    const limit = Math.round(options.timeoutMs / 1000);
    return `installing the build dependencies did not finish in ${limit} s`;
  }
  if (res.code !== 0) {
    return `npm install exited ${res.code ?? 'abnormally'}: ${tailOf(res.stderr)}`;
  }
  return undefined;
}

/** Why npm would not fetch `spec` from the registry, or undefined when it would. */
function specType(name: string, spec: string): string | undefined {
  let parsed: npa.Result;
  try {
    parsed = npa.resolve(name, spec, '/nonexistent');
  } catch {
    return 'a spec npm does not read as a registry one';
  }
  const target = parsed.type === 'alias' ? (parsed as npa.AliasResult).subSpec : parsed;
  if (target && (target.type === 'version' || target.type === 'range' || target.type === 'tag')) {
    return undefined;
  }
  return parsed.type === 'alias' ? `an alias to ${target?.type ?? 'nothing'}` : parsed.type;
}

/** `[path, spec]` of every spec in an `overrides` object; `$name` references are skipped. */
function overrideSpecs(overrides: unknown, at = ''): Array<[string, string]> {
  if (!isRecord(overrides)) return [];
  const out: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(overrides)) {
    const where = at ? `${at} > ${key}` : key;
    if (typeof value === 'string' && !value.startsWith('$')) out.push([where, value]);
    else out.push(...overrideSpecs(value, where));
  }
  return out;
}

/**
 * The package.json of every workspace `pkg` (in `dir`) declares, among the commit's files.
 * Exclusions (`!pattern`) are ignored: a workspace too many is checked, never one too few.
 */
export function workspaceManifestPaths(
  pkg: Record<string, unknown>,
  dir: string,
  tree: ReadonlySet<string>,
): string[] {
  const declared = Array.isArray(pkg.workspaces)
    ? pkg.workspaces
    : isRecord(pkg.workspaces) && Array.isArray(pkg.workspaces.packages)
      ? pkg.workspaces.packages
      : [];
  const patterns = declared
    .filter((p): p is string => typeof p === 'string' && !p.startsWith('!'))
    .map(globRegExp);
  const prefix = dir ? `${dir}/` : '';
  const out: string[] = [];
  for (const file of tree) {
    if (!file.startsWith(prefix) || !file.endsWith('/package.json')) continue;
    const folder = file.slice(prefix.length, -'/package.json'.length);
    if (folder.split('/').includes('node_modules')) continue;
    if (patterns.some((re) => re.test(folder))) out.push(file);
  }
  return out;
}

function globRegExp(pattern: string): RegExp {
  const clean = path.posix.normalize(pattern).replace(/^\.\//, '').replace(/\/+$/, '');
  const body = clean
    .split('/')
    .map((part) =>
      part === '**'
        ? '.*'
        : part
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]'),
    )
    .join('/');
  return new RegExp(`^${body}$`);
}

function label(dir: string): string {
  return dir ? `${dir}/package.json` : 'package.json';
}

function quote(value: unknown): string {
  return JSON.stringify(typeof value === 'string' ? value.slice(0, 200) : value) ?? 'nothing';
}

/** An http(s) URL of a registry tarball (`…/<name>/-/<file>.tgz`). */
function isRegistryTarballUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return /^https?:$/.test(parsed.protocol) && /\/-\/[^/]+\.tgz$/.test(parsed.pathname);
  } catch {
    return false;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  const bytes = await readFile(file).catch(() => undefined);
  const value = bytes ? parseJson(bytes) : undefined;
  return isRecord(value) ? value : undefined;
}
