/**
 * A version against the earlier versions of its own release line (same major; for 0.x the same
 * minor), ordered by publish time: who published it, the maintainer set, trusted publishing,
 * provenance and signatures present before and missing now, the repository, new dependencies,
 * and the release pattern. Comparing across majors is where such tools raise false alarms, so
 * nothing here does. Pure: reads only the packument.
 */
import semver from 'semver';
import type { Packument, PackumentVersion } from '../../registry/packument';
import type { Finding } from '../../types';
import { repositoryUrl, toRepositoryKey } from './repository';

/** A first-time publisher this soon after the usual publisher's last release is held. */
export const NEW_PUBLISHER_WINDOW_MS = 7 * 24 * 3600 * 1000;
/** Versions of this many release lines within the burst window are a burst. */
export const BURST_LINES = 3;
export const BURST_WINDOW_MS = 60 * 60 * 1000;
/** A package that published nothing for this long is dormant. */
export const DORMANT_MS = 2 * 365 * 24 * 3600 * 1000;

export const NO_PUBLISHER_DATA = 'the registry gives no _npmUser/maintainers for this package';

export interface ReleaseLineCheck {
  findings: Finding[];
  /** Why the publisher comparison could not run; undefined when it ran. */
  publishersUnavailable?: string;
  /** The version this one is compared with (the newest earlier one in its line). */
  previous?: { version: string; manifest: PackumentVersion; publishedAt?: Date };
  publisher?: string;
  publishedAt?: Date;
  /** Dependencies this version has and the previous one did not. */
  newDependencies: string[];
}

/**
 * Compares `version` with its release line.
 * @example checkReleaseLine(packument, '1.0.2').findings
 */
export function checkReleaseLine(packument: Packument, version: string): ReleaseLineCheck {
  const versions = packument.versions ?? {};
  const manifest = versions[version] ?? {};
  const publishedAt = timeOf(packument, version);
  const line = lineOf(version);
  const earlier = Object.keys(versions)
    .filter((v) => v !== version && semver.valid(v) && lineOf(v) === line)
    .filter((v) => isBefore(packument, v, version))
    .sort((a, b) => order(packument, a, b));
  const prevVersion = earlier.at(-1);
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
    findings.push(...comparePublishers(packument, version, earlier, previous, publishedAt));
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
    ...(previous ? { previous } : {}),
    ...(publisherOf(manifest) ? { publisher: publisherOf(manifest) } : {}),
    ...(publishedAt ? { publishedAt } : {}),
    newDependencies,
  };
}

