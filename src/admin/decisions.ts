/**
 * Admin decisions on a version: approve, deny, revoke, re-verify. Each checks that the change
 * makes sense from the current status, writes a new signed record and an audit entry in one
 * batch, and takes effect on the next request (the index cache is updated in the same step).
 */
import type { Vetted } from '../vetted';
import type { AuditAction, Decider, Status, VersionRecord } from '../types';
import { VettedError } from '../errors';
import { packageIdProblem } from '../registry/package-id';

export const DECISIONS = ['approve', 'deny', 'revoke', 'reverify'] as const;
export type Decision = (typeof DECISIONS)[number];

const TARGET: Record<Exclude<Decision, 'reverify'>, Status> = {
  approve: 'approved',
  deny: 'denied',
  revoke: 'revoked',
};

export interface DecisionResult {
  name: string;
  version: string;
  status: Status;
  queued?: boolean;
  /** For revocations: admitted versions of the same package to move to. */
  alternatives?: string[];
}

/**
 * @throws VettedError NOT_FOUND when vetted has no record, CONFLICT when the move is not allowed.
 */
export async function applyDecision(
  vetted: Vetted,
  decision: Decision,
  name: string,
  version: string,
  actor: Decider,
  reason: string,
): Promise<DecisionResult> {
  // a decision is about one published version: one on a range or a tag would be recorded,
  // signed and reported as done while nothing it seems to name is blocked
  const problem = packageIdProblem(name, version);
  if (problem) throw new VettedError('SPEC_INVALID', problem);
  const current = await vetted.index.get(name, version);
  if (decision === 'reverify') {
    const queued = await vetted.queue.enqueue(name, version, 'admin');
    await vetted.index.appendAudit({
      action: 'reverify',
      actor,
      name,
      version,
      status: current?.status,
      reason,
    });
    return { name, version, status: current?.status ?? 'pending', queued };
  }
  if (!current && decision === 'deny') {
    // a version can be refused before vetted has seen it (a known-bad release, a typosquat)
    const record: VersionRecord = {
      name,
      version,
      status: 'denied',
      layers: [],
      reasons: [],
      warnings: [],
      decidedBy: actor,
      reason,
      decidedAt: new Date().toISOString(),
    };
    await vetted.index.decide(record, {
      action: 'deny',
      actor,
      name,
      version,
      status: 'denied',
      reason,
    });
    return { name, version, status: 'denied' };
  }
  if (!current) {
    throw new VettedError(
      'NOT_FOUND',
      `vetted has no verdict for ${name}@${version} yet; run \`vetted verify ${name}@${version}\` first`,
    );
  }
  const target = TARGET[decision];
  checkMove(decision, current, target);
  const record: VersionRecord = {
    ...current,
    status: target,
    decidedBy: actor,
    reason,
    decidedAt: new Date().toISOString(),
    policyStatus:
      current.policyStatus ?? (current.decidedBy.kind === 'policy' ? current.status : undefined),
  };
  await vetted.index.decide(record, {
    action: decision as AuditAction,
    actor,
    name,
    version,
    status: target,
    reason,
  });
  const result: DecisionResult = { name, version, status: target };
  if (decision === 'revoke')
    result.alternatives = await admittedAlternatives(vetted, name, version);
  return result;
}

function checkMove(decision: Decision, current: VersionRecord, target: Status): void {
  const key = `${current.name}@${current.version}`;
  if (current.status === target) {
    throw new VettedError('CONFLICT', `${key} is already ${target}`);
  }
  if (decision === 'approve' && !current.storedIntegrity) {
    throw new VettedError(
      'CONFLICT',
      `${key} has no verified bytes to serve (${current.reasons[0] ?? current.status}); ` +
        `run \`vetted reverify ${key}\` to verify it, then approve the verdict if it is held`,
    );
  }
  if (decision === 'revoke' && current.status !== 'verified' && current.status !== 'approved') {
    throw new VettedError(
      'CONFLICT',
      `${key} is ${current.status}, not admitted; deny it instead of revoking`,
    );
  }
}

async function admittedAlternatives(
  vetted: Vetted,
  name: string,
  version: string,
): Promise<string[]> {
  const records = await vetted.index.list({ name });
  return records
    .filter(
      (r) =>
        r.name === name &&
        r.version !== version &&
        (r.status === 'verified' || r.status === 'approved'),
    )
    .map((r) => r.version);
}
