/**
 * Analysing a whole package version: read its JavaScript, analyse each file, give each file its
 * role, and re-code network calls by when they run (`JS_INSTALL_NETWORK` for install-time files,
 * `JS_LOAD_NETWORK` for calls that run when a load-time file is required). The work is
 * synchronous per file; between files it yields to the event loop so a server sharing the
 * process keeps answering, and it stops when the signal aborts.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { analyseFile } from './analyse-file';
import type { FileAnalysis } from './analyse-file';
import { toOwnHosts } from './hosts';
import type { ResolvedOptions } from './options';
import { readSources } from './read-sources';
import type { SkippedFile } from './read-sources';
import { assignRoles, isTestPath } from './roles';
import { SIGNALS } from './signal.types';
import type { JsSignal } from './signal.types';

export interface PackageAnalysis {
  signals: JsSignal[];
  /** Paths of the files analysed. */
  files: string[];
  bytes: number;
  skipped: SkippedFile[];
  /** Files read with patterns only, because acorn could not parse them. */
  unparsed: number;
  /** Occurrences not kept because a code passed its per-file cap (`MAX_PER_CODE`). */
  dropped: number;
  durationMs: number;
}

/** Time spent before yielding to the event loop. */
const SLICE_MS = 25;

/**
 * @throws Error when the tarball cannot be read, or the abort reason when `signal` aborts.
 * @example const { signals } = await analysePackage(tarball, toResolvedOptions());
 */
export async function analysePackage(
  tarball: Buffer,
  options: ResolvedOptions,
  signal?: AbortSignal,
): Promise<PackageAnalysis> {
  const start = performance.now();
  const sources = await readSources(tarball, options);
  const ownHosts = toOwnHosts(sources.packageJson);
  for (const host of options.quietHosts) ownHosts.add(host.toLowerCase());

  const signals: JsSignal[] = [];
  const requires = new Map<string, string[]>();
  let bytes = 0;
  let unparsed = 0;
  let dropped = 0;
  let sliceStart = performance.now();
  // packages often ship one file several times (src/, dist/, locale copies): analyse it once
  const seen = new Map<string, FileAnalysis>();
  for (const file of sources.files) {
    signal?.throwIfAborted();
    const id = `${/\.min\.[cm]?js$|\.mjs$/.exec(file.path)?.[0] ?? ''}:${digest(file.text)}`;
    let result = seen.get(id);
    if (result) {
      result = { ...result, signals: result.signals.map((s) => ({ ...s, file: file.path })) };
    } else {
      result = analyseFile(file.path, file.text, options, ownHosts);
      seen.set(id, result);
    }
    signals.push(...result.signals);
    requires.set(file.path, result.requires);
    bytes += file.text.length;
    if (!result.parsed) unparsed += 1;
    for (const count of Object.values(result.dropped)) dropped += count;
    if (performance.now() - sliceStart > SLICE_MS) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  signal?.throwIfAborted();

  const roles = assignRoles(requires, sources.entries, sources.paths);
  for (const s of signals) {
    s.role = roles.get(s.file) ?? 'other';
    if (s.code === 'JS_NETWORK_API') {
      if (s.role === 'install') s.code = 'JS_INSTALL_NETWORK';
      else if (s.role === 'load' && s.detail?.onLoad === true) s.code = 'JS_LOAD_NETWORK';
      s.severity = SIGNALS[s.code].severity;
    }
  }
  for (const skipped of sources.skipped) {
    signals.push({
      code: 'JS_FILE_SKIPPED',
      severity: 'info',
      file: skipped.path,
      line: 0,
      excerpt: '',
      key: 'skipped',
      role: roles.get(skipped.path) ?? (isTestPath(skipped.path) ? 'test' : 'other'),
      detail: { size: skipped.size, reason: skipped.reason },
    });
  }
  return {
    signals,
    files: sources.files.map((f) => f.path),
    bytes,
    skipped: sources.skipped,
    unparsed,
    dropped,
    durationMs: Math.round(performance.now() - start),
  };
}

function digest(text: string): string {
  return createHash('sha1').update(text).digest('base64');
}
