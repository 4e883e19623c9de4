/**
 * vetted's Verdaccio middleware plugin: a thin adapter. It parses `middlewares.vetted`, starts
 * the engine (src/vetted.ts) and puts two handlers in front of Verdaccio's routes: the tarball
 * gate and the admin API under `/-/vetted/`. Plugin middlewares run after Verdaccio has read the
 * request's token, so `req.remote_user` is set, and before its tarball route.
 */
import { dirname, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { parseOptions } from '../../src/config/options';
import type { VettedOptions } from '../../src/config/options';
import { createVetted, markMounted, registerInstance } from '../../src/vetted';
import { redactUrl } from '../../src/log/redact';
import type { Vetted } from '../../src/vetted';
import { createGate, sendJson } from '../../src/gate/gate';
import { createAdminApp } from '../../src/admin/app';
import { watchPublish } from '../../src/registry/publish-watch';
import { createConsoleApp } from '../../src/admin/console/app';
import { createSessionKeeper, loadSessionSecret } from '../../src/admin/session';
import type { SessionUser } from '../../src/admin/session';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../src/log/logger';
import { childLogger } from '../../src/log/logger';
import { errorMessage } from '../../src/errors';
import { createMetadataFinisher } from '../../src/metadata/finish';
import { forwardToUpstream, isPassthrough } from '../../src/registry/passthrough';
import { dropMalformedVersions } from '../../src/registry/packument-guard';
import { isPrototypeLookup } from '../../src/gate/prototype-path';

interface VerdaccioConfig {
  self_path?: string;
  configPath?: string;
  storage?: string;
  uplinks?: Record<string, { url?: string }>;
  packages?: Record<string, { access?: string | string[] }>;
  middlewares?: Record<string, unknown>;
}

type Next = (err?: unknown) => void;
type Handler = (
  req: IncomingMessage & { rawBody?: Buffer },
  res: ServerResponse,
  next: Next,
) => void;
type ExpressLike = { use(fn: Handler): void; _router?: { stack: unknown[] } };

// console uploads of a package-lock.json can be a few MB
const MAX_ADMIN_BODY = 16 * 1024 * 1024;

type AllowAccess = (
  pkg: { packageName: string; packageVersion?: string },
  user: unknown,
  callback: (err: { status?: number; message?: string } | null, allowed?: boolean) => void,
) => void;

export default class VettedMiddleware {
  readonly #logger: Logger;
  readonly #options: VettedOptions | undefined;
  readonly #publicReads: boolean;
  #vetted: Vetted | undefined;
  #failure = 'starting';

  constructor(_merged: unknown, plugin: { config: VerdaccioConfig; logger: Logger }) {
    const config = plugin.config;
    this.#logger = childLogger(plugin.logger, { component: 'vetted' });
    const configFile = config.self_path ?? config.configPath ?? `${process.cwd()}/config.yaml`;
    const uplinkUrl = Object.values(config.uplinks ?? {})[0]?.url;
    // Verdaccio skips a plugin whose constructor throws and serves everything unchecked, so a
    // bad option must not throw here: it is kept, and every tarball then answers 503.
    try {
      this.#options = parseOptions(config.middlewares?.vetted, {
        configDir: dirname(configFile),
        storage: config.storage,
        uplinkUrl,
      });
    } catch (err) {
      this.#failure = `vetted is misconfigured: ${errorMessage(err)}`;
      this.#logger.error({ err: this.#failure }, '@{err}; every tarball answers 503');
    }
    const access = config.packages?.['**']?.access ?? '$all';
    const accessList = Array.isArray(access) ? access : String(access).split(/\s+/);
    this.#publicReads = accessList.includes('$all') || accessList.includes('$anonymous');
  }

  register_middlewares(
    app: ExpressLike,
    auth: { allow_access: AllowAccess; authenticate?: Authenticate },
    storage?: VerdaccioStorage,
  ): void {
    markMounted();
    const logger = this.#logger;
    guardUplinkMetadata(storage, logger);
    const options = this.#options;
    if (options) this.#start(options);

    const gate = createGate({
      vetted: () => this.#vetted,
      unavailableReason: () => this.#failure,
      logger,
      canAccess: (name, version, req) =>
        new Promise((resolve) => {
          const user = (req as IncomingMessage & { remote_user?: unknown }).remote_user;
          auth.allow_access({ packageName: name, packageVersion: version }, user, (err, ok) =>
            resolve(
              err || !ok
                ? {
                    status: err?.status === 401 ? 401 : 403,
                    message: err?.message ?? 'access denied',
                  }
                : undefined,
            ),
          );
        }),
    });
    const admin = createAdminApp({
      vetted: () => this.#vetted,
      logger,
      adminGroups: options?.adminGroups ?? [],
      publicReads: this.#publicReads,
    });
    const listener = getRequestListener(admin.fetch, { overrideGlobalObjects: false });
    const consoleApp = createConsoleApp({
      vetted: () => this.#vetted,
      logger,
      adminGroups: options?.adminGroups ?? [],
      sessions: createSessionKeeper(
        options ? loadSessionSecret(join(options.home, 'keys')) : randomBytes(32),
      ),
      // Verdaccio's Auth methods use `this`
      authenticate: (name, password) =>
        verdaccioLogin(auth.authenticate?.bind(auth), name, password),
      metricsPublic: options?.metricsPublic ?? false,
    });
    const consoleListener = getRequestListener(consoleApp.fetch, { overrideGlobalObjects: false });
    const metadata = createMetadataFinisher(logger);

    // Verdaccio's request logger, first in its chain, reads request bodies as they arrive; the
    // admin API's bodies must be kept before it runs, so this one handler goes to the front.
    app.use(keepAdminBody);
    app._router?.stack.unshift(app._router.stack.pop());

    app.use((req, res, next) => {
      if (req.url?.startsWith('/-/vetted/api/')) {
        void listener(req, res);
        return;
      }
      if (req.url === '/-/vetted' || req.url?.startsWith('/-/vetted/')) {
        void consoleListener(req, res);
        return;
      }
      if (isPassthrough(req)) return this.#forward(req, res);
      const local = this.#vetted?.local;
      if (local && req.method === 'PUT') return watchPublish(req, res, next, local, logger);
      const claimed = gate.claims(req);
      if (!claimed) {
        if (req.method === 'GET' && isPrototypeLookup(req.url ?? '/')) {
          return sendJson(res, 404, { error: 'no such version or dist-tag' });
        }
        const route = metadata.claims(req);
        return route ? metadata.handle(req, res, next, route) : next();
      }
      res.on('finish', () => this.#vetted?.metrics.recordGate(gateResult(res.statusCode)));
      gate.handle(req, res, claimed).catch((err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'tarball gate error: @{err}');
        if (!res.headersSent) sendJson(res, 503, { error: 'vetted could not decide; try again' });
        else res.destroy();
      });
    });
  }

  /** `npm audit`, keys and attestations go to the upstream as they are. */
  #forward(req: IncomingMessage & { rawBody?: Buffer }, res: ServerResponse): void {
    const vetted = this.#vetted;
    if (!vetted) return sendJson(res, 503, { error: `vetted is not ready: ${this.#failure}` });
    forwardToUpstream(req, res, vetted.options.upstream).catch((err: unknown) => {
      this.#logger.warn({ err: errorMessage(err) }, 'forwarding to the upstream failed: @{err}');
      if (!res.headersSent) sendJson(res, 404, { error: 'the upstream registry did not answer' });
      else res.destroy();
    });
  }

  #start(options: VettedOptions): void {
    const logger = this.#logger;
    createVetted(options, logger).then(
      (vetted) => {
        this.#vetted = vetted;
        registerInstance(vetted);
        logger.info(
          {
            home: options.home,
            upstream: redactUrl(options.upstream),
            policy: vetted.policy.source,
            workers: options.workers,
          },
          'vetted ready: home @{home}, upstream @{upstream}, policy @{policy}, @{workers} workers',
        );
      },
      (err: unknown) => {
        this.#failure = errorMessage(err);
        logger.error(
          { err: this.#failure },
          'vetted could not start; every tarball answers 503: @{err}',
        );
      },
    );
  }
}

