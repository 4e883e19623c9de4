/**
 * The metadata middleware: runs in front of Verdaccio's routes and finishes what its
 * `filter_metadata` started. Verdaccio 6.8 strips unknown top-level fields, abbreviates and
 * answers `/name/version`, `/name/tag` and `/-/package/name/dist-tags` on its own, and rewrites
 * tarball URLs from the Host header only. So every metadata route is asked of Verdaccio as the
 * full packument, and the answer is rebuilt here: `policyRestrictions`, canonical tarball URLs
 * with the client's scheme and host (X-Forwarded-Proto/Host), the abbreviated form, the
 * version, tag and dist-tags views, and an ETag over the final bytes and the verdicts behind
 * them (If-None-Match is answered here, never by Verdaccio's ETag of its own body).
 * Fails closed: no report from the filter, or a failed one, answers 503.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import semver from 'semver';
import type { Logger } from '../log/logger';
import { BASE_URL_HEADERS, baseUrl, reportUrl, sendJson, STATUS_WORDS } from '../gate/respond';
import { errorMessage } from '../errors';
import { abbreviate, ABBREVIATED_TYPE } from './abbreviate';
import { metadataContext } from './context';
import type { MetadataContext } from './context';
import { packumentPath, parseMetadataPath } from './metadata-path';
import type { MetadataPath } from './metadata-path';
import { restrictionMessage } from './steer';
import type { Packument, SteerResult } from './steer';
import { refuseRestricted } from './refuse';
import { createWithheldLog } from './withheld-log';
import type { NoteWithheldFn, WithheldLogOptions } from './withheld-log';

type Next = (err?: unknown) => void;
type Chunk = string | Buffer | Uint8Array;

export interface MetadataFinisher {
  /** Synchronous, as the tarball gate's: decides whether this request is a metadata route. */
  claims(req: IncomingMessage): MetadataPath | undefined;
  handle(req: IncomingMessage, res: ServerResponse, next: Next, path: MetadataPath): void;
}

export function createMetadataFinisher(
  logger: Logger,
  options: { withheldLog?: WithheldLogOptions } = {},
): MetadataFinisher {
  const noteWithheld = createWithheldLog(logger, options.withheldLog);
  const claims = (req: IncomingMessage) =>
    req.method === 'GET' || req.method === 'HEAD' ? parseMetadataPath(req.url ?? '/') : undefined;

  const handle = (req: IncomingMessage, res: ServerResponse, next: Next, path: MetadataPath) => {
    const original = {
      method: req.method,
      abbreviated: prefersAbbreviated(req.headers.accept),
      ifNoneMatch: req.headers['if-none-match'],
    };
    // Verdaccio answers the full packument; conditional requests are ours to answer
    req.url = packumentPath(path.name);
    req.method = 'GET';
    req.headers.accept = 'application/json';
    delete req.headers['if-none-match'];
    delete req.headers['if-modified-since'];
    const context: MetadataContext = {};
    captureBody(res, (status, body, end) => {
      req.method = original.method;
      try {
        const answer = finish(req, path, status, body, context, original.abbreviated, noteWithheld);
        if (answer.kind === 'raw') return end(body);
        // tarball and report URLs follow the forwarded host; the packument's form follows Accept
        addVary(res, [...BASE_URL_HEADERS, ...(path.kind === 'packument' ? ['Accept'] : [])]);
        if (answer.kind === 'error') {
          restoreHeaders(res);
          if (answer.notice) res.setHeader('npm-notice', answer.notice);
          if (answer.reason) res.statusMessage = `Forbidden - ${answer.reason}`;
          return sendJson(res, answer.status, answer.body);
        }
        const etag = `"${createHash('sha256').update(answer.text).update(answer.key).digest('base64url').slice(0, 32)}"`;
        restoreHeaders(res);
        res.setHeader('ETag', etag);
        res.setHeader('Cache-Control', 'no-cache');
        res.setHeader('Content-Type', answer.type);
        if (matches(original.ifNoneMatch, etag)) {
          res.statusCode = 304;
          res.removeHeader('Content-Type');
          return end();
        }
        res.statusCode = 200;
        res.setHeader('Content-Length', String(Buffer.byteLength(answer.text)));
        end(original.method === 'HEAD' ? undefined : answer.text);
      } catch (err) {
        logger.error(
          { pkg: path.name, err: errorMessage(err) },
          'cannot finish the metadata of @{pkg}: @{err}',
        );
        restoreHeaders(res);
        sendJson(res, 503, { error: `vetted cannot serve the metadata of ${path.name} now` });
      }
    });
    metadataContext.run(context, () => next());
  };
  return { claims, handle };
}

type Answer =
  | { kind: 'raw' }
  | { kind: 'json'; text: string; type: string; key: string }
  | {
      kind: 'error';
      status: number;
      body: Record<string, unknown>;
      notice?: string;
      reason?: string;
    };

