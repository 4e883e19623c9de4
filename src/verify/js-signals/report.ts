/**
 * From marked signals to the layer's findings and outcome. The severity of an occurrence is its
 * own, raised for `child_process` in install-time code, lowered to `info` in tests and docs and
 * for anything the previous version already had, and raised one step when it is new. Occurrences
 * are grouped by code, severity and novelty into one finding each, with the first few as evidence
 * (file, line, excerpt) and the count of the rest.
 */
import type { Finding, Outcome, Severity } from '../../types';
import { outcomeOf } from '../layer';
import { FAILING_CODES, SIGNALS } from './signal.types';
import type { MarkedSignal } from './signal.types';

export interface ReportOptions {
  /** The previous version compared with, named in messages. */
  since?: string;
  /** Occurrences listed per finding. */
  maxEvidence: number;
}

const ORDER: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

export function severityOf(signal: MarkedSignal): Severity {
  const own = signal.severity;
  const severity =
    signal.code === 'JS_CHILD_PROCESS' && signal.role === 'install' ? atLeast(own, 'medium') : own;
  if (signal.role === 'test' || signal.novelty === 'old') return 'info';
  if (signal.novelty !== 'new') return severity;
  return ORDER[Math.min(ORDER.indexOf(severity) + 1, ORDER.length - 1)]!;
}

/** One finding per code, severity and novelty, most severe first. */
export function toFindings(signals: readonly MarkedSignal[], options: ReportOptions): Finding[] {
  const groups = new Map<string, { severity: Severity; items: MarkedSignal[] }>();
  for (const signal of signals) {
    const severity = severityOf(signal);
    const id = `${signal.code}\0${severity}\0${signal.novelty}`;
    const group = groups.get(id);
    if (group) group.items.push(signal);
    else groups.set(id, { severity, items: [signal] });
  }
  const findings = [...groups.values()].map(({ severity, items }) =>
    toFinding(severity, items, options),
  );
  return findings.sort(
    (a, b) => ORDER.indexOf(b.severity) - ORDER.indexOf(a.severity) || a.code.localeCompare(b.code),
  );
}

/** `fail` for a failing code that is not carried over; `warn` for anything above `info`. */
export function toOutcome(findings: readonly Finding[]): Outcome {
  return outcomeOf(
    findings.filter((f) => f.severity !== 'info'),
    FAILING_CODES as ReadonlySet<string>,
  );
}

function toFinding(severity: Severity, items: MarkedSignal[], options: ReportOptions): Finding {
  const first = items[0]!;
  const files = [...new Set(items.map((s) => s.file))];
  const novelty = first.novelty;
  const when =
    novelty === 'new'
      ? `, new since ${options.since ?? 'the previous version'}`
      : novelty === 'old'
        ? `, already in ${options.since ?? 'the previous version'}`
        : '';
  const where = first.line > 0 ? `${first.file}:${first.line}` : first.file;
  const message =
    `${SIGNALS[first.code].title}: ${items.length} in ${files.length} ` +
    `file${files.length === 1 ? '' : 's'}${when}; first ${where}` +
    (first.excerpt ? `: ${first.excerpt.slice(0, 120)}` : '');
  const evidence: Record<string, unknown> = {
    file: first.file,
    line: first.line,
    excerpt: first.excerpt,
    count: items.length,
    files: files.slice(0, 20),
    occurrences: items.slice(0, options.maxEvidence).map((s) => ({
      file: s.file,
      line: s.line,
      excerpt: s.excerpt,
      role: s.role,
      ...s.detail,
    })),
  };
  if (novelty !== 'unknown') {
    evidence.new = novelty === 'new';
    if (options.since !== undefined) evidence.since = options.since;
  }
  return { code: first.code, severity, message, evidence };
}

function atLeast(severity: Severity, floor: Severity): Severity {
  return ORDER.indexOf(severity) >= ORDER.indexOf(floor) ? severity : floor;
}
