/**
 * Repository URLs mapped to internal git mirrors (`sources.mirrors` in the options): the
 * longest `from` prefix that matches wins and is replaced by its `to`. A deployment without
 * access to public hosts maps `https://github.com/` to its own git server or a directory of
 * bare repositories. Pure; depends on nothing.
 */

export interface MirrorRule {
  /** A URL prefix as `locate` spells repository URLs, e.g. `https://github.com/acme/`. */
  from: string;
  /** What replaces it: `https://git.corp/mirror/github/acme/`, `file:///srv/git/acme/`. */
  to: string;
}

/**
 * The URL to clone: `url` with its longest matching mirror prefix replaced, else `url`.
 * @example applyMirrors('https://github.com/acme/x.git', [{ from: 'https://github.com/', to: 'file:///srv/' }])
 *   // 'file:///srv/acme/x.git'
 */
export function applyMirrors(
  url: string,
  rules: readonly MirrorRule[],
): { url: string; mirror?: MirrorRule } {
  let best: MirrorRule | undefined;
  for (const rule of rules) {
    if (!url.startsWith(rule.from)) continue;
    if (!best || rule.from.length > best.from.length) best = rule;
  }
  if (!best) return { url };
  return { url: best.to + url.slice(best.from.length), mirror: best };
}

/** The host a clone URL reaches, as the circuit breaker names it (`local` for files). */
export function hostOf(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'file:') return 'local';
    return parsed.port ? `${parsed.hostname}:${parsed.port}` : parsed.hostname;
  } catch {
    return url;
  }
}
