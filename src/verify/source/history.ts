/**
 * Which earlier versions of a package reproduced from source: one small JSON file per package
 * under `<home>/sources/history/`, written whole (temp file, then rename) after each full
 * comparison. A version that does not reproduce while earlier ones did is a strong signal.
 * Only complete comparisons are recorded; a rebuild that could not run says nothing.
 * Depends on semver.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import semver from 'semver';

export interface HistoryEntry {
  reproduced: boolean;
  commit: string;
  at: string;
}

type History = Record<string, HistoryEntry>;

export interface ReproducibilityHistory {
  /** Versions below `version` (semver) that reproduced, newest first. */
  reproducedBefore(name: string, version: string): Promise<string[]>;
  record(name: string, version: string, entry: HistoryEntry): Promise<void>;
}

/** @example const history = createHistory(path.join(home, 'sources', 'history')); */
export function createHistory(dir: string): ReproducibilityHistory {
  const fileOf = (name: string) => path.join(dir, `${encodeURIComponent(name)}.json`);
  // one writer per package at a time within this process
  const chains = new Map<string, Promise<unknown>>();

  async function load(name: string): Promise<History> {
    try {
      const value: unknown = JSON.parse(await readFile(fileOf(name), 'utf8'));
      return value && typeof value === 'object' ? (value as History) : {};
    } catch {
      return {};
    }
  }

  return {
    async reproducedBefore(name, version) {
      const history = await load(name);
      return Object.entries(history)
        .filter(
          ([v, e]) =>
            e.reproduced && semver.valid(v) && semver.valid(version) && semver.lt(v, version),
        )
        .map(([v]) => v)
        .sort(semver.rcompare);
    },
    async record(name, version, entry) {
      const previous = chains.get(name) ?? Promise.resolve();
      const next = previous.then(async () => {
        await mkdir(dir, { recursive: true });
        const history = await load(name);
        history[version] = entry;
        const file = fileOf(name);
        const staged = `${file}.${process.pid}.tmp`;
        await writeFile(staged, JSON.stringify(history, null, 1));
        await rename(staged, file);
      });
      chains.set(
        name,
        next.catch(() => undefined),
      );
      await next;
    },
  };
}
