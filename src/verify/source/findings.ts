/**
 * A comparison as findings: one per differing, extra or missing file (at most MAX_PER_CODE per
 * code, then one that counts the rest), with the file, its class, both sha256 hashes and a diff
 * excerpt as evidence. A version "reproduces" when nothing that can run differs: code, build
 * output, binaries and package.json fields other than those publishing adds. Pure.
 */
import type { Finding, Severity } from '../../types';
import { isExecutableClass } from './compare';
import type { Comparison, FileDifference } from './compare';

const MAX_PER_CODE = 20;

const CODES: Record<FileDifference['kind'], { code: string; severity: Severity; says: string }> = {
  differs: { code: 'REBUILD_FILE_DIFFERS', severity: 'high', says: 'differs from the rebuild' },
  extra: {
    code: 'REBUILD_FILE_EXTRA',
    severity: 'high',
    says: 'is in the tarball but not in the rebuild',
  },
  missing: {
    code: 'REBUILD_FILE_MISSING',
    severity: 'medium',
    says: 'is in the rebuild but not in the tarball',
  },
};

export function findingsOf(comparison: Comparison): { findings: Finding[]; reproduced: boolean } {
  const findings: Finding[] = [];
  const counts = new Map<string, number>();
  let reproduced = true;
  for (const diff of comparison.differences) {
    const executable = isExecutableClass(diff.class);
    if (executable) reproduced = false;
    const base = CODES[diff.kind];
    const code = executable ? base.code : 'REBUILD_NONCODE_DIFFERS';
    const severity: Severity = executable ? base.severity : 'low';
    const seen = (counts.get(code) ?? 0) + 1;
    counts.set(code, seen);
    if (seen > MAX_PER_CODE) continue;
    const fields = diff.fields ? ` (fields ${diff.fields.join(', ')})` : '';
    findings.push({
      code,
      severity,
      message: `${diff.path} ${base.says} (${diff.class})${fields}`,
      evidence: { ...diff },
    });
  }
  for (const [code, count] of counts) {
    if (count <= MAX_PER_CODE) continue;
    const first = findings.find((f) => f.code === code);
    findings.push({
      code,
      severity: first?.severity ?? 'high',
      message: `${count - MAX_PER_CODE} more files (${count} in all) with ${code}`,
      evidence: { count },
    });
  }
  if (comparison.metadataFields.length > 0) {
    findings.push({
      code: 'REBUILD_METADATA_ONLY',
      severity: 'info',
      message: `package.json differs only in fields publishing adds: ${comparison.metadataFields.join(', ')}`,
      evidence: { fields: comparison.metadataFields },
    });
  }
  return { findings, reproduced };
}
