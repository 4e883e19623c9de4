/**
 * Access to the upstream registry through pacote: full packuments and tarballs checked against
 * an expected integrity. Knows nothing of verdicts. Errors keep pacote's codes (`E404`,
 * `EINTEGRITY`) so the layers can tell a missing package from a tampered one.
 */
import pacote from 'pacote';
import type { Packument } from './packument';

export interface UpstreamOptions {
  /** Registry base URL, with a trailing slash. */
  registry: string;
  /** pacote's HTTP cache directory. */
  cache: string;
  /** Extra npm-registry-fetch options (auth for the upstream, timeouts). */
  fetchOptions?: Record<string, unknown>;
}

export interface Upstream {
  readonly registry: string;
  /** The full packument, fresh from the upstream (revalidated, never stale). */
  packument(name: string, signal?: AbortSignal): Promise<Packument>;
  /** The versions the upstream lists for `name` (abbreviated packument). */
  versions(name: string, signal?: AbortSignal): Promise<Set<string>>;
  /**
   * The tarball bytes, checked against `integrity`.
   * @throws pacote's `EINTEGRITY` error (with `expected` and `found`) when they do not match.
   */
  tarball(resolved: string, integrity: string, signal?: AbortSignal): Promise<Buffer>;
}

export function createUpstream(options: UpstreamOptions): Upstream {
  const registry = options.registry.endsWith('/') ? options.registry : `${options.registry}/`;
  const base = {
    registry,
    cache: options.cache,
    fullMetadata: true,
    preferOnline: true,
    fetchRetries: 1,
    timeout: 60_000,
    ...options.fetchOptions,
  };
  return {
    registry,
    async packument(name, signal) {
      return (await pacote.packument(name, {
        ...base,
        signal,
      } as pacote.Options)) as unknown as Packument;
    },
    async versions(name, signal) {
      const doc = await pacote.packument(name, {
        ...base,
        fullMetadata: false,
        preferOnline: false,
        signal,
      } as pacote.Options);
      return new Set(Object.keys(doc.versions ?? {}));
    },
    async tarball(resolved, integrity, signal) {
      return pacote.tarball(resolved, { ...base, integrity, signal } as pacote.Options);
    },
  };
}

/** The tarball URL of a version, as the packument gives it. */
export function tarballUrl(registry: string, name: string, version: string): string {
  const base = name.startsWith('@') ? name.split('/')[1] : name;
  return `${registry}${name}/-/${base}-${version}.tgz`;
}
