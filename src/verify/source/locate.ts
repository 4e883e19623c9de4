/**
 * Where a version's source should be: the repository URL from package.json in every form npm
 * accepts (`github:user/repo`, `user/repo`, `git+https://...`, `git@host:path`, an object with
 * `url` and `directory`), normalised to one clone URL, and the tag names a release of it is
 * usually given, and the URL to clone: a `sources.mirrors` rule's when one matches, else the
 * declared one only if it reaches a public host (never `file:`, loopback, private or link-local
 * addresses, `localhost` or single-label names: a manifest must not make vetted clone
 * something of the server's own network into a report). Pure; depends on hosted-git-info.
 */
import { isIP } from 'node:net';
import hostedGitInfo from 'hosted-git-info';
import { applyMirrors } from './mirrors';
import type { MirrorRule } from './mirrors';

export interface SourceRepository {
  /** The URL as package.json wrote it. */
  declared: string;
  /** A URL git can clone: `https://host/user/repo.git` for known hosts, else the URL cleaned. */
  url: string;
  /** What is cloned: `url` through the mirror rules, or `url` itself when it is public. */
  clone: string;
  /** The package's folder inside the repository (monorepos), `''` for the root. */
  directory: string;
}

export type LocateMethod = 'gitHead' | 'tag' | 'package-json-version';

/**
 * The repository a manifest declares, or why there is none to use.
 * @example repositoryOf({ repository: 'github:acme/x' }) // { url: 'https://github.com/acme/x.git', ... }
 */
export function repositoryOf(
  manifest: Record<string, unknown>,
  mirrors: readonly MirrorRule[] = [],
): SourceRepository | string {
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
  const mapped = applyMirrors(url, mirrors);
  if (!mapped.mirror) {
    const why = nonPublicReason(url);
    if (why) return `the repository "${declared.slice(0, 200)}" is not cloned: ${why}`;
  }
  const dir = typeof directory === 'string' ? cleanDirectory(directory) : '';
  if (dir === undefined)
    return `the repository directory "${String(directory)}" leaves the repository`;
  return { declared, url, clone: mapped.url, directory: dir };
}

/** Local names: never a public host. */
const LOCAL_SUFFIXES = ['.localhost', '.local', '.localdomain', '.internal', '.home.arpa', '.lan'];

/**
 * Why a clone URL from a manifest does not reach a public host (undefined when it does):
 * `file:`, `localhost`, a single-label or local name, a loopback, private, link-local, shared
 * or reserved address literal (IPv4 in any spelling, IPv6). Names are not resolved here.
 */
export function nonPublicReason(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (!['https:', 'http:', 'git:', 'ssh:'].includes(parsed.protocol)) {
    return `${parsed.protocol} URLs are only cloned through a sources.mirrors rule`;
  }
  const host = parsed.hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  const local = `${host} is not a public host (only cloned through a sources.mirrors rule)`;
  if (host === '' || host.startsWith('-') || !/^[a-z0-9.:_-]+$/.test(host)) return local;
  if (isIP(host) === 6) return isPublicIPv6(host) ? undefined : local;
  const labels = host.split('.');
  // 127.1, 0x7f.1, 2130706433: a resolver reads all of them as an IPv4 address
  if (/^(0x[0-9a-f]*|[0-9]+)$/.test(labels[labels.length - 1] ?? '')) {
    return isIP(host) === 4 && isPublicIPv4(host) ? undefined : local;
  }
  if (labels.length < 2 || host === 'localhost') return local;
  if (LOCAL_SUFFIXES.some((s) => host.endsWith(s))) return local;
  return undefined;
}

function isPublicIPv4(ip: string): boolean {
  const [a = 0, b = 0] = ip.split('.').map(Number);
  return !(
    a === 0 ||
    a === 10 ||
    a === 127 ||
    a >= 224 ||
    (a === 100 && b >= 64 && b < 128) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b < 32) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19))
  );
}

function isPublicIPv6(ip: string): boolean {
  if (ip === '::' || ip === '::1') return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (mapped?.[1]) return isPublicIPv4(mapped[1]);
  if (ip.startsWith('::ffff:')) return false;
  const first = parseInt(ip.split(':')[0] || '0', 16);
  // fc00::/7 unique local, fe80::/10 link-local, ff00::/8 multicast
  return !((first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || first >= 0xff00);
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
