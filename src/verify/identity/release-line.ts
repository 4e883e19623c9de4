/**
 * A version against the earlier versions of its own release line (same major; for 0.x the same
 * minor), ordered by publish time: who published it, the maintainer set, trusted publishing,
 * provenance and signatures present before and missing now, the repository, new dependencies,
 * and the release pattern. Comparing across majors is where such tools raise false alarms, so
 * nothing here does.
 *
 * The baseline is the newest admitted version of the line, and the publishers who published
 * admitted versions of it: a version nobody admitted (a throwaway release held for review) must
 * not become the yardstick of the next one. When nothing in the line is admitted yet, the
 * earlier versions are the baseline, except that a publisher's own releases since they first
 * appeared in the line never vouch for them. Pure: reads only the packument and the admitted set.
 */
import semver from 'semver';
import type { Packument, PackumentVersion } from '../../registry/packument';
import type { Finding } from '../../types';
import { repositoryUrl, toRepositoryKey } from './repository';
import { checkPattern } from './release-pattern';
import { lineOf, maintainersOf, publisherOf, record, timeOf } from './versions';

/** A first-time publisher this soon after the usual publisher's last release is held. */
export const NEW_PUBLISHER_WINDOW_MS = 7 * 24 * 3600 * 1000;

export const NO_PUBLISHER_DATA = 'the registry gives no _npmUser/maintainers for this package';

export interface ReleaseLineCheck {
  findings: Finding[];
  /** Why the publisher comparison could not run; undefined when it ran. */
  publishersUnavailable?: string;
  /**
   * The version this one is compared with: the newest admitted earlier one in its line, else
   * the newest earlier one not published by a publisher new to the line since.
   */
  previous?: { version: string; manifest: PackumentVersion; publishedAt?: Date };
  /** `admitted`: the baseline is an admitted version; `earlier`: nothing in the line is. */
  basis?: 'admitted' | 'earlier';
  /** Earlier versions of the line published after the baseline, which it skips. */
  skipped: string[];
  publisher?: string;
  publishedAt?: Date;
  /** Dependencies this version has and the previous one did not. */
  newDependencies: string[];
}

export interface ReleaseLineOptions {
  /** Versions of the package admitted so far (verified or approved). Default: none. */
  admitted?: Iterable<string>;
}

/**
 * Compares `version` with its release line.
 * @example checkReleaseLine(packument, '1.0.4', { admitted: ['1.0.0', '1.0.2'] }).findings
 */
export function checkReleaseLine(
  packument: Packument,
  version: string,
  options: ReleaseLineOptions = {},
): ReleaseLineCheck {
  const versions = packument.versions ?? {};
  const manifest = versions[version] ?? {};
  const publishedAt = timeOf(packument, version);
  const line = lineOf(version);
  const earlier = Object.keys(versions)
    .filter((v) => v !== version && semver.valid(v) && lineOf(v) === line)
    .filter((v) => isBefore(packument, v, version))
    .sort((a, b) => order(packument, a, b));
  const base = baselineOf(packument, earlier, publisherOf(manifest), new Set(options.admitted));
  const prevVersion = base.pool.at(-1);
  const skipped = prevVersion ? earlier.slice(earlier.indexOf(prevVersion) + 1) : [];
  const previous = prevVersion
    ? {
        version: prevVersion,
        manifest: versions[prevVersion]!,
        publishedAt: timeOf(packument, prevVersion),
      }
    : undefined;
  const findings: Finding[] = [];
  const hasPublisherData = Object.values(versions).some(
    (m) => publisherOf(m) !== undefined || maintainersOf(m) !== undefined,
  );

  if (previous && hasPublisherData) {
    findings.push(...comparePublishers(packument, version, base.pool, previous, skipped));
  }
  if (hasPublisherData) findings.push(...checkPattern(packument, version, publishedAt));
  if (previous) findings.push(...compareDist(version, manifest, previous));
  if (previous) findings.push(...compareRepository(version, manifest, previous));

  const deps = (m: PackumentVersion) =>
    new Set([
      ...Object.keys(record(m.dependencies)),
      ...Object.keys(record(m.optionalDependencies)),
    ]);
  const before = previous ? deps(previous.manifest) : undefined;
  const newDependencies = before ? [...deps(manifest)].filter((d) => !before.has(d)) : [];

  return {
    findings,
    ...(hasPublisherData ? {} : { publishersUnavailable: NO_PUBLISHER_DATA }),
    ...(previous ? { previous, basis: base.basis } : {}),
    skipped,
    ...(publisherOf(manifest) ? { publisher: publisherOf(manifest) } : {}),
    ...(publishedAt ? { publishedAt } : {}),
    newDependencies,
  };
}

