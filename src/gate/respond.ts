/**
 * How the gate answers: JSON errors, and the 403 for a version that is not admitted, with the
 * `npm-notice` header npm prints and the body DESIGN.md fixes (`error`, `name`, `version`,
 * `status`, `reasons`, `report`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Status, VersionRecord } from '../types';
import type { Logger } from '../log/logger';

export const STATUS_WORDS: Record<Status, string> = {
  pending: 'is being verified',
  verified: 'is verified',
  approved: 'is approved',
  held: 'is held for review',
  rejected: 'was rejected',
  denied: 'was denied',
  revoked: 'was revoked',
};

/** Why a version whose stored verified bytes failed their check cannot be served now. */
export function storeDamagedReason(id: string): string {
  return `${id}: the stored verified bytes fail their check; an admin must re-verify it (vetted reverify ${id})`;
}

export interface Refusal {
  name: string;
  version: string;
  record?: VersionRecord;
  /** Reasons that replace the record's (a record that failed its checks). */
  override?: string[];
  /** Jobs ahead, for the pending message. */
  queueDepth: number;
}

/**
 * Answers 403 for a version that is not admitted. yarn 1 and pnpm print only the status line,
 * so its reason phrase carries the one-line reason; `logger` gets one line with the report URL.
 */
export function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  refusal: Refusal,
  logger?: Logger,
): void {
  const { name, version, record, override } = refusal;
  const status: Status = record?.status ?? (override ? 'held' : 'pending');
  const reasons = override ?? (record ? reasonsOf(record) : []);
  const report = reportUrl(req, name, version);
  const first =
    status === 'pending'
      ? `verification is queued (${refusal.queueDepth} in the queue); retry in a few seconds`
      : (reasons[0] ?? status);
  const line = `${name}@${version} ${status}: ${first}`;
  res.setHeader('npm-notice', headerSafe(line));
  // npm prints the body itself; the others get the reason where they print anything at all
  if (!req.headers['user-agent']?.startsWith('npm/'))
    res.statusMessage = `Forbidden - ${headerSafe(line, 200)}`;
  logger?.warn(
    { pkg: name, version, verdict: status, reason: first, report },
    'refused @{pkg}@@{version} (@{verdict}): @{reason}; report: @{report}',
  );
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
export function reasonsOf(record: VersionRecord): string[] {
  if (record.decidedBy.kind === 'admin' && record.reason) {
    return [`${record.decidedBy.name}: ${record.reason}`, ...record.reasons];
  }
  return record.reasons.length > 0 ? record.reasons : [record.status];
}

/** Where the full record of `name@version` can be read. */
export function reportUrl(req: IncomingMessage, name: string, version: string): string {
  const encoded = `${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
  return `${baseUrl(req)}/-/vetted/api/versions/${encoded}`;
}

/**
 * The scheme and host the client used, behind a proxy too. `X-Forwarded-Proto` counts only as
 * `http` or `https`, and a host header only as a plain `host[:port]`: anything else (a path, a
 * query, userinfo, another scheme) would put tarball and report URLs somewhere else, so it is
 * ignored for the next source (X-Forwarded-Host, then Host, then `localhost`).
 */
export function baseUrl(req: IncomingMessage): string {
  const forwarded = firstHeader(req.headers['x-forwarded-proto'])?.toLowerCase();
  const proto = forwarded === 'https' || forwarded === 'http' ? forwarded : 'http';
  const host =
    validHost(firstHeader(req.headers['x-forwarded-host'])) ??
    validHost(req.headers.host) ??
    'localhost';
  return `${proto}://${host}`;
}

/** The request headers `baseUrl` reads, for `Vary` on answers that embed it. */
export const BASE_URL_HEADERS = ['X-Forwarded-Host', 'X-Forwarded-Proto'] as const;

// a host name (underscores too: compose service names) or IPv4 address, or a bracketed IPv6
// address, then an optional port
const HOST =
  /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/i;

function validHost(value: string | undefined): string | undefined {
  if (!value || value.length > 255) return undefined;
  const match = HOST.exec(value);
  if (!match) return undefined;
  const port = match[1];
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65535) ? value : undefined;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v?.split(',')[0]?.trim() || undefined;
}

/** HTTP headers (and the status line) carry printable ASCII only. */
export function headerSafe(text: string, max = 300): string {
  const clean = text.replace(/…/g, '...').replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(Buffer.byteLength(text)));
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}
