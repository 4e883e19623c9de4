/**
 * The git side of the source layer: a cache of bare clones under `<home>/sources/` (one per
 * repository URL, fetched again instead of cloned) holding only the repository's branches and
 * tags (`refs/heads/*`, `refs/tags/*`: never `refs/pull/*` or other refs anyone may push to),
 * finding the commit of a release (gitHead, else a tag, else the newest commit whose
 * package.json has the version) and whether a branch or tag holds it, and a checkout of that
 * commit into a work directory.
 *
 * Remote hosts are slow to fail when they cannot be reached, so every git call runs without
 * prompts (GIT_TERMINAL_PROMPT=0, ssh BatchMode), with http low-speed limits and a hard kill
 * timer; ./host-breaker probes a remote host before a clone or fetch and skips a host that
 * failed, so a tree of packages that all live on an unreachable host does not wait on it once
 * per package. Depends on ./run-bounded, ./mirrors and ./host-breaker.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { devNull } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostOf } from './mirrors';
import type { HostBreaker } from './host-breaker';
import { runBounded, tailOf } from '../../run-bounded';
import type { BoundedRunResult } from '../../run-bounded';
import { tagCandidates } from './locate';
import type { LocateMethod } from './locate';

export interface GitOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  env?: Record<string, string>;
}

/** A git environment that never prompts, reads no user or system config, runs no hooks. */
export function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/nonexistent',
    LANG: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: devNull,
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=10',
  };
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

/** `-c` settings on every call: bounded http transfers, no hooks, no `ext::` transport. */
const SAFE_CONFIG = [
  '-c',
  'http.lowSpeedLimit=1000',
  '-c',
  'http.lowSpeedTime=20',
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'protocol.ext.allow=never',
  '-c',
  'core.fsmonitor=false',
];

export function runGit(args: string[], options: GitOptions): Promise<BoundedRunResult> {
  return runBounded('git', [...SAFE_CONFIG, ...args], {
    env: gitEnv(options.env),
    timeoutMs: options.timeoutMs,
    signal: options.signal,
  });
}

/** What a clone and a fetch take: branches and tags, nothing else the host may serve. */
const REFSPECS = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];

export interface MirrorResult {
  gitDir: string;
  /** Whether it was cloned or fetched now (false: the cached copy was used as it was). */
  updated: boolean;
  durationMs: number;
}

/**
 * The cached bare mirror of `url` under `root`, cloned on first use. With `fetch`, an existing
 * mirror is fetched again; a fetch that fails keeps the cached copy (`updated: false`).
 * Returns why it cannot be had (unreachable host, clone failed, timed out) as a string.
 */
export async function ensureMirror(
  root: string,
  url: string,
  fetch: boolean,
  breaker: HostBreaker,
  options: GitOptions,
): Promise<MirrorResult | string> {
  const started = performance.now();
  const gitDir = path.join(
    root,
    `${createHash('sha256').update(url).digest('hex').slice(0, 24)}.git`,
  );
  const host = hostOf(url);
  const elapsed = () => Math.round(performance.now() - started);
  if (existsSync(path.join(gitDir, 'HEAD'))) {
    if (!fetch) return { gitDir, updated: false, durationMs: 0 };
    const skipped = await breaker.probe(url);
    if (skipped) return { gitDir, updated: false, durationMs: elapsed() };
    const res = await runGit(
      ['--git-dir', gitDir, 'fetch', '--quiet', '--prune', '--no-tags', 'origin', ...REFSPECS],
      options,
    );
    if (res.code !== 0 && host !== 'local') breaker.trip(host, `fetching from ${host} failed`);
    // a clone made by an older vetted with --mirror holds refs/pull/* and the like
    await dropOtherRefs(gitDir, options);
    return { gitDir, updated: res.code === 0, durationMs: elapsed() };
  }
  if (url.startsWith('file:') && !existsSync(fileURLToPath(url))) {
    return `the repository ${url} does not exist`;
  }
  const skipped = await breaker.probe(url);
  if (skipped) return skipped;
  await mkdir(root, { recursive: true });
  const staging = `${gitDir}.${process.pid}.${Date.now()}.tmp`;
  const res = await cloneBranchesAndTags(url, staging, options);
  if (res.code !== 0) {
    await rm(staging, { recursive: true, force: true });
    const why = res.timedOut
      ? `cloning ${url} did not finish in ${Math.round(options.timeoutMs / 1000)} s`
      : `cloning ${url} failed: ${tailOf(res.stderr, 2)}`;
    if (host !== 'local') breaker.trip(host, why);
    return why;
  }
  await rename(staging, gitDir).catch(async () => {
    // another job cloned it first; theirs is as good
    await rm(staging, { recursive: true, force: true });
  });
  return { gitDir, updated: true, durationMs: elapsed() };
}

/** A bare repository with `url` as origin and its branches and tags fetched. */
async function cloneBranchesAndTags(
  url: string,
  dir: string,
  options: GitOptions,
): Promise<BoundedRunResult> {
  const init = await runGit(['init', '--quiet', '--bare', dir], options);
  if (init.code !== 0) return init;
  const set = await runGit(['--git-dir', dir, 'config', 'remote.origin.url', url], options);
  if (set.code !== 0) return set;
  return runGit(
    ['--git-dir', dir, 'fetch', '--quiet', '--no-tags', 'origin', ...REFSPECS],
    options,
  );
}

/** Deletes every ref outside refs/heads and refs/tags. */
async function dropOtherRefs(gitDir: string, options: GitOptions): Promise<void> {
  const refs = await runGit(['--git-dir', gitDir, 'for-each-ref', '--format=%(refname)'], options);
  const other = refs.stdout
    .split('\n')
    .filter((r) => r && !r.startsWith('refs/heads/') && !r.startsWith('refs/tags/'));
  if (other.length === 0) return;
  await runBounded('git', [...SAFE_CONFIG, '--git-dir', gitDir, 'update-ref', '--stdin'], {
    env: gitEnv(options.env),
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    input: other.map((r) => `delete ${r}\n`).join(''),
  });
}

