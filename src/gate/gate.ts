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
import { refuse, sendJson, storeDamagedReason } from './respond';
import type { Vetted } from '../vetted';
import type { Logger } from '../log/logger';
import type { VersionRecord } from '../types';
import { isAdmitted } from '../types';
import { errorCode, errorMessage } from '../errors';

export { sendJson } from './respond';

export interface GateDeps {
  vetted: () => Vetted | undefined;
  /** Why the engine is not available, when `vetted()` returns undefined. */
  unavailableReason: () => string;
  logger: Logger;
  /**
   * Verdaccio's access rules for the package: undefined when allowed, else the status to answer.
   * The gate answers tarball routes itself, so it must apply them as Verdaccio's route would.
   */
  canAccess?: (
    name: string,
    version: string,
    req: IncomingMessage,
  ) => Promise<{ status: 401 | 403; message: string } | undefined>;
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

  const handle = async (req: IncomingMessage, res: ServerResponse, parsed: ClaimedPath) => {
    if (parsed.kind === 'invalid') return sendJson(res, parsed.status, { error: parsed.message });
    const vetted = deps.vetted();
    if (!vetted) {
      return sendJson(res, 503, { error: `vetted is not ready: ${deps.unavailableReason()}` });
    }
    const { name, version } = parsed;
    const denied = await deps.canAccess?.(name, version, req);
    if (denied) return sendJson(res, denied.status, { error: denied.message });
    try {
      await decide(vetted, req, res, name, version, deps.logger);
    } catch (err) {
      deps.logger.error(
        { pkg: name, version, err: errorMessage(err) },
        'gate cannot decide @{pkg}@@{version}: @{err}',
      );
      if (res.headersSent) return void res.destroy();
      sendJson(res, 503, { error: `vetted cannot decide ${name}@${version} right now; try again` });
    }
  };
  return { claims, handle };
}

async function decide(
  vetted: Vetted,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  version: string,
  logger: Logger,
): Promise<void> {
  const depth = () => {
    const { queued, running } = vetted.queue.depth();
    return queued + running;
  };
  let record = await vetted.index.get(name, version);
  if (!record && vetted.index.isTampered(name, version)) {
    // verifying again on its own would undo a revocation someone erased: a person decides
    const override = ['its index record failed its signature check; an admin must re-verify it'];
    return refuse(req, res, { name, version, override, queueDepth: depth() }, logger);
  }
  if (!record) {
    // unknown versions cost an upstream fetch each: only real ones are queued
    if (!vetted.queue.has(name, version)) {
      const exists = await vetted.versionExists(name, version);
      if (exists === false) {
        return sendJson(res, 404, {
          error: `${name}@${version} is not available from the upstream registry (it has no such version or refuses the package)`,
        });
      }
      if (exists === undefined) {
        // nothing is queued for a version nobody can confirm: an outage must not fill the queue
        return sendJson(res, 503, {
          error: `${name}@${version} cannot be verified now: the upstream registry does not answer; try again`,
        });
      }
    }
    await vetted.queue.enqueue(name, version, 'install');
    record = await waitForVerdict(vetted, res, name, version);
    if (res.destroyed) return;
  }
  if (record && isAdmitted(record.status)) return serveVerified(vetted, record, req, res, logger);
  refuse(req, res, { name, version, record, queueDepth: depth() }, logger);
}

/** Holds the request up to `waitForVerdict` for a queued version, unless the client leaves. */
async function waitForVerdict(vetted: Vetted, res: ServerResponse, name: string, version: string) {
  const wait = vetted.options.waitForVerdictMs;
  if (wait <= 0) return vetted.index.get(name, version);
  const closed = new AbortController();
  const onClose = () => closed.abort();
  res.once('close', onClose);
  try {
    return await vetted.queue.waitFor(name, version, wait, closed.signal);
  } finally {
    res.off('close', onClose);
  }
}

async function serveVerified(
  vetted: Vetted,
  record: VersionRecord,
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger,
): Promise<void> {
  const key = `${record.name}@${record.version}`;
  let opened;
  try {
    opened = record.storedIntegrity
      ? await vetted.store.open(record.storedIntegrity, key)
      : undefined;
  } catch (err) {
    if (errorCode(err) !== 'STORE_CORRUPT') throw err;
    await storeAlert(vetted, record, logger, errorMessage(err));
    return sendJson(res, 503, {
      error: storeDamagedReason(key),
    });
  }
  if (!opened) {
    logger.error(
      { pkg: record.name, version: record.version },
      'admitted @{pkg}@@{version} has no stored bytes',
    );
    return sendJson(res, 503, {
      error: `${key} is admitted but its verified bytes are missing from vetted's store; ask an admin to re-verify it`,
    });
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', String(opened.size));
  // caches must ask again: a revocation takes effect on the next request
  res.setHeader('Cache-Control', 'no-cache');
  if (req.method === 'HEAD' || opened.body) {
    opened.stream?.destroy();
    res.end(req.method === 'HEAD' ? undefined : opened.body);
    return;
  }
  try {
    await pipeline(opened.stream, res);
  } catch (err) {
    // large tarballs stream with the last chunk held back until the digest matches
    if (errorCode(err) === 'STORE_CORRUPT')
      await storeAlert(vetted, record, logger, errorMessage(err));
    res.destroy();
  }
}

/**
 * Logs a store mismatch, marks the verdict's bytes damaged (status answers say so), and
 * records it in the audit log once per verdict: a copy damaged again after a re-verification
 * is a new alert.
 */
async function storeAlert(vetted: Vetted, record: VersionRecord, logger: Logger, message: string) {
  logger.error({ pkg: record.name, version: record.version, err: message }, 'STORE ALERT: @{err}');
  if (!vetted.index.markStoreDamaged(record)) return;
  await vetted.index
    .appendAudit({
      action: 'alert',
      actor: { kind: 'policy', name: 'store' },
      name: record.name,
      version: record.version,
      status: record.status,
      reason: `STORE_CORRUPT: ${message}`,
    })
    .catch(() => {});
}
