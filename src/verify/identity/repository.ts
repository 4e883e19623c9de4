/**
 * One comparable form for a repository URL, so `git://github.com/a/b`, `git+https://github.com/
 * a/b.git` and `github:a/b` compare equal. Hosted repositories (GitHub, GitLab, Bitbucket...) go
 * through hosted-git-info; anything else is lowercased with its scheme, `git+`, `.git` and a
 * trailing slash removed.
 */
import hostedGitInfo from 'hosted-git-info';

/** The `repository` field of a manifest as a URL string, or undefined. */
export function repositoryUrl(manifest: Record<string, unknown>): string | undefined {
  const repo = manifest.repository;
  if (typeof repo === 'string') return repo;
  if (repo && typeof repo === 'object' && typeof (repo as { url?: unknown }).url === 'string') {
    return (repo as { url: string }).url;
  }
  return undefined;
}

/**
 * `github.com/owner/project` style key, lowercased; undefined for an empty value.
 * @example toRepositoryKey('git+https://github.com/npm/wrappy.git') // 'github.com/npm/wrappy'
 */
export function toRepositoryKey(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const hosted = hostedGitInfo.fromUrl(url.replace(/@refs\/.*$/, ''));
  if (hosted?.domain && hosted.user && hosted.project) {
    return `${hosted.domain}/${hosted.user}/${hosted.project}`.toLowerCase();
  }
  const plain = url
    .trim()
    .replace(/^git\+/, '')
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/^[^@/]+@/, '')
    .replace(/@refs\/.*$/, '')
    .replace(/\.git$/, '')
    .replace(/\/+$/, '')
    .toLowerCase();
  return plain || undefined;
}
