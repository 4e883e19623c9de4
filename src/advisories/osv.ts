/**
 * Known advisories in the OSV format (https://ossf.github.io/osv-schema/), read from a file or a
 * directory of `.json` files named in the options. Only entries for the npm ecosystem count.
 * A malicious-package advisory (a `MAL-` id or `database_specific.malicious-packages-origins`,
 * as in the OpenSSF malicious-packages feed) makes the advisories layer reject the version and
 * revokes it when it was admitted; withdrawn entries are skipped; any advisory in force is
 * listed by `vetted check`.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { z } from 'zod';
import { VettedError, errorMessage } from '../errors';

const eventSchema = z
  .object({
    introduced: z.string().optional(),
    fixed: z.string().optional(),
    last_affected: z.string().optional(),
    limit: z.string().optional(),
  })
  .passthrough();

const osvSchema = z
  .object({
    id: z.string().min(1),
    summary: z.string().optional(),
    details: z.string().optional(),
    aliases: z.array(z.string()).optional(),
    affected: z
      .array(
        z
          .object({
            package: z.object({ ecosystem: z.string(), name: z.string() }).passthrough(),
            versions: z.array(z.string()).optional(),
            ranges: z
              .array(z.object({ type: z.string(), events: z.array(eventSchema) }).passthrough())
              .optional(),
          })
          .passthrough(),
      )
      .default([]),
    database_specific: z.record(z.string(), z.unknown()).optional(),
    /** Set when the entry was retracted (a false positive): it no longer applies. */
    withdrawn: z.string().optional(),
    /** When the entry last changed (RFC 3339); required by OSV. */
    modified: z.string().optional(),
  })
  .passthrough();

type OsvEntry = z.infer<typeof osvSchema>;

export interface AdvisoryMatch {
  id: string;
  summary: string;
  malicious: boolean;
  aliases?: string[];
  /** When the entry last changed: its `modified`, else its file's mtime. */
  modified: string;
}

export interface AdvisoryDb {
  /** Where the entries were read from. */
  readonly source: string;
  /** Entries in force. */
  readonly size: number;
  /** Entries skipped because they were withdrawn. */
  readonly withdrawn: number;
  match(name: string, version: string): AdvisoryMatch[];
  /** Every npm package name that has an advisory. */
  names(): string[];
}

/**
 * Reads `path` (an OSV JSON file, a JSON array of entries, or a directory of them, read at any
 * depth). An entry without `modified` counts as changed when its file was.
 * @throws VettedError CONFIG_INVALID naming the file that is not OSV.
 */
export function loadAdvisories(path: string): AdvisoryDb {
  const files = listFiles(path);
  const byName = new Map<string, OsvEntry[]>();
  let size = 0;
  let withdrawn = 0;
  for (const file of files) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new VettedError('CONFIG_INVALID', `advisories: ${file}: ${errorMessage(err)}`);
    }
    const fileChanged = statSync(file).mtime.toISOString();
    for (const item of Array.isArray(raw) ? raw : [raw]) {
      const parsed = osvSchema.safeParse(item);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new VettedError(
          'CONFIG_INVALID',
          `advisories: ${file}: not an OSV entry (${issue?.path.join('.') || 'top level'}: ${issue?.message})`,
        );
      }
      if (parsed.data.withdrawn) {
        withdrawn += 1;
        continue;
      }
      size += 1;
      parsed.data.modified ??= fileChanged;
      for (const affected of parsed.data.affected) {
        if (affected.package.ecosystem.toLowerCase() !== 'npm') continue;
        const list = byName.get(affected.package.name) ?? [];
        list.push(parsed.data);
        byName.set(affected.package.name, list);
      }
    }
  }
  return {
    source: path,
    size,
    withdrawn,
    names: () => [...byName.keys()],
    match(name, version) {
      const out: AdvisoryMatch[] = [];
      for (const entry of byName.get(name) ?? []) {
        if (!entry.affected.some((a) => a.package.name === name && affects(a, version))) continue;
        out.push({
          id: entry.id,
          summary: entry.summary ?? entry.details?.split('\n')[0] ?? entry.id,
          malicious: isMalicious(entry),
          ...(entry.aliases?.length ? { aliases: entry.aliases } : {}),
          modified: entry.modified ?? new Date(0).toISOString(),
        });
      }
      return out;
    },
  };
}

/** `.json` files under `path`, at any depth (the OpenSSF feed nests scopes: `npm/@scope/name/`). */
function listFiles(path: string): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    throw new VettedError(
      'CONFIG_INVALID',
      `advisories: cannot read ${path}: ${errorMessage(err)}`,
    );
  }
  if (!stat.isDirectory()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

function isMalicious(entry: OsvEntry): boolean {
  if (entry.id.startsWith('MAL-')) return true;
  // a word in a summary proves nothing ("… through a malicious query string"): only the feed's
  // own markers count
  return Boolean(
    entry.database_specific && 'malicious-packages-origins' in entry.database_specific,
  );
}

type Affected = OsvEntry['affected'][number];

/** Whether `version` is in the affected package's `versions` or one of its ranges. */
function affects(affected: Affected, version: string): boolean {
  if (affected.versions?.includes(version)) return true;
  for (const range of affected.ranges ?? []) {
    if (range.type !== 'SEMVER' && range.type !== 'ECOSYSTEM') continue;
    if (inEvents(range.events, version)) return true;
  }
  // an entry with neither versions nor ranges affects every version (OSV: the whole package)
  return !affected.versions?.length && !affected.ranges?.length;
}

/** OSV range events, in order: each `introduced` opens an interval that a `fixed` closes. */
function inEvents(events: z.infer<typeof eventSchema>[], version: string): boolean {
  if (!semver.valid(version)) return false;
  let affected = false;
  let start: string | undefined;
  for (const event of events) {
    if (event.introduced !== undefined) start = event.introduced;
    const end = event.fixed ?? event.last_affected ?? event.limit;
    if (end !== undefined && start !== undefined) {
      const from = start === '0' || (semver.valid(start) !== null && semver.gte(version, start));
      const to =
        semver.valid(end) !== null &&
        (event.last_affected ? semver.lte(version, end) : semver.lt(version, end));
      if (from && to) affected = true;
      start = undefined;
    }
  }
  if (start === '0' || (start !== undefined && semver.valid(start) && semver.gte(version, start))) {
    affected = true;
  }
  return affected;
}
