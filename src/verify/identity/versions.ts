/**
 * Reading a packument's per-version facts: the release line a version belongs to, its publish
 * time, its publisher and its maintainers. Registry documents are untrusted input, so each
 * reader checks the shape it reads and answers undefined for anything else.
 */
import semver from 'semver';
import type { Packument, PackumentVersion } from '../../registry/packument';

/** The release line: the major version, or `0.minor` below 1.0.0. */
export function lineOf(version: string): string {
  const major = semver.major(version);
  return major === 0 ? `0.${semver.minor(version)}` : String(major);
}

/** `time[version]` as a date; undefined when absent or not a date. */
export function timeOf(packument: Packument, version: string): Date | undefined {
  const raw = packument.time?.[version];
  const date = typeof raw === 'string' ? new Date(raw) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

/** `_npmUser.name`: the account the registry says published the version. */
export function publisherOf(m: PackumentVersion): string | undefined {
  const user = record(m._npmUser);
  return typeof user.name === 'string' && user.name ? user.name : undefined;
}

/** Maintainer names; entries are `{ name }` objects or `"name <email>"` strings. */
export function maintainersOf(m: PackumentVersion): string[] | undefined {
  if (!Array.isArray(m.maintainers)) return undefined;
  const names = (m.maintainers as unknown[])
    .map((x) => (typeof x === 'string' ? x.split(/\s+</)[0] : record(x).name))
    .filter((n): n is string => typeof n === 'string' && n.length > 0);
  return names.sort();
}

/** An object field read as a record, `{}` for anything else. */
export function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}