function finish(
  req: IncomingMessage,
  path: MetadataPath,
  status: number,
  body: Buffer,
  context: MetadataContext,
  abbreviated: boolean,
  noteWithheld: NoteWithheldFn,
): Answer {
  if (context.failed) {
    return {
      kind: 'error',
      status: 503,
      body: { error: `vetted cannot filter the metadata of ${path.name}: ${context.failed}` },
    };
  }
  // errors (404 for an unknown package, 401/403 from access rules) pass through as Verdaccio sent them
  if (status !== 200) return { kind: 'raw' };
  const steered = context.steered;
  if (!steered) {
    return {
      kind: 'error',
      status: 503,
      body: {
        error: `vetted's metadata filter did not run for ${path.name}; check the filters config`,
      },
    };
  }
  const doc = JSON.parse(body.toString('utf8')) as Packument;
  completeDocument(req, doc, steered);
  noteWithheld(path.name, steered.restricted, (v) => reportUrl(req, path.name, v));
  const json = (value: unknown, type = 'application/json') => ({
    kind: 'json' as const,
    text: JSON.stringify(value),
    type,
    key: steered.verdictKey,
  });
  switch (path.kind) {
    case 'packument':
      return abbreviated ? json(abbreviate(doc), ABBREVIATED_TYPE) : json(doc);
    case 'dist-tags':
      return json(doc['dist-tags'] ?? {});
    case 'version': {
      const versions = doc.versions ?? {};
      const tagged = doc['dist-tags']?.[path.spec];
      const version = semver.valid(path.spec) ? (semver.clean(path.spec) ?? path.spec) : tagged;
      if (version && versions[version]) return json(versions[version]);
      const restriction = version ? steered.restricted[version] : undefined;
      if (version && restriction) return refuseRestricted(req, path.name, version, restriction);
      return {
        kind: 'error',
        status: 404,
        body: { error: `${path.name} has no version or tag ${path.spec}` },
      };
    }
  }
}

/** policyRestrictions, and canonical tarball URLs on the host and scheme the client used. */
function completeDocument(req: IncomingMessage, doc: Packument, steered: SteerResult): void {
  const name = String(doc.name);
  const base = `${baseUrl(req)}/${name}/-/${name.slice(name.lastIndexOf('/') + 1)}`;
  const retarget = (manifest: Record<string, unknown>, version: string) => {
    const dist = manifest.dist as Record<string, unknown> | undefined;
    if (dist && typeof dist === 'object') dist.tarball = `${base}-${version}.tgz`;
  };
  for (const [version, manifest] of Object.entries(doc.versions ?? {})) retarget(manifest, version);
  const restricted = Object.entries(steered.restricted);
  if (restricted.length === 0) return;
  const versions: Record<string, Record<string, unknown>> = {};
  for (const [version, r] of restricted) {
    retarget(r.manifest, version);
    versions[version] = r.manifest;
  }
  const report = (v: string) => reportUrl(req, name, v);
  const message = restrictionMessage(name, steered.restricted, report, STATUS_WORDS);
  doc.policyRestrictions = { message, versions };
}

/** What `Accept` the client ranks first, as Verdaccio reads it. */
function prefersAbbreviated(accept: string | undefined): boolean {
  if (!accept) return false;
  let best = { type: '', q: -1 };
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (q > best.q) best = { type: type.trim().toLowerCase(), q };
  }
  return best.type === ABBREVIATED_TYPE;
}

function matches(header: string | string[] | undefined, etag: string): boolean {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) return false;
  return value.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*');
}

/** Adds `names` to the response's `Vary`, keeping what is there (Accept-Encoding). */
function addVary(res: ServerResponse, names: readonly string[]): void {
  const current = res.getHeader('vary');
  const have = (Array.isArray(current) ? current.join(',') : String(current ?? ''))
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  const lower = new Set(have.map((v) => v.toLowerCase()));
  const all = [...have, ...names.filter((n) => !lower.has(n.toLowerCase()))];
  res.setHeader('Vary', all.join(', '));
}

/** Verdaccio's headers for its own body no longer apply. */
function restoreHeaders(res: ServerResponse): void {
  for (const h of ['etag', 'content-length', 'content-type', 'content-encoding'])
    res.removeHeader(h);
}

/**
 * Holds back what Verdaccio writes to `res` and hands it to `done` at `end`, with the original
 * `end` to send the replacement through (Verdaccio's compression still applies after it).
 */
function captureBody(
  res: ServerResponse,
  done: (status: number, body: Buffer, end: (text?: string | Buffer) => void) => void,
): void {
  const write = res.write.bind(res);
  const end = res.end.bind(res);
  const chunks: Buffer[] = [];
  const keep = (chunk: Chunk | undefined, encoding?: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    chunks.push(
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : Buffer.from(chunk),
    );
  };
  res.write = ((chunk: Chunk, encoding?: unknown) => {
    keep(chunk, encoding);
    return true;
  }) as typeof res.write;
  res.end = ((chunk?: Chunk, encoding?: unknown) => {
    keep(chunk, encoding);
    res.write = write;
    res.end = end;
    done(res.statusCode, Buffer.concat(chunks), (text) => (text === undefined ? end() : end(text)));
    return res;
  }) as typeof res.end;
}
