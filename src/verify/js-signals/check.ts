/**
 * The whole check for one version: analyse it and, when given, the previous admitted version;
 * mark what is new; add the combined evidence; turn it into findings and an outcome. The coverage
 * finding records what was read, so an empty result is never mistaken for an unread package.
 */
import { createHash } from 'node:crypto';
import type { Finding, Outcome } from '../../types';
import { analysePackage } from './analyse-package';
import type { PackageAnalysis } from './analyse-package';
import { combineSignals } from './combine';
import { markNovelty } from './compare';
import type { ResolvedOptions } from './options';
import { toFindings, toOutcome } from './report';
import type { MarkedSignal } from './signal.types';

export interface PreviousVersion {
  version: string;
  /** The previous admitted version's tarball, as stored. */
  tarball: Buffer;
}

/**
 * Analyses kept by tarball digest (an `LRUCache` fits). The version verified now is the baseline
 * of the next one, so with a cache each version is analysed once, not twice.
 */
export interface AnalysisCache {
  get(key: string): PackageAnalysis | undefined;
  set(key: string, value: PackageAnalysis): unknown;
}

export interface JsSignalsResult {
  outcome: Outcome;
  findings: Finding[];
  /** Every occurrence, marked, including the combined ones; the findings group these. */
  signals: MarkedSignal[];
}

/**
 * @throws Error when the version's own tarball cannot be read, or the abort reason. An unreadable
 *   previous tarball is not an error: the comparison is skipped and a finding says so.
 * @example
 *   const previous = { version: '1.0.0', tarball: old };
 *   const { outcome, findings } = await checkJsSignals(tarball, toResolvedOptions(), { previous });
 */
export async function checkJsSignals(
  tarball: Buffer,
  options: ResolvedOptions,
  context: { previous?: PreviousVersion; signal?: AbortSignal; cache?: AnalysisCache } = {},
): Promise<JsSignalsResult> {
  const { previous, signal, cache } = context;
  const current = await analyseCached(tarball, options, signal, cache);
  let baseline: PackageAnalysis | undefined;
  const extra: Finding[] = [];
  if (previous) {
    try {
      baseline = await analyseCached(previous.tarball, options, signal, cache);
    } catch (err) {
      if (signal?.aborted) throw err;
      extra.push({
        code: 'JS_BASELINE_UNREADABLE',
        severity: 'info',
        message: `cannot read ${previous.version} to compare with: ${(err as Error).message}`,
        evidence: { version: previous.version },
      });
    }
  }
  const marked = markNovelty(current.signals, baseline);
  const signals = [...marked, ...combineSignals(marked)];
  const findings = [
    ...toFindings(signals, {
      since: baseline ? previous?.version : undefined,
      maxEvidence: options.maxEvidence,
    }),
    ...extra,
    coverage(current, baseline ? previous?.version : undefined),
  ];
  return { outcome: toOutcome(findings), findings, signals };
}

async function analyseCached(
  tarball: Buffer,
  options: ResolvedOptions,
  signal: AbortSignal | undefined,
  cache: AnalysisCache | undefined,
): Promise<PackageAnalysis> {
  if (!cache) return analysePackage(tarball, options, signal);
  const key = createHash('sha256').update(tarball).digest('base64');
  const cached = cache.get(key);
  if (cached) return cached;
  const analysis = await analysePackage(tarball, options, signal);
  cache.set(key, analysis);
  return analysis;
}

function coverage(analysis: PackageAnalysis, since: string | undefined): Finding {
  const compared =
    since === undefined ? 'no previous version to compare with' : `compared with ${since}`;
  return {
    code: 'JS_COVERAGE',
    severity: 'info',
    message:
      `analysed ${analysis.files.length} files (${analysis.bytes} bytes) ` +
      `in ${analysis.durationMs} ms, ` +
      `${analysis.skipped.length} skipped, ${analysis.unparsed} read by patterns only; ${compared}`,
    evidence: {
      files: analysis.files.length,
      bytes: analysis.bytes,
      skipped: analysis.skipped.length,
      unparsed: analysis.unparsed,
      dropped: analysis.dropped,
      durationMs: analysis.durationMs,
      ...(since === undefined ? {} : { since }),
    },
  };
}
