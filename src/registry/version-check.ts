/**
 * Whether a version exists upstream, answered from a short-lived cache of each package's
 * version list (abbreviated packument). It keeps junk version requests from costing an upstream
 * fetch and a queued job each. A version missing from a list older than a few seconds is
 * checked once more, so a release published a moment ago is not refused.
 */
import { LRUCache } from 'lru-cache';
import type { Upstream } from './upstream';
import { errorCode } from '../errors';

export type VersionExistsFn = (name: string, version: string) => Promise<boolean | undefined>;

interface Listing {
  versions: ReadonlySet<string>;
  at: number;
}

const RECHECK_AFTER_MS = 5_000;

/**
 * @returns false when the upstream says no (404, or another 4xx such as 401 or 403 for a name it
 * will not serve), undefined when it cannot be asked (no answer, 5xx, 408, 429).
 */
export function createVersionCheck(upstream: Upstream): VersionExistsFn {
  const cache = new LRUCache<string, Listing>({
    max: 5_000,
    ttl: 60_000,
    fetchMethod: async (name) => {
      try {
        return { versions: await upstream.versions(name), at: Date.now() };
      } catch (err) {
        // the upstream answered, and its answer is no: not found, or refused (401, 403, 400...)
        if (isRefusal(err)) return { versions: new Set<string>(), at: Date.now() };
        return undefined;
      }
    },
  });
  return async (name, version) => {
    let listing = await cache.fetch(name);
    if (listing && !listing.versions.has(version) && Date.now() - listing.at > RECHECK_AFTER_MS) {
      listing = await cache.fetch(name, { forceRefresh: true });
    }
    return listing ? listing.versions.has(version) : undefined;
  };
}

/** A 4xx answer other than the transient ones (408 timeout, 429 rate limit). */
function isRefusal(err: unknown): boolean {
  if (errorCode(err) === 'E404') return true;
  const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return (
    typeof status === 'number' && status >= 400 && status < 500 && ![408, 429].includes(status)
  );
}