type Authenticate = (
  name: string,
  password: string,
  callback: (
    err: unknown,
    user?: { name?: string; groups?: string[]; real_groups?: string[] } | false,
  ) => void,
) => void;

/** Checks a console login with Verdaccio's own auth plugins (htpasswd or whatever is set up). */
function verdaccioLogin(
  authenticate: Authenticate | undefined,
  name: string,
  password: string,
): Promise<SessionUser | undefined> {
  if (!authenticate) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    try {
      authenticate(name, password, (err, user) => {
        if (err || !user || !user.name) return resolve(undefined);
        resolve({ name: user.name, groups: [...(user.groups ?? []), ...(user.real_groups ?? [])] });
      });
    } catch {
      resolve(undefined);
    }
  });
}

function gateResult(status: number): 'served' | 'refused' | 'unavailable' | 'other' {
  if (status === 200 || status === 304) return 'served';
  if (status === 403) return 'refused';
  if (status === 503) return 'unavailable';
  return 'other';
}

type UpdateVersions = (name: string, packument: unknown, callback: unknown) => unknown;
type VerdaccioStorage = { localStorage?: { updateVersions?: UpdateVersions } };

/**
 * Verdaccio merges uplink packuments into its storage in a callback that throws, uncaught, on a
 * version whose `dist.tarball` is not a string: one hostile upstream document would stop the
 * server. Such versions are dropped before the merge (see src/registry/packument-guard.ts).
 */
function guardUplinkMetadata(storage: VerdaccioStorage | undefined, logger: Logger): void {
  const local = storage?.localStorage;
  const original = local?.updateVersions;
  if (!local || typeof original !== 'function') {
    logger.warn({}, 'cannot guard uplink metadata: Verdaccio storage has no updateVersions');
    return;
  }
  local.updateVersions = function (name, packument, callback) {
    for (const [version, why] of dropMalformedVersions(packument)) {
      logger.warn(
        { pkg: name, version, err: why },
        'upstream packument of @{pkg} has a malformed version @{version} (@{err}); left out',
      );
    }
    return original.call(this, name, packument, callback);
  };
}

/**
 * Buffers the body of admin API writes into `req.rawBody` (read by @hono/node-server), and of
 * the audit requests forwarded to the upstream.
 */
function keepAdminBody(
  req: IncomingMessage & { rawBody?: Buffer },
  res: ServerResponse,
  next: Next,
): void {
  if (req.method === 'GET' || req.method === 'HEAD') return next();
  if (!req.url?.startsWith('/-/vetted/') && !isPassthrough(req)) return next();
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_ADMIN_BODY) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > MAX_ADMIN_BODY)
      return sendJson(res, 413, {
        code: 'BODY_TOO_LARGE',
        error: `request body over ${MAX_ADMIN_BODY / 1024 ** 2} MiB`,
      });
    req.rawBody = Buffer.concat(chunks);
    next();
  });
  req.on('error', () => res.destroy());
}
