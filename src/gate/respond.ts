/**
 * How the gate answers: JSON errors, and the 403 for a version that is not admitted, with the
 * `npm-notice` header npm prints and the body DESIGN.md fixes (`error`, `name`, `version`,
 * `status`, `reasons`, `report`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Status, VersionRecord } from '../types';

const STATUS_WORDS: Record<Status, string> = {
  pending: 'is being verified',
  verified: 'is verified',
  approved: 'is approved',
  held: 'is held for review',
  rejected: 'was rejected',
  denied: 'was denied by an admin',
  revoked: 'was revoked',
};

export interface Refusal {
  name: string;
  version: string;
  record?: VersionRecord;
  /** Reasons that replace the record's (a record that failed its checks). */
  override?: string[];
  /** Jobs ahead, for the pending message. */
  queueDepth: number;
}

export function refuse(req: IncomingMessage, res: ServerResponse, refusal: Refusal): void {
  const { name, version, record, override } = refusal;
  const status: Status = record?.status ?? (override ? 'held' : 'pending');
  const reasons = override ?? (record ? reasonsOf(record) : []);
  const report = `${baseUrl(req)}/-/vetted/api/versions/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
  const first =
    status === 'pending'
      ? `verification is queued (${refusal.queueDepth} in the queue); retry in a few seconds`
      : (reasons[0] ?? status);
  res.setHeader('npm-notice', headerSafe(`${name}@${version} ${status}: ${first}`));
  sendJson(res, 403, {
    error: `${name}@${version} ${STATUS_WORDS[status]}: ${first}. Report: ${report}`,
    name,
    version,
    status,
    reasons,
    report,
  });
}

/** An admin's reason first, then the policy's. */
function reasonsOf(record: VersionRecord): string[] {
  if (record.decidedBy.kind === 'admin' && record.reason) {
    return [`${record.decidedBy.name}: ${record.reason}`, ...record.reasons];
  }
  return record.reasons.length > 0 ? record.reasons : [record.status];
}

/** The scheme and host the client used, behind a proxy too. */
export function baseUrl(req: IncomingMessage): string {
  const proto = firstHeader(req.headers['x-forwarded-proto']) ?? 'http';
  const host = firstHeader(req.headers['x-forwarded-host']) ?? req.headers.host ?? 'localhost';
  return `${proto}://${host}`;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v?.split(',')[0]?.trim() || undefined;
}

/** HTTP headers carry ASCII only. */
function headerSafe(text: string): string {
  const clean = text.replace(/…/g, '...').replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 300 ? `${clean.slice(0, 300)}...` : clean;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(Buffer.byteLength(text)));
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}
