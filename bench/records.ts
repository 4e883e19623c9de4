/**
 * Synthetic version records shaped like the ones the engine writes (src/verify/engine.ts): an
 * integrity layer and a static layer, a policy stamp, and findings for held and rejected
 * versions. Names mix plain and scoped packages with several versions each. Deterministic for
 * a given seed, except the random integrity digests.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { LayerResult, Status, VersionRecord } from '../src/types';

/** A small seeded PRNG (mulberry32), so key choice is the same from run to run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POLICY = {
  preset: 'standard',
  digest: createHash('sha256').update('standard').digest('hex'),
};

/** The `i`-th record: package `i >> 2`, one of four versions of it. */
export function makeRecord(i: number, at: Date): VersionRecord {
  const pkg = i >> 2;
  const name = pkg % 8 === 0 ? `@org-${pkg % 97}/bench-pkg-${pkg}` : `bench-pkg-${pkg}`;
  const version = `${1 + (pkg % 5)}.${i & 3}.${pkg % 13}`;
  const integrity = `sha512-${randomBytes(64).toString('base64')}`;
  const decidedAt = at.toISOString();
  const size = 2_000 + ((pkg * 7919) % 900_000);
  const kind = i % 50;
  const status: Status =
    kind < 45 ? 'verified' : kind < 48 ? 'held' : kind < 49 ? 'rejected' : 'approved';

  const layers: LayerResult[] = [
    {
      layer: 'integrity',
      outcome: 'pass',
      findings: [],
      startedAt: decidedAt,
      durationMs: 40 + (i % 200),
    },
    {
      layer: 'static',
      outcome: 'pass',
      findings: [],
      startedAt: decidedAt,
      durationMs: 3 + (i % 30),
    },
  ];
  const reasons: string[] = [];
  if (status === 'held' || status === 'approved') {
    const finding = {
      code: 'INSTALL_SCRIPT',
      severity: 'high' as const,
      message: 'runs a postinstall script at install time: node scripts/postinstall.js',
      evidence: { script: 'postinstall', command: 'node scripts/postinstall.js' },
    };
    layers[1] = { ...(layers[1] as LayerResult), outcome: 'warn', findings: [finding] };
    reasons.push(`static: ${finding.message}`);
  }
  if (status === 'rejected') {
    const finding = {
      code: 'INTEGRITY_MISMATCH',
      severity: 'critical' as const,
      message: 'the tarball the upstream serves does not match the published integrity',
      evidence: { expected: integrity, found: `sha512-${randomBytes(64).toString('base64')}` },
    };
    layers[0] = { ...(layers[0] as LayerResult), outcome: 'fail', findings: [finding] };
    layers.pop();
    reasons.push(`integrity: ${finding.message}`);
  }
  const admitted = status === 'verified' || status === 'approved';
  return {
    name,
    version,
    status,
    integrity,
    storedIntegrity: status === 'rejected' ? undefined : integrity,
    size: status === 'rejected' ? undefined : size,
    layers,
    reasons,
    warnings: [],
    policy: POLICY,
    decidedBy:
      status === 'approved'
        ? { kind: 'admin', name: 'admin' }
        : { kind: 'policy', name: 'standard' },
    reason: status === 'approved' ? 'reviewed the postinstall script' : undefined,
    decidedAt,
    verifiedAt: admitted || status === 'held' ? decidedAt : undefined,
    policyStatus: status === 'approved' ? 'held' : undefined,
  };
}
