/**
 * Metadata steering: the view of a packument that makes clients resolve to admitted versions.
 * Versions that are held, rejected, denied or revoked leave `versions` and are listed with their
 * reason under npm's `policyRestrictions` (npm RFC 0015); every dist-tag that pointed at one
 * moves to the newest admitted version of the same major line, `latest` always kept; `time`
 * keeps only the versions served. Versions vetted has not decided on (unknown, pending) stay;
 * the one `latest` points at is reported, to be verified before clients ask for it.
 * Pure: the caller supplies the verdicts. No Verdaccio types here.
 */
import semver from 'semver';
import type { Status } from '../types';
import { isAdmitted } from '../types';

/** The statuses whose versions leave the served metadata. */
export const WITHHELD: ReadonlySet<Status> = new Set<Status>([
  'held',
  'rejected',
  'denied',
  'revoked',
]);

/** What vetted knows about one version: its status and the first reason, if decided. */
export interface VersionVerdict {
  status: Status;
  reason?: string;
}

/** A packument as the steering reads it; other fields pass through untouched. */
export interface Packument {
  name?: string;
  versions?: Record<string, Record<string, unknown>>;
  'dist-tags'?: Record<string, string>;
  time?: Record<string, string>;
  [field: string]: unknown;
}

export interface Restriction {
  status: Status;
  reason: string;
  manifest: Record<string, unknown>;
}

export interface SteerResult {
  /** Withheld versions with their manifests, by version. */
  restricted: Record<string, Restriction>;
  /** dist-tags that now point elsewhere: tag -> [from, to]; `to` undefined when dropped. */
  retargeted: Record<string, [string, string | undefined]>;
  /** The undecided version `latest` points at (to verify in the background). */
  unknownTargets: string[];
  /** A digest input of every verdict that shaped this view. */
  verdictKey: string;
}

/**
 * Steers `doc` in place and returns what it changed.
 *
 * @example
 *   const result = steerPackument(doc, (v) => verdicts.get(v));
 *   // doc.versions no longer has held versions; result.restricted has them
 */
export function steerPackument(
  doc: Packument,
  verdictOf: (version: string) => VersionVerdict | undefined,
): SteerResult {
  const versions = doc.versions ?? {};
  const restricted: Record<string, Restriction> = {};
  const keyParts: string[] = [];
  const admitted: string[] = [];
  for (const version of Object.keys(versions)) {
    const verdict = verdictOf(version);
    keyParts.push(`${version}:${verdict?.status ?? 'unknown'}`);
    if (verdict && WITHHELD.has(verdict.status)) {
      restricted[version] = {
        status: verdict.status,
        reason: verdict.reason ?? verdict.status,
        manifest: versions[version] ?? {},
      };
      delete versions[version];
      if (doc.time) delete doc.time[version];
    } else if (verdict && isAdmitted(verdict.status)) {
      admitted.push(version);
    }
  }

  const tags = doc['dist-tags'] ?? {};
  const retargeted: SteerResult['retargeted'] = {};
  const unknownTargets = new Set<string>();
  for (const [tag, target] of Object.entries(tags)) {
    if (Object.hasOwn(versions, target)) {
      // only `latest`: some packages carry dozens of tags, and each job runs the sandbox
      if (tag === 'latest' && !verdictOf(target)) unknownTargets.add(target);
      continue;
    }
    const replacement = replacementFor(target, admitted, Object.keys(versions), tag === 'latest');
    if (replacement) tags[tag] = replacement;
    else delete tags[tag];
    if (replacement && tag === 'latest' && !verdictOf(replacement)) unknownTargets.add(replacement);
    retargeted[tag] = [target, replacement];
  }
  if (Object.keys(versions).length > 0) doc['dist-tags'] = tags;
  return {
    restricted,
    retargeted,
    unknownTargets: [...unknownTargets],
    verdictKey: keyParts.sort().join(','),
  };
}

/**
 * The newest admitted version on the same major line as `target` (prereleases only when the
 * target is one). For `latest`, which must always exist, then the newest admitted release of
 * any line, then the newest version still served.
 */
function replacementFor(
  target: string,
  admitted: string[],
  remaining: string[],
  mustExist: boolean,
): string | undefined {
  const parsed = semver.parse(target);
  const sameLine = (v: string) => {
    const p = semver.parse(v);
    if (!p || !parsed || p.major !== parsed.major) return false;
    return parsed.prerelease.length > 0 || p.prerelease.length === 0;
  };
  const newest = (list: string[]) => list.filter((v) => semver.valid(v)).sort(semver.rcompare)[0];
  const candidate = newest(admitted.filter(sameLine));
  if (candidate || !mustExist) return candidate;
  const releases = (list: string[]) => list.filter((v) => semver.prerelease(v) === null);
  return (
    newest(releases(admitted)) ??
    newest(admitted) ??
    newest(releases(remaining)) ??
    newest(remaining)
  );
}

/** npm's `policyRestrictions.message`: one line per withheld version, worded as the 403s. */
export function restrictionMessage(
  name: string,
  restricted: Record<string, Restriction>,
  reportUrl: (version: string) => string,
  statusWords: Record<Status, string>,
): string {
  return Object.entries(restricted)
    .sort(([a], [b]) => (semver.valid(a) && semver.valid(b) ? semver.compare(a, b) : 0))
    .map(([v, r]) => `${name}@${v} ${statusWords[r.status]}: ${r.reason}. Report: ${reportUrl(v)}`)
    .join('\n');
}