/** Publisher, maintainers and trusted publishing against the earlier versions of the line. */
function comparePublishers(
  packument: Packument,
  version: string,
  earlier: string[],
  previous: NonNullable<ReleaseLineCheck['previous']>,
  publishedAt: Date | undefined,
): Finding[] {
  const versions = packument.versions ?? {};
  const manifest = versions[version] ?? {};
  const findings: Finding[] = [];
  const publisher = publisherOf(manifest);
  const prevPublisher = publisherOf(previous.manifest);
  if (publisher && prevPublisher && publisher !== prevPublisher) {
    const seen = earlier.map((v) => publisherOf(versions[v] ?? {})).filter((p) => p !== undefined);
    const usual = mostCommon(seen);
    const prevMaintainers = maintainersOf(previous.manifest) ?? [];
    const gap =
      publishedAt && previous.publishedAt
        ? publishedAt.getTime() - previous.publishedAt.getTime()
        : undefined;
    const evidence = {
      version,
      publisher,
      previousVersion: previous.version,
      previousPublisher: prevPublisher,
      usualPublisher: usual,
      previousMaintainers: prevMaintainers,
      hoursSincePrevious: gap === undefined ? undefined : Math.round(gap / 36e5),
    };
    const firstTime = !seen.includes(publisher) && !prevMaintainers.includes(publisher);
    if (
      firstTime &&
      prevPublisher === usual &&
      gap !== undefined &&
      gap <= NEW_PUBLISHER_WINDOW_MS
    ) {
      findings.push({
        code: 'PUBLISHER_NEW_ACCOUNT',
        severity: 'high',
        message: `${version} was published by ${publisher}, who never published this line and was not a maintainer of ${previous.version}, ${evidence.hoursSincePrevious} h after ${prevPublisher} published ${previous.version}`,
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

/** Provenance and registry signatures present on the previous release and missing now. */
function compareDist(
  version: string,
  manifest: PackumentVersion,
  previous: NonNullable<ReleaseLineCheck['previous']>,
): Finding[] {
  const findings: Finding[] = [];
  const dist = record(manifest.dist);
  const prevDist = record(previous.manifest.dist);
  if (prevDist.attestations && !dist.attestations) {
    findings.push({
      code: 'PROVENANCE_DOWNGRADE',
      severity: 'high',
      message: `${previous.version} was published with provenance; ${version} has none`,
      evidence: { version, previousVersion: previous.version },
    });
  }
  if (Array.isArray(prevDist.signatures) && prevDist.signatures.length > 0 && !dist.signatures) {
    findings.push({
      code: 'SIGNATURE_MISSING',
      severity: 'high',
      message: `${previous.version} carries registry signatures; ${version} carries none`,
      evidence: { version, previousVersion: previous.version },
    });
  }
  return findings;
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

/** Several lines published within minutes, a dormant package waking, a release out of order. */
function checkPattern(packument: Packument, version: string, at: Date | undefined): Finding[] {
  if (!at) return [];
  const findings: Finding[] = [];
  const all = Object.keys(packument.versions ?? {}).filter((v) => semver.valid(v));
  const near = all.filter((v) => {
    const t = timeOf(packument, v);
    return t !== undefined && Math.abs(t.getTime() - at.getTime()) <= BURST_WINDOW_MS;
  });
  const lines = new Set(near.map(lineOf));
  if (lines.size >= BURST_LINES) {
    findings.push({
      code: 'RELEASE_BURST',
      severity: 'medium',
      message: `${lines.size} release lines were published within ${BURST_WINDOW_MS / 60_000} minutes of ${version}: ${near.join(', ')}`,
      evidence: { version, versions: near },
    });
  }
  const before = all
    .map((v) => ({ v, t: timeOf(packument, v) }))
    .filter((x): x is { v: string; t: Date } => x.t !== undefined && x.t < at)
    .sort((a, b) => a.t.getTime() - b.t.getTime())
    .at(-1);
  if (before && at.getTime() - before.t.getTime() > DORMANT_MS) {
    findings.push({
      code: 'DORMANT_PACKAGE',
      severity: 'medium',
      message: `${version} comes ${Math.floor((at.getTime() - before.t.getTime()) / (365 * 864e5))} years after the package's previous release (${before.v})`,
      evidence: { version, previousVersion: before.v, previousAt: before.t.toISOString() },
    });
  }
  const minor = `${semver.major(version)}.${semver.minor(version)}`;
  const higherEarlier = all.filter((v) => {
    const t = timeOf(packument, v);
    return (
      `${semver.major(v)}.${semver.minor(v)}` === minor && semver.gt(v, version) && t && t < at
    );
  });
  if (higherEarlier.length > 0 && !semver.prerelease(version)) {
    findings.push({
      code: 'VERSION_OUT_OF_ORDER',
      severity: 'low',
      message: `${version} was published after ${higherEarlier.join(', ')}, which are higher`,
      evidence: { version, higher: higherEarlier },
    });
  }
  return findings;
}

/** The release line: the major version, or `0.minor` below 1.0.0. */
export function lineOf(version: string): string {
  const major = semver.major(version);
  return major === 0 ? `0.${semver.minor(version)}` : String(major);
}

export function timeOf(packument: Packument, version: string): Date | undefined {
  const raw = packument.time?.[version];
  const date = typeof raw === 'string' ? new Date(raw) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
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

export function publisherOf(m: PackumentVersion): string | undefined {
  const user = record(m._npmUser);
  return typeof user.name === 'string' && user.name ? user.name : undefined;
}

function trustedPublisherOf(m: PackumentVersion): unknown {
  return record(m._npmUser).trustedPublisher;
}

/** Maintainer names; entries are `{ name }` objects or `"name <email>"` strings. */
export function maintainersOf(m: PackumentVersion): string[] | undefined {
  if (!Array.isArray(m.maintainers)) return undefined;
  const names = (m.maintainers as unknown[])
    .map((x) => (typeof x === 'string' ? x.split(/\s+</)[0] : record(x).name))
    .filter((n): n is string => typeof n === 'string' && n.length > 0);
  return names.sort();
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

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}
