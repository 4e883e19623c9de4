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

/** @returns false when the upstream says no, undefined when it cannot be asked. */
export function createVersionCheck(upstream: Upstream): VersionExistsFn {
  const cache = new LRUCache<string, Listing>({
    max: 5_000,
    ttl: 60_000,
    fetchMethod: async (name) => {
      try {
        return { versions: await upstream.versions(name), at: Date.now() };
      } catch (err) {
        if (errorCode(err) === 'E404') return { versions: new Set<string>(), at: Date.now() };
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
