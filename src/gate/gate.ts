/**
 * The tarball gate: for a tarball request, decides from the verified index and answers with the
 * verified bytes, 403 with the reason, or 503 when the index or store cannot answer. Works on
 * Node's request and response, so it runs the same inside Verdaccio and in tests.
 * Fails closed: no path through here serves bytes that are not the stored, admitted ones.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { parseTarballPath } from './tarball-path';
import type { TarballPath } from './tarball-path';
import type { Vetted } from '../vetted';
import type { Logger } from '../log/logger';
import type { Status, VersionRecord } from '../types';
import { isAdmitted } from '../types';
import { errorMessage } from '../errors';

export interface GateDeps {
  vetted: () => Vetted | undefined;
  /** Why the engine is not available, when `vetted()` returns undefined. */
  unavailableReason: () => string;
  logger: Logger;
}

/** A claimed tarball request, decoded. */
export type ClaimedPath = Exclude<TarballPath, { kind: 'other' }>;

export interface Gate {
  /**
   * Whether the gate answers this request. Synchronous on purpose: Verdaccio's request logger
   * reads bodies as they arrive, so an await before passing a request on would lose its body.
   */
  claims(req: IncomingMessage): ClaimedPath | undefined;
  handle(req: IncomingMessage, res: ServerResponse, parsed: ClaimedPath): Promise<void>;
}

export function createGate(deps: GateDeps): Gate {
  const claims = (req: IncomingMessage): ClaimedPath | undefined => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
    const parsed = parseTarballPath(req.url ?? '/');
    return parsed.kind === 'other' ? undefined : parsed;
  };
  const handle = async (
    req: IncomingMessage,
    res: ServerResponse,
    parsed: ClaimedPath,
  ): Promise<void> => {
    if (parsed.kind === 'invalid') {
      sendJson(res, parsed.status, { error: parsed.message });
      return;
    }
    const vetted = deps.vetted();
    if (!vetted) {
      sendJson(res, 503, { error: `vetted is not ready: ${deps.unavailableReason()}` });
      return;
    }
    const { name, version } = parsed;
    try {
      let record = await vetted.index.get(name, version);
      if (!record || record.status === 'pending') {
        await vetted.queue.enqueue(name, version, 'install');
        const wait = vetted.options.waitForVerdictMs;
        if (wait > 0) {
          const closed = new AbortController();
          const onClose = () => closed.abort();
          res.once('close', onClose);
          record = await vetted.queue.waitFor(name, version, wait, closed.signal);
          res.off('close', onClose);
          if (closed.signal.aborted) return;
        }
      }
      if (!record && !vetted.queue.has(name, version)) {
        sendJson(res, 404, { error: `${name}@${version} does not exist on the upstream registry` });
        return;
      }
      if (record && isAdmitted(record.status)) {
        await serveVerified(vetted, record, req, res, deps.logger);
        return;
      }
      refuse(req, res, name, version, record, vetted);
    } catch (err) {
      deps.logger.error(
        { pkg: name, version, err: errorMessage(err) },
        'gate cannot decide @{pkg}@@{version}: @{err}',
      );
      if (!res.headersSent)
        sendJson(res, 503, {
          error: `vetted cannot decide ${name}@${version} right now; try again`,
        });
      else res.destroy();
    }
  };
  return { claims, handle };
}

async function serveVerified(
  vetted: Vetted,
  record: VersionRecord,
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger,
): Promise<void> {
  const key = `${record.name}@${record.version}`;
  const opened = record.storedIntegrity
    ? await vetted.store.open(record.storedIntegrity, key)
    : undefined;
  if (!opened) {
    logger.error(
      { pkg: record.name, version: record.version },
      'admitted @{pkg}@@{version} has no stored bytes',
    );
    sendJson(res, 503, {
      error: `${key} is admitted but its verified bytes are missing from vetted's store; ask an admin to re-verify it`,
    });
    return;
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', String(opened.size));
  res.setHeader('Cache-Control', 'public, max-age=300');
  if (req.method === 'HEAD') {
    opened.stream.destroy();
    res.end();
    return;
  }
  try {
    await pipeline(opened.stream, res);
  } catch (err) {
    // a store mismatch shows up here: the last chunk was held back, the client gets a cut stream
    if ((err as { code?: string }).code === 'STORE_CORRUPT') {
      logger.error(
        { pkg: record.name, version: record.version, err: errorMessage(err) },
        'STORE ALERT: @{err}',
      );
      if (!res.headersSent)
        sendJson(res, 503, { error: `${key}: stored bytes failed their check` });
      else res.destroy();
    }
  }
}

const STATUS_WORDS: Record<Status, string> = {
  pending: 'is being verified',
  verified: 'is verified',
  approved: 'is approved',
  held: 'is held for review',
  rejected: 'was rejected',
  denied: 'was denied by an admin',
  revoked: 'was revoked',
};

function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  version: string,
  record: VersionRecord | undefined,
  vetted: Vetted,
): void {
  const status: Status = record?.status ?? 'pending';
  const reasons = !record
    ? []
    : record.decidedBy.kind === 'admin' && record.reason
      ? [`${record.decidedBy.name}: ${record.reason}`, ...record.reasons]
      : record.reasons.length > 0
        ? record.reasons
        : [status];
  const report = `${baseUrl(req)}/-/vetted/api/versions/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
  const first =
    status === 'pending'
      ? `verification is queued (${vetted.queue.depth().queued + vetted.queue.depth().running} in the queue); retry in a few seconds`
      : (reasons[0] ?? status);
  const sentence = `${name}@${version} ${STATUS_WORDS[status]}: ${first}`;
  res.setHeader('npm-notice', headerSafe(`${name}@${version} ${status}: ${first}`));
  sendJson(res, 403, {
    error: `${sentence}. Report: ${report}`,
    name,
    version,
    status,
    reasons,
    report,
  });
}

/** The scheme and host the client used. */
export function baseUrl(req: IncomingMessage): string {
  const proto = firstHeader(req.headers['x-forwarded-proto']) ?? 'http';
  const host = firstHeader(req.headers['x-forwarded-host']) ?? req.headers.host ?? 'localhost';
  return `${proto}://${host}`;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v?.split(',')[0]?.trim() || undefined;
}

function headerSafe(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 300 ? `${clean.slice(0, 300)}…` : clean;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(Buffer.byteLength(text)));
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}
