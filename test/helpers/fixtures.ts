/**
 * Test packages as real git repositories, published with real npm, and a way to corrupt what a
 * plain Verdaccio upstream serves.
 *
 * Git runs with the system and global config ignored, so signing or hooks set up on the machine
 * do not change the commits. Depends on: `git` on PATH, ./npm, `tar`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { devNull, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { npmEnv, runNpm } from './npm';

export interface GitPackageSpec {
  name: string;
  version: string;
  /** Files to write, by path relative to the package root. Default: an `index.js`. */
  files?: Record<string, string>;
  /** Merged over the generated package.json (name, version, description, main, license). */
  packageJson?: Record<string, unknown>;
}

export interface PublishOptions {
  /** dist-tag passed to `npm publish --tag`; npm 11 requires one for prereleases. */
  tag?: string;
}

const execFileAsync = promisify(execFile);

const GIT_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: devNull,
  GIT_TERMINAL_PROMPT: '0',
};

/**
 * Creates `<root>/<name>` (scope `@a/b` becomes `a__b`) holding the package, as a git
 * repository with one commit.
 *
 * @returns the package directory.
 * @throws when the directory already exists or git fails.
 * @example
 *   const dir = await createGitPackage(root, { name: 'vt-a', version: '1.0.0' });
 */
export async function createGitPackage(root: string, pkg: GitPackageSpec): Promise<string> {
  const dir = path.join(root, pkg.name.replace(/^@/, '').replace('/', '__'));
  await mkdir(root, { recursive: true });
  await mkdir(dir);
  const manifest = {
    name: pkg.name,
    version: pkg.version,
    description: `vetted test fixture ${pkg.name}`,
    main: 'index.js',
    license: 'MIT',
    ...pkg.packageJson,
  };
  await writePackageJson(dir, manifest);
  await writeFiles(dir, pkg.files ?? { 'index.js': `module.exports = '${pkg.name}';\n` });

  await git(dir, 'init', '--quiet', '--initial-branch=main');
  await git(dir, 'config', 'user.name', 'Vetted Test');
  await git(dir, 'config', 'user.email', 'vetted-test@example.invalid');
  await git(dir, 'config', 'commit.gpgsign', 'false');
  await commitAll(dir, pkg.version);
  return dir;
}

/** Sets `version` in package.json, writes `files`, and commits, so the repo can publish again. */
export async function bumpVersion(
  dir: string,
  version: string,
  files?: Record<string, string>,
): Promise<void> {
  const manifest = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  await writePackageJson(dir, { ...manifest, version });
  if (files !== undefined) await writeFiles(dir, files);
  await commitAll(dir, version);
}

/**
 * Runs `npm publish` in the git checkout `dir`, so the published version records `gitHead`.
 *
 * @throws with npm's output when the publish fails.
 */
export async function publishPackage(
  dir: string,
  registryUrl: string,
  token: string,
  opts: PublishOptions = {},
): Promise<void> {
  const npmDir = await mkdtemp(path.join(tmpdir(), 'vetted-publish-'));
  try {
    const { env } = npmEnv(registryUrl, { token, dir: npmDir });
    const args = ['publish', ...(opts.tag === undefined ? [] : ['--tag', opts.tag])];
    const res = await runNpm(args, { cwd: dir, env });
    if (res.code !== 0) {
      const output = `--- stdout\n${res.stdout}\n--- stderr\n${res.stderr}`;
      throw new Error(`npm publish in ${dir} exited ${res.code}\n${output}`);
    }
  } finally {
    await rm(npmDir, { recursive: true, force: true });
  }
}

/**
 * Replaces the tarball a plain Verdaccio stored for `name@version` with another valid tarball
 * of the same package.json plus a `payload.js`, so the bytes served no longer match the
 * packument's `dist.integrity`.
 *
 * Verdaccio 6.8 keeps a package in `<storage>/<name>/` (a scope is a directory level:
 * `<storage>/@scope/pkg/`) and the tarball under the last path segment of `dist.tarball`
 * (`pkg-1.0.0.tgz`, without the scope).
 * @throws when the stored packument or tarball is missing.
 */
export async function tamperUpstreamTarball(
  storage: string,
  name: string,
  version: string,
): Promise<void> {
  const pkgDir = path.join(storage, ...name.split('/'));
  const stored = JSON.parse(await readFile(path.join(pkgDir, 'package.json'), 'utf8')) as {
    versions?: Record<string, { dist?: { tarball?: string; integrity?: string } }>;
  };
  const dist = stored.versions?.[version]?.dist;
  if (dist?.tarball === undefined) {
    throw new Error(`no dist.tarball for ${name}@${version} in ${pkgDir}/package.json`);
  }
  const file = path.join(pkgDir, path.posix.basename(new URL(dist.tarball).pathname));
  if (!existsSync(file)) {
    const listing = (await readdir(pkgDir)).join(', ');
    throw new Error(`tarball ${file} not found; ${pkgDir} holds: ${listing}`);
  }

  const work = await mkdtemp(path.join(tmpdir(), 'vetted-tamper-'));
  try {
    await tar.x({ file, cwd: work });
    await writeFile(path.join(work, 'package', 'payload.js'), "require('child_process');\n");
    const replacement = path.join(work, 'tampered.tgz');
    await tar.c({ gzip: true, portable: true, cwd: work, file: replacement }, ['package']);
    const bytes = await readFile(replacement);
    const integrity = `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
    if (integrity === dist.integrity) throw new Error('tampered tarball has the same integrity');
    // Same directory as the target, so the swap is one atomic rename.
    const staged = `${file}.tampered`;
    await writeFile(staged, bytes);
    await rename(staged, file);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function git(cwd: string, ...args: string[]): Promise<void> {
  try {
    await execFileAsync('git', args, { cwd, env: GIT_ENV });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`git ${args.join(' ')} in ${cwd}: ${stderr}`, { cause: err });
  }
}

async function commitAll(dir: string, version: string): Promise<void> {
  await git(dir, 'add', '--all');
  await git(dir, 'commit', '--quiet', '--message', `v${version}`);
}

async function writePackageJson(dir: string, manifest: Record<string, unknown>): Promise<void> {
  await writeFile(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
}

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const target = path.join(dir, rel);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}
