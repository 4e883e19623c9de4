/**
 * The real package tree the behaviour bench verifies: the user's registry (`npm config get
 * registry`), and the versions npm resolves for one spec there, read from the `packages` of a
 * lockfile made with `npm install --package-lock-only --ignore-scripts` (isolated userconfig
 * and cache, see test/helpers/npm.ts). Nothing is installed and no script runs.
 * Depends on: npm on PATH, network access to that registry.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { npmEnv, runNpm } from '../test/helpers/npm';

export interface TreeEntry {
  name: string;
  version: string;
  /** Tarball URL as the lockfile records it. */
  resolved: string;
  /** `integrity` as the lockfile records it (the registry's `dist.integrity`). */
  integrity: string;
}

/** What this bench reads of a `packages` entry of package-lock.json (lockfileVersion 2 or 3). */
interface LockEntry {
  /** Present when the install path is an alias of another name. */
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
}

/** The registry of the user's npm configuration, with a trailing slash. */
export async function userRegistry(): Promise<string> {
  const { stdout } = await promisify(execFile)('npm', ['config', 'get', 'registry'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  const url = new URL(stdout.trim());
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

/**
 * Resolves `spec` (e.g. `express@4.18.2`) and its whole tree on `registry`, in `dir`.
 * @returns one entry per distinct name@version, the root project left out, sorted by name.
 * @throws Error with npm's output when it fails, or when an entry has no tarball or integrity.
 */
export async function resolveTree(
  spec: string,
  registry: string,
  dir: string,
): Promise<TreeEntry[]> {
  const project = path.join(dir, 'project');
  await mkdir(project, { recursive: true });
  await writeFile(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'bench-tree', version: '1.0.0', private: true }),
  );
  const { env } = npmEnv(registry, { dir: path.join(dir, 'npm') });
  const res = await runNpm(['install', spec, '--package-lock-only', '--ignore-scripts'], {
    cwd: project,
    env,
  });
  if (res.code !== 0) {
    throw new Error(`npm could not resolve ${spec} (exit ${res.code}): ${res.stderr.slice(-1500)}`);
  }
  const lockfile = await readFile(path.join(project, 'package-lock.json'), 'utf8');
  const lock = JSON.parse(lockfile) as { packages?: Record<string, LockEntry> };
  const byKey = new Map<string, TreeEntry>();
  for (const [where, entry] of Object.entries(lock.packages ?? {})) {
    if (where === '') continue; // the project itself
    // an aliased dependency records its real name; otherwise the name is the install path
    const name =
      entry.name ?? where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const { version, resolved, integrity } = entry;
    if (!version || !resolved || !integrity) {
      throw new Error(`package-lock.json gives no version, tarball or integrity for ${where}`);
    }
    byKey.set(`${name}@${version}`, { name, version, resolved, integrity });
  }
  return [...byKey.values()].sort((a, b) => a.name.localeCompare(b.name));
}
