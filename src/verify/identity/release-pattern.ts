/**
 * The release pattern around a version: several release lines published within the hour, a
 * package that was silent for years publishing again, a version published after a higher one
 * of the same minor. Reads publish times only, so it runs only where they are publish times
 * (a registry that also gives publishers; a mirror re-stamps `time`).
 */
import semver from 'semver';
import type { Packument } from '../../registry/packument';
import type { Finding } from '../../types';
import { lineOf, timeOf } from './versions';

/** Versions of this many release lines within the burst window are a burst. */
export const BURST_LINES = 3;
export const BURST_WINDOW_MS = 60 * 60 * 1000;
/** A package that published nothing for this long is dormant. */
export const DORMANT_MS = 2 * 365 * 24 * 3600 * 1000;

/** Several lines published within minutes, a dormant package waking, a release out of order. */
export function checkPattern(
  packument: Packument,
  version: string,
  at: Date | undefined,
): Finding[] {
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