/**
 * Where the comparison starts. `pool` is the baseline versions, oldest first; its last is the
 * version compared with. Admitted versions of the line win. Without them, the earlier versions
 * are the pool, cut before the current publisher's first release when that publisher appeared
 * after another one without having published or maintained the line before: their own run of
 * releases (a throwaway first version, say) never makes them the baseline of the next.
 */
function baselineOf(
  packument: Packument,
  earlier: string[],
  publisher: string | undefined,
  admitted: ReadonlySet<string>,
): { pool: string[]; basis: 'admitted' | 'earlier' } {
  const admittedEarlier = earlier.filter((v) => admitted.has(v));
  if (admittedEarlier.length > 0) return { pool: admittedEarlier, basis: 'admitted' };
  const versions = packument.versions ?? {};
  const by = (v: string) => publisherOf(versions[v] ?? {});
  const lastOther = earlier.findLastIndex((v) => by(v) !== undefined && by(v) !== publisher);
  if (!publisher || lastOther < 0) return { pool: earlier, basis: 'earlier' };
  const upTo = earlier.slice(0, lastOther + 1);
  const known =
    upTo.some((v) => by(v) === publisher) ||
    (maintainersOf(versions[upTo.at(-1)!] ?? {}) ?? []).includes(publisher);
  return { pool: known ? earlier : upTo, basis: 'earlier' };
}

/**
 * Publisher, maintainers and trusted publishing against the baseline. How soon a new publisher
 * came is measured to their first release after the baseline, whatever they published since.
 */
function comparePublishers(
  packument: Packument,
  version: string,
  pool: string[],
  previous: NonNullable<ReleaseLineCheck['previous']>,
  skipped: string[],
): Finding[] {
  const versions = packument.versions ?? {};
  const manifest = versions[version] ?? {};
  const findings: Finding[] = [];
  const publisher = publisherOf(manifest);
  const prevPublisher = publisherOf(previous.manifest);
  if (publisher && prevPublisher && publisher !== prevPublisher) {
    const seen = pool.map((v) => publisherOf(versions[v] ?? {})).filter((p) => p !== undefined);
    const usual = mostCommon(seen);
    const prevMaintainers = maintainersOf(previous.manifest) ?? [];
    const since = skipped.filter((v) => publisherOf(versions[v] ?? {}) === publisher);
    const first = since[0] ?? version;
    const firstAt = timeOf(packument, first);
    const gap =
      firstAt && previous.publishedAt
        ? firstAt.getTime() - previous.publishedAt.getTime()
        : undefined;
    const hours = gap === undefined ? undefined : Math.round(gap / 36e5);
    const evidence = {
      version,
      publisher,
      previousVersion: previous.version,
      previousPublisher: prevPublisher,
      usualPublisher: usual,
      previousMaintainers: prevMaintainers,
      publishedSince: since,
      hoursSincePrevious: hours,
    };
    const firstTime = !seen.includes(publisher) && !prevMaintainers.includes(publisher);
    if (
      firstTime &&
      prevPublisher === usual &&
      gap !== undefined &&
      gap <= NEW_PUBLISHER_WINDOW_MS
    ) {
      const who = `was not a maintainer of ${previous.version}`;
      const message =
        since.length === 0
          ? `${version} was published by ${publisher}, who never published this line and ${who}, ${hours} h after ${prevPublisher} published ${previous.version}`
          : `${version} was published by ${publisher}, who published no admitted version of this line and ${who}; their first release since, ${first}, came ${hours} h after ${prevPublisher} published ${previous.version}`;
      findings.push({
        code: 'PUBLISHER_NEW_ACCOUNT',
        severity: 'high',
        message,
        evidence,
      });
    } else {
      findings.push({
        code: 'PUBLISHER_CHANGED',
        severity: 'medium',
        message: `${version} was published by ${publisher}; ${previous.version} by ${prevPublisher}${firstTime ? ` (${publisher} is new to this line)` : ''}`,
        evidence,
      });
    }
  }
  const now = maintainersOf(manifest);
  const before = maintainersOf(previous.manifest);
  if (now && before) {
    const added = now.filter((m) => !before.includes(m));
    const removed = before.filter((m) => !now.includes(m));
    if (added.length > 0 || removed.length > 0) {
      findings.push({
        code: 'MAINTAINERS_CHANGED',
        severity: 'low',
        message: `maintainers changed since ${previous.version}: ${[...added.map((m) => `+${m}`), ...removed.map((m) => `-${m}`)].join(', ')}`,
        evidence: { version, previousVersion: previous.version, added, removed },
      });
    }
  }
  if (trustedPublisherOf(previous.manifest) && !trustedPublisherOf(manifest)) {
    findings.push({
      code: 'TRUSTED_PUBLISHER_DROPPED',
      severity: 'high',
      message: `${previous.version} was published through trusted publishing; ${version} was not (by ${publisher ?? 'unknown'})`,
      evidence: {
        version,
        previousVersion: previous.version,
        trustedPublisher: trustedPublisherOf(previous.manifest),
      },
    });
  }
  return findings;
}

