/**
 * vetted's Verdaccio middleware plugin: a thin adapter. It parses `middlewares.vetted`, starts
 * the engine (src/vetted.ts) and puts two handlers in front of Verdaccio's routes: the tarball
 * gate and the admin API under `/-/vetted/`. Plugin middlewares run after Verdaccio has read the
 * request's token, so `req.remote_user` is set, and before its tarball route.
 */
import { dirname } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { parseOptions } from '../../src/config/options';
import type { VettedOptions } from '../../src/config/options';
import { createVetted, registerInstance } from '../../src/vetted';
import type { Vetted } from '../../src/vetted';
import { createGate, sendJson } from '../../src/gate/gate';
import { createAdminApp } from '../../src/admin/app';
import type { Logger } from '../../src/log/logger';
import { childLogger } from '../../src/log/logger';
import { errorMessage } from '../../src/errors';

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

const MAX_ADMIN_BODY = 1024 * 1024;

export default class VettedMiddleware {
  readonly #logger: Logger;
  readonly #options: VettedOptions;
  readonly #publicReads: boolean;
  #vetted: Vetted | undefined;
  #failure = 'starting';

  constructor(_merged: unknown, plugin: { config: VerdaccioConfig; logger: Logger }) {
    const config = plugin.config;
    this.#logger = childLogger(plugin.logger, { component: 'vetted' });
    const configFile = config.self_path ?? config.configPath ?? `${process.cwd()}/config.yaml`;
    const uplinkUrl = Object.values(config.uplinks ?? {})[0]?.url;
    // parsed here so a bad option stops Verdaccio at start, not at the first request
    this.#options = parseOptions(config.middlewares?.vetted, {
      configDir: dirname(configFile),
      storage: config.storage,
      uplinkUrl,
    });
    const access = config.packages?.['**']?.access ?? '$all';
    const accessList = Array.isArray(access) ? access : String(access).split(/\s+/);
    this.#publicReads = accessList.includes('$all') || accessList.includes('$anonymous');
  }

  register_middlewares(app: ExpressLike): void {
    const logger = this.#logger;
    createVetted(this.#options, logger).then(
      (vetted) => {
        this.#vetted = vetted;
        registerInstance(vetted);
        logger.info(
          {
            home: this.#options.home,
            upstream: this.#options.upstream,
            policy: vetted.policy.source,
            workers: this.#options.workers,
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

    const gate = createGate({
      vetted: () => this.#vetted,
      unavailableReason: () => this.#failure,
      logger,
    });
    const admin = createAdminApp({
      vetted: () => this.#vetted,
      logger,
      adminGroups: this.#options.adminGroups,
      publicReads: this.#publicReads,
    });
    const listener = getRequestListener(admin.fetch, { overrideGlobalObjects: false });

    // Verdaccio's request logger, first in its chain, reads request bodies as they arrive; the
    // admin API's bodies must be kept before it runs, so this one handler goes to the front.
    app.use(keepAdminBody);
    app._router?.stack.unshift(app._router.stack.pop());

    app.use((req, res, next) => {
      if (req.url?.startsWith('/-/vetted/')) {
        void listener(req, res);
        return;
      }
      const claimed = gate.claims(req);
      if (!claimed) return next();
      gate.handle(req, res, claimed).catch((err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'tarball gate error: @{err}');
        if (!res.headersSent) sendJson(res, 503, { error: 'vetted could not decide; try again' });
        else res.destroy();
      });
    });
  }
}

/** Buffers the body of admin API writes into `req.rawBody` (read by @hono/node-server). */
function keepAdminBody(
  req: IncomingMessage & { rawBody?: Buffer },
  res: ServerResponse,
  next: Next,
): void {
  if (req.method === 'GET' || req.method === 'HEAD' || !req.url?.startsWith('/-/vetted/'))
    return next();
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_ADMIN_BODY) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > MAX_ADMIN_BODY)
      return sendJson(res, 413, { code: 'BODY_TOO_LARGE', error: 'request body over 1 MB' });
    req.rawBody = Buffer.concat(chunks);
    next();
  });
  req.on('error', () => res.destroy());
}
