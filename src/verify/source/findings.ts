/**
 * The source layer's findings. A comparison as findings: one per differing, extra or missing file (at most MAX_PER_CODE per
 * code, then one that counts the rest), with the file, its class, both sha256 hashes and a diff
 * excerpt as evidence. A version "reproduces" when nothing that can run differs: code, build
 * output, binaries and package.json fields other than those publishing adds. Pure.
 */
import type { Finding, Severity } from '../../types';
import { isExecutableClass } from './compare';
import type { Comparison, FileDifference } from './compare';
import type { LocatedSource } from './git';
import type { SourceRepository } from './locate';
import type { SignatureCheck } from './signature';

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

/** No commit, tag or package.json of the repository is this version. */
export function notFound(
  input: { name: string; version: string },
  repo: SourceRepository,
  gitHead?: string,
): Finding {
  const where = repo.directory ? `${repo.url} (${repo.directory})` : repo.url;
  return {
    code: 'SOURCE_NOT_FOUND',
    severity: 'high',
    message: `no commit of ${where} is ${input.name}@${input.version}: ${gitHead ? `gitHead ${gitHead.slice(0, 12)} is not there, ` : ''}no release tag, and no package.json with that version`,
    evidence: { repository: repo.url, directory: repo.directory, gitHead },
  };
}

/** How the commit was found, and what was missing on the way. */
export function locatedFindings(input: { version: string }, located: LocatedSource): Finding[] {
  const out: Finding[] = [
    {
      code: 'SOURCE_LOCATED_BY',
      severity: 'info',
      message: `source commit ${located.commit.slice(0, 12)} found by ${located.method}${located.tag ? ` (tag ${located.tag})` : ''}`,
      evidence: { method: located.method, commit: located.commit, tag: located.tag },
    },
  ];
  if (located.missingGitHead) {
    out.push({
      code: 'SOURCE_GITHEAD_MISSING',
      severity: 'medium',
      message: `the published gitHead ${located.missingGitHead.slice(0, 12)} is not in the repository (published from an unpushed commit?)`,
      evidence: { gitHead: located.missingGitHead },
    });
  }
  if (located.unreachable) {
    out.push({
      code: 'SOURCE_COMMIT_UNREACHABLE',
      severity: 'high',
      message: `the published gitHead ${located.commit.slice(0, 12)} is on no branch or tag of the repository (a pull request's ref, or no ref at all): not rebuilt`,
      evidence: { commit: located.commit },
    });
  }
  if (located.tagMismatch) {
    const { tag, commit } = located.tagMismatch;
    out.push({
      code: 'SOURCE_TAG_MISMATCH',
      severity: 'high',
      message: `the release tag ${tag} points at ${commit.slice(0, 12)}, but the published gitHead is ${located.commit.slice(0, 12)}`,
      evidence: { tag, tagCommit: commit, gitHead: located.commit },
    });
  }
  if (located.method === 'package-json-version') {
    out.push({
      code: 'SOURCE_TAG_MISSING',
      severity: 'medium',
      message: `no gitHead and no release tag for ${input.version}; used the newest commit whose package.json has that version`,
      evidence: { commit: located.commit },
    });
  }
  return out;
}

export function signatureFinding(sig: SignatureCheck): Finding {
  switch (sig.status) {
    case 'signed':
      return {
        code: 'SOURCE_SIGNED',
        severity: 'info',
        message: `${sig.object}: ${sig.detail}`,
        evidence: { ...sig },
      };
    case 'unsigned':
      return {
        code: 'SOURCE_UNSIGNED',
        severity: 'medium',
        message: `${sig.object} is not signed, though keys are configured for this package`,
        evidence: { ...sig },
      };
    case 'bad':
      return {
        code: 'SOURCE_SIGNATURE_BAD',
        severity: 'high',
        message: `${sig.object} has a signature that does not verify with the configured keys`,
        evidence: { ...sig },
      };
  }
}
