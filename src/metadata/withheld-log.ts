/**
 * The operator's trace of withheld versions. Most clients answer a request for an exact version
 * that left the metadata with their own "no matching version" and never reach a tarball, so the
 * gate logs nothing for them: this logs one `warn` per package and verdict status when a document
 * with withheld versions is served,
 * `withheld <name>@<versions> (<status>): <reason>; report: <url>` (the newest version's reason
 * and report; statuses in the order of their newest version). A package logs again after `intervalMs`, or at once when its withheld set changes
 * (a version, a status or a reason). Depends on lru-cache and semver.
 */
import { LRUCache } from 'lru-cache';
import semver from 'semver';
import type { Logger } from '../log/logger';
import type { Status } from '../types';
import type { Restriction } from './steer';

/** Ten minutes: a CI fleet retrying an install does not flood the log. */
export const WITHHELD_LOG_INTERVAL_MS = 10 * 60_000;

export interface WithheldLogOptions {
  /** Default WITHHELD_LOG_INTERVAL_MS. */
  intervalMs?: number;
  /** Packages remembered at once; default 10,000 (older ones may log again early). */
  max?: number;
  /** The clock, epoch ms; default Date.now. */
  now?: () => number;
}

/** Logs the withheld versions of `name` unless the same set was logged within the interval. */
export type NoteWithheldFn = (
  name: string,
  restricted: Record<string, Restriction>,
  reportUrl: (version: string) => string,
) => void;

export function createWithheldLog(
  logger: Logger,
  options: WithheldLogOptions = {},
): NoteWithheldFn {
  const intervalMs = options.intervalMs ?? WITHHELD_LOG_INTERVAL_MS;
  if (!(intervalMs > 0)) throw new TypeError('intervalMs must be a positive number');
  const now = options.now ?? Date.now;
  const logged = new LRUCache<string, { key: string; at: number }>({ max: options.max ?? 10_000 });

  return (name, restricted, reportUrl) => {
    const versions = Object.keys(restricted).sort(newestFirst);
    if (versions.length === 0) return;
    const key = versions
      .map((v) => `${v}\u0000${restricted[v]?.status}\u0000${restricted[v]?.reason}`)
      .join('\u0001');
    const last = logged.get(name);
    if (last && last.key === key && now() - last.at < intervalMs) return;
    logged.set(name, { key, at: now() });
    const byStatus = new Map<Status, string[]>();
    for (const v of versions) {
      const status = restricted[v]?.status;
      if (status) byStatus.set(status, [...(byStatus.get(status) ?? []), v]);
    }
    for (const [status, list] of byStatus) {
      const newest = list[0] ?? '';
      logger.warn(
        {
          pkg: name,
          versions: list.join(','),
          verdict: status,
          reason: restricted[newest]?.reason ?? status,
          report: reportUrl(newest),
        },
        'withheld @{pkg}@@{versions} (@{verdict}): @{reason}; report: @{report}',
      );
    }
  };
}

function newestFirst(a: string, b: string): number {
  return semver.valid(a) && semver.valid(b) ? semver.rcompare(a, b) : a < b ? 1 : -1;
}
