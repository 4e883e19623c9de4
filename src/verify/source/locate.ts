/**
 * Where a version's source should be: the repository URL from package.json in every form npm
 * accepts (`github:user/repo`, `user/repo`, `git+https://...`, `git@host:path`, an object with
 * `url` and `directory`), normalised to one clone URL, and the tag names a release of it is
 * usually given. Pure; depends on hosted-git-info.
 */
import hostedGitInfo from 'hosted-git-info';

export interface SourceRepository {
  /** The URL as package.json wrote it. */
  declared: string;
  /** A URL git can clone: `https://host/user/repo.git` for known hosts, else the URL cleaned. */
  url: string;
  /** The package's folder inside the repository (monorepos), `''` for the root. */
  directory: string;
}

export type LocateMethod = 'gitHead' | 'tag' | 'package-json-version';

/**
 * The repository a manifest declares, or why there is none to use.
 * @example repositoryOf({ repository: 'github:acme/x' }) // { url: 'https://github.com/acme/x.git', ... }
 */
export function repositoryOf(manifest: Record<string, unknown>): SourceRepository | string {
  const repo = manifest.repository;
  let declared: unknown;
  let directory: unknown;
  if (typeof repo === 'string') declared = repo;
  else if (repo && typeof repo === 'object' && !Array.isArray(repo)) {
    declared = (repo as Record<string, unknown>).url;
    directory = (repo as Record<string, unknown>).directory;
  }
  if (repo === undefined || repo === null) return 'no repository in package.json';
  if (typeof declared !== 'string' || declared.trim() === '') {
    return 'package.json has a repository without a url';
  }
  const url = cloneUrl(declared.trim());
  if (!url) return `the repository "${declared.slice(0, 200)}" is not a URL git can clone`;
  const dir = typeof directory === 'string' ? cleanDirectory(directory) : '';
  if (dir === undefined)
    return `the repository directory "${String(directory)}" leaves the repository`;
  return { declared, url, directory: dir };
}

/** One clone URL for any form npm accepts; undefined when it is none of them. */
export function cloneUrl(declared: string): string | undefined {
  const hosted = hostedGitInfo.fromUrl(declared);
  if (hosted) return hosted.https({ noCommittish: true, noGitPlus: true });
  let text = declared.replace(/^git\+/, '').replace(/#.*$/, '');
  // scp-like `user@host:path`
  const scp = /^([\w.-]+@)?([\w.-]+):([^\s/][^\s]*)$/.exec(text);
  if (scp && !text.includes('://') && (scp[2]?.length ?? 0) > 1) {
    text = `ssh://${scp[1] ?? ''}${scp[2]}/${scp[3]}`;
  }
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return undefined;
  }
  if (!['https:', 'http:', 'git:', 'ssh:', 'file:'].includes(parsed.protocol)) return undefined;
  parsed.hash = '';
  parsed.search = '';
  return parsed.href;
}

/** A repository-relative folder without `.`, `..` or leading slashes; undefined if it escapes. */
function cleanDirectory(dir: string): string | undefined {
  const parts: string[] = [];
  for (const part of dir.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return undefined;
    parts.push(part);
  }
  return parts.join('/');
}

/**
 * Tag names a release of `name@version` is given, most common first:
 * `v1.2.3`, `1.2.3`, `name@1.2.3`, `name-v1.2.3` (and the unscoped forms of a scoped name).
 */
export function tagCandidates(name: string, version: string): string[] {
  const bare = name.startsWith('@') ? (name.split('/')[1] ?? name) : name;
  const names = [...new Set([name, bare])];
  return [
    `v${version}`,
    version,
    ...names.map((n) => `${n}@${version}`),
    ...names.map((n) => `${n}-v${version}`),
    ...names.map((n) => `${n}@v${version}`),
    ...names.map((n) => `${n}-${version}`),
  ];
}
