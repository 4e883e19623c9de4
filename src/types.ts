/**
 * The records vetted keeps and the values its layers return (DESIGN.md, "Statuses and the
 * verdict"). Shared by the engine, the index, the admin API and the CLI; depends on nothing.
 */

/** Where a version stands. Only `verified` and `approved` are served. */
export const STATUSES = [
  'pending',
  'verified',
  'approved',
  'held',
  'rejected',
  'denied',
  'revoked',
] as const;
export type Status = (typeof STATUSES)[number];

export const ADMITTED: ReadonlySet<Status> = new Set<Status>(['verified', 'approved']);

export function isAdmitted(status: Status | undefined): boolean {
  return status !== undefined && ADMITTED.has(status);
}

export type Outcome = 'pass' | 'warn' | 'fail' | 'unavailable' | 'error';
export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

export interface Finding {
  /** Stable SCREAMING_SNAKE code, for example `INTEGRITY_MISMATCH`. */
  code: string;
  severity: Severity;
  message: string;
  /** What was seen: file paths, hashes, script text. Plain JSON. */
  evidence?: Record<string, unknown>;
}

export interface LayerResult {
  layer: string;
  outcome: Outcome;
  findings: Finding[];
  startedAt: string;
  durationMs: number;
  /** Why the layer could not run, when outcome is `unavailable` or `error`. */
  reason?: string;
  /** What the layer measured beside its findings (the behaviour layer's runs, for example). */
  summary?: object;
}

/** Who made a decision: the policy engine or a named person. */
export interface Decider {
  kind: 'policy' | 'admin';
  name: string;
}

/**
 * The entry of the verified index for one `name@version`. Absent facts stay absent
 * (`undefined`), never zero or empty: an unmeasured thing is not a measured nothing.
 */
export interface VersionRecord {
  name: string;
  version: string;
  status: Status;
  /** `dist.integrity` from the packument the verdict was reached on. */
  integrity?: string;
  /** Integrity of the bytes vetted fetched and stored (equal to `integrity` when admitted). */
  storedIntegrity?: string;
  size?: number;
  layers: LayerResult[];
  reasons: string[];
  warnings: string[];
  policy?: { preset: string; digest: string };
  decidedBy: Decider;
  reason?: string;
  decidedAt: string;
  verifiedAt?: string;
  /** Status the policy reached, kept when an admin overrides it. */
  policyStatus?: Status;
  /**
   * The audit entry written with this record. Signed with it, and checked against the newest
   * entry for the key, so an older record put back in place does not count.
   */
  auditSeq?: number;
}

/** A stored record with its Ed25519 signature over the canonical JSON of `record`. */
export interface SignedRecord {
  record: VersionRecord;
  keyId: string;
  sig: string;
}

export type AuditAction =
  | 'verdict'
  | 'approve'
  | 'deny'
  | 'revoke'
  | 'reverify'
  | 'alert'
  /** An admin exempted a version or a package from holds for a time (src/admin/exemptions.ts). */
  | 'exempt';

export interface AuditEntry {
  seq: number;
  at: string;
  action: AuditAction;
  actor: Decider;
  name: string;
  version: string;
  status?: Status;
  reason?: string;
  /** Hex sha256 of the previous entry (`0` x 64 for the first). */
  prev: string;
  /** Hex sha256 over the canonical JSON of every other field. */
  hash: string;
}

export type JobTrigger = 'install' | 'background' | 'admin';

export interface Job {
  name: string;
  version: string;
  trigger: JobTrigger;
  enqueuedAt: string;
  attempts: number;
  /** Ordering key inside the queue sublevel: priority, then arrival. */
  key: string;
  /** Attempts that failed because the upstream could not be reached (never given up on). */
  outages?: number;
  /** Not to be run before this time (after a failed attempt). */
  notBefore?: string;
  lastError?: string;
}