export interface LocatedSource {
  commit: string;
  method: LocateMethod;
  /** The release tag, when one names this version (found by tag, or pointing at gitHead). */
  tag?: string;
  /** gitHead from the packument when the repository does not have it. */
  missingGitHead?: string;
  /** gitHead is in the clone but on no branch or tag (a pull request's ref, say). */
  unreachable?: true;
  /** The release tag of this version points at another commit than gitHead. */
  tagMismatch?: { tag: string; commit: string };
}

/**
 * The commit of `name@version` in the mirror: gitHead, else a release tag, else the newest
 * commit whose `<directory>/package.json` has the version. Undefined when none is found.
 */
export async function findSource(
  gitDir: string,
  want: { name: string; version: string; gitHead?: string; directory: string },
  options: GitOptions,
): Promise<LocatedSource | undefined> {
  const git = (...args: string[]) => runGit(['--git-dir', gitDir, ...args], options);
  const tags = await releaseTags(gitDir, want.name, want.version, options);
  let missingGitHead: string | undefined;
  if (want.gitHead && /^[0-9a-f]{7,64}$/i.test(want.gitHead)) {
    const res = await git('rev-parse', '--verify', '--quiet', `${want.gitHead}^{commit}`);
    const commit = res.stdout.trim();
    if (res.code === 0 && commit) {
      const tag = tags.find((t) => t.commit === commit)?.name;
      const first = tags[0];
      return {
        commit,
        method: 'gitHead',
        ...(tag ? { tag } : {}),
        ...(!tag && first ? { tagMismatch: { tag: first.name, commit: first.commit } } : {}),
        ...((await isReachable(gitDir, commit, options)) ? {} : { unreachable: true }),
      };
    }
    missingGitHead = want.gitHead;
  }
  const extra = missingGitHead ? { missingGitHead } : {};
  const first = tags[0];
  if (first) return { commit: first.commit, method: 'tag', tag: first.name, ...extra };

  const file = want.directory ? `${want.directory}/package.json` : 'package.json';
  // only history a branch or tag holds
  const log = await git('log', '--branches', '--tags', '--format=%H', '-n', '2000', '--', file);
  for (const commit of log.stdout.split('\n').filter(Boolean)) {
    const shown = await git('show', `${commit}:${file}`);
    if (shown.code !== 0) continue;
    try {
      const pkg = JSON.parse(shown.stdout) as { name?: unknown; version?: unknown };
      if (pkg.version === want.version && (pkg.name === undefined || pkg.name === want.name)) {
        return { commit, method: 'package-json-version', ...extra };
      }
    } catch {
      // not JSON at that commit
    }
  }
  return undefined;
}

/** Whether a branch or tag of the clone holds `commit`. */
export async function isReachable(
  gitDir: string,
  commit: string,
  options: GitOptions,
): Promise<boolean> {
  const res = await runGit(
    [
      '--git-dir',
      gitDir,
      'for-each-ref',
      '--count=1',
      `--contains=${commit}`,
      '--format=%(refname)',
      'refs/heads',
      'refs/tags',
    ],
    options,
  );
  return res.code === 0 && res.stdout.trim() !== '';
}

/** The candidate tags that exist, in candidate order, with the commit each points at. */
async function releaseTags(
  gitDir: string,
  name: string,
  version: string,
  options: GitOptions,
): Promise<Array<{ name: string; commit: string }>> {
  const res = await runGit(
    [
      '--git-dir',
      gitDir,
      'for-each-ref',
      '--format=%(refname:strip=2) %(*objectname) %(objectname)',
      'refs/tags',
    ],
    options,
  );
  const byName = new Map<string, string>();
  for (const line of res.stdout.split('\n')) {
    const [tag, peeled, own] = line.split(' ');
    if (tag) byName.set(tag, peeled || own || '');
  }
  return tagCandidates(name, version)
    .filter((t) => byName.has(t))
    .map((t) => ({ name: t, commit: byName.get(t) ?? '' }));
}

/** Files of `commit` (paths from the repository root), for telling sources from build output. */
export async function listTree(
  gitDir: string,
  commit: string,
  options: GitOptions,
): Promise<Set<string>> {
  const res = await runGit(['--git-dir', gitDir, 'ls-tree', '-r', '-z', '--name-only', commit], {
    ...options,
  });
  return new Set(res.stdout.split('\0').filter(Boolean));
}

/**
 * Writes the files of `commit` into `dest` (no .git, no hooks, the mirror untouched): a private
 * index is filled from the commit and checked out.
 * @returns why it failed, or undefined.
 */
export async function checkoutCommit(
  gitDir: string,
  commit: string,
  dest: string,
  options: GitOptions,
): Promise<string | undefined> {
  await mkdir(dest, { recursive: true });
  const index = path.join(path.dirname(dest), `.vetted-index-${process.pid}-${Date.now()}`);
  const env = { ...options.env, GIT_INDEX_FILE: index };
  const base = ['--git-dir', gitDir, '--work-tree', dest];
  try {
    const read = await runGit([...base, 'read-tree', commit], { ...options, env });
    if (read.code !== 0) return `git read-tree ${commit}: ${tailOf(read.stderr, 2)}`;
    const out = await runGit([...base, 'checkout-index', '--all', '--force'], { ...options, env });
    if (out.code !== 0) return `git checkout-index ${commit}: ${tailOf(out.stderr, 2)}`;
    return undefined;
  } finally {
    await rm(index, { force: true });
  }
}