/**
 * Provenance and registry signatures present on the baseline and missing now. A field that is
 * there but unusable (`signatures: []`, `attestations: {}`) counts as missing.
 */
function compareDist(
  version: string,
  manifest: PackumentVersion,
  previous: NonNullable<ReleaseLineCheck['previous']>,
): Finding[] {
  const findings: Finding[] = [];
  const dist = record(manifest.dist);
  const prevDist = record(previous.manifest.dist);
  if (hasAttestations(prevDist) && !hasAttestations(dist)) {
    findings.push({
      code: 'PROVENANCE_DOWNGRADE',
      severity: 'high',
      message: `${previous.version} was published with provenance; ${version} has none`,
      evidence: { version, previousVersion: previous.version, attestations: dist.attestations },
    });
  }
  if (hasSignatures(prevDist) && !hasSignatures(dist)) {
    findings.push({
      code: 'SIGNATURE_MISSING',
      severity: 'high',
      message: `${previous.version} carries registry signatures; ${version} carries none`,
      evidence: { version, previousVersion: previous.version, signatures: dist.signatures },
    });
  }
  return findings;
}

/** `dist.signatures` as a non-empty list of `{ keyid, sig }` strings; anything else is none. */
export function hasSignatures(dist: Record<string, unknown>): boolean {
  const list = dist.signatures;
  return (
    Array.isArray(list) &&
    list.length > 0 &&
    list.every((e) => {
      const entry = record(e);
      return typeof entry.keyid === 'string' && entry.keyid !== '' && isText(entry.sig);
    })
  );
}

/** `dist.attestations` with a url and the provenance's predicate type; anything else is none. */
export function hasAttestations(dist: Record<string, unknown>): boolean {
  const attestations = record(dist.attestations);
  return isText(attestations.url) && isText(record(attestations.provenance).predicateType);
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function compareRepository(
  version: string,
  manifest: PackumentVersion,
  previous: NonNullable<ReleaseLineCheck['previous']>,
): Finding[] {
  const now = repositoryUrl(manifest);
  const before = repositoryUrl(previous.manifest);
  if (!before || toRepositoryKey(now) === toRepositoryKey(before)) return [];
  return [
    {
      code: 'REPOSITORY_CHANGED',
      severity: 'medium',
      message: `the repository changed from ${before} (${previous.version}) to ${now ?? 'none'}`,
      evidence: {
        version,
        repository: now,
        previousVersion: previous.version,
        previousRepository: before,
      },
    },
  ];
}

function isBefore(packument: Packument, a: string, b: string): boolean {
  const ta = timeOf(packument, a);
  const tb = timeOf(packument, b);
  return ta && tb ? ta < tb : semver.lt(a, b);
}

function order(packument: Packument, a: string, b: string): number {
  const ta = timeOf(packument, a);
  const tb = timeOf(packument, b);
  return ta && tb ? ta.getTime() - tb.getTime() : semver.compare(a, b);
}

function trustedPublisherOf(m: PackumentVersion): unknown {
  return record(m._npmUser).trustedPublisher;
}

function mostCommon(items: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(i, (counts.get(i) ?? 0) + 1);
  // ties go to the most recent publisher
  return [...items]
    .reverse()
    .reduce<string | undefined>(
      (best, i) => (best === undefined || counts.get(i)! > counts.get(best)! ? i : best),
      undefined,
    );
}
