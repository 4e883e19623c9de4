/**
 * The admin API under `/-/vetted/api/`, a Hono app mounted inside Verdaccio. Users come from
 * Verdaccio's own authentication (`remote_user`, set from the request's token before plugins
 * run); decisions need a member of the admin group. Errors are JSON `{ code, error }`.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { applyDecision, DECISIONS } from './decisions';
import { registerTreeRoutes } from './tree-routes';
import { refuseCrossSite, versionPath as parseVersionPath } from './console/request';
import type { Decision, DecisionResult } from './decisions';
import { approveLockfile, approveWithScope } from './scoped-approval';
import type { Exemption } from './exemptions';
import type { Vetted } from '../vetted';
import { parseSpec, resolveSpec } from '../registry/resolve-spec';
import { STATUSES } from '../types';
import type { Decider } from '../types';
import { VettedError, isVettedError, errorMessage } from '../errors';
import type { Logger } from '../log/logger';
import { redactUrl } from '../log/redact';

export interface RemoteUser {
  name?: string | null;
  groups?: string[];
  real_groups?: string[];
}

export type AdminBindings = {
  incoming: IncomingMessage & { remote_user?: RemoteUser };
  outgoing: unknown;
};

export interface AdminDeps {
  vetted: () => Vetted | undefined;
  logger: Logger;
  adminGroups: readonly string[];
  /** Whether anonymous users may read records (the packages are readable by $all). */
  publicReads: boolean;
}

const HTTP_STATUS: Partial<Record<VettedError['code'], 400 | 401 | 403 | 404 | 409 | 502 | 503>> = {
  SPEC_INVALID: 400,
  AUTH_REQUIRED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UPSTREAM_UNAVAILABLE: 502,
  UPSTREAM_NOT_FOUND: 404,
  INDEX_UNAVAILABLE: 503,
  INDEX_LOCKED: 503,
  STORE_UNAVAILABLE: 503,
};

const decisionBody = z.object({
  reason: z.string().trim().min(3, 'a reason of at least 3 characters is required').max(2000),
});
/** Approve with a scope: an exemption with an expiry (src/admin/scoped-approval.ts). */
const scopeFields = {
  scope: z.enum(['version', 'package']).optional(),
  hours: z.number().positive().max(2160).default(168),
};
const lockfileBody = z.object({
  reason: decisionBody.shape.reason,
  hours: scopeFields.hours,
  lockfile: z.union([z.string().min(2), z.record(z.string(), z.unknown())]),
});
const verifyBody = z.object({ specs: z.array(z.string().min(1).max(300)).min(1).max(1000) });

export function createAdminApp(deps: AdminDeps): Hono<{ Bindings: AdminBindings }> {
  const app = new Hono<{ Bindings: AdminBindings }>().basePath('/-/vetted/api');

  const engine = (): Vetted => {
    const vetted = deps.vetted();
    if (!vetted)
      throw new VettedError(
        'INDEX_UNAVAILABLE',
        'vetted is starting or could not start; see its log',
      );
    return vetted;
  };

  const user = (c: Context<{ Bindings: AdminBindings }>): RemoteUser | undefined => {
    const remote = c.env?.incoming?.remote_user;
    return remote?.name ? remote : undefined;
  };

  const requireReader = (c: Context<{ Bindings: AdminBindings }>) => {
    if (!deps.publicReads && !user(c)) {
      throw new VettedError('AUTH_REQUIRED', 'log in first: npm login --registry <this registry>');
    }
  };

  const requireAdmin = (c: Context<{ Bindings: AdminBindings }>): Decider => {
    refuseCrossSite(c);
    const remote = user(c);
    if (!remote?.name)
      throw new VettedError('AUTH_REQUIRED', 'decisions need an admin: send a token (npm login)');
    const groups = new Set([remote.name, ...(remote.groups ?? []), ...(remote.real_groups ?? [])]);
    if (!deps.adminGroups.some((g) => groups.has(g))) {
      throw new VettedError(
        'FORBIDDEN',
        `${remote.name} is not in the admin group (${deps.adminGroups.join(', ')})`,
      );
    }
    return { kind: 'admin', name: remote.name };
  };

  app.onError((err, c) => {
    if (isVettedError(err)) {
      return c.json({ code: err.code, error: err.message }, HTTP_STATUS[err.code] ?? 500);
    }
    if (err instanceof z.ZodError) {
      const issue = err.issues[0];
      return c.json(
        { code: 'BAD_REQUEST', error: `${issue?.path.join('.') || 'body'}: ${issue?.message}` },
        400,
      );
    }
    if (err instanceof HTTPException)
      return c.json({ code: 'BAD_REQUEST', error: err.message }, err.status);
    deps.logger.error({ err: errorMessage(err) }, 'admin API error: @{err}');
    return c.json({ code: 'INTERNAL', error: 'internal error; see the server log' }, 500);
  });

  app.get('/health', (c) => {
    const vetted = deps.vetted();
    if (!vetted) return c.json({ ok: false, error: 'engine not ready' }, 503);
    return c.json({
      ok: true,
      startedAt: vetted.startedAt.toISOString(),
      queue: vetted.queue.depth(),
      policy: {
        preset: vetted.policy.preset,
        source: vetted.policy.source,
        digest: vetted.policy.digest,
      },
      upstream: redactUrl(vetted.upstream.registry),
      workers: vetted.options.workers,
    });
  });

  app.get('/whoami', (c) => {
    const remote = user(c);
    return c.json({
      name: remote?.name ?? null,
      admin: remote ? isAdmin(remote, deps.adminGroups) : false,
    });
  });

  app.get('/keys', (c) => {
    const { signer } = engine().index;
    return c.json({
      keys: [{ keyId: signer.keyId, algorithm: 'ed25519', publicKey: signer.publicKeyPem }],
    });
  });

  app.get('/queue', (c) => {
    requireReader(c);
    const vetted = engine();
    return c.json({ depth: vetted.queue.depth(), jobs: vetted.queue.list().slice(0, 1000) });
  });

  app.get('/versions', async (c) => {
    requireReader(c);
    const status = c.req.query('status');
    if (status && !(STATUSES as readonly string[]).includes(status)) {
      throw new VettedError('SPEC_INVALID', `status must be one of ${STATUSES.join(', ')}`);
    }
    const limit = Math.min(Number(c.req.query('limit') ?? 500) || 500, 5000);
    const records = await engine().index.list({
      status: status as (typeof STATUSES)[number] | undefined,
      name: c.req.query('name') || undefined,
      limit,
    });
    return c.json({ versions: records });
  });

  app.post('/verify', async (c) => {
    const actor = requireAdmin(c);
    const body = verifyBody.parse(await readJson(c));
    const vetted = engine();
    const results = [];
    for (const text of body.specs) {
      try {
        const { name, version } = await resolveSpec(vetted.upstream, parseSpec(text));
        const record = await vetted.index.get(name, version);
        const queued = record ? false : await vetted.queue.enqueue(name, version, 'admin');
        results.push({ spec: text, name, version, status: record?.status ?? 'pending', queued });
      } catch (err) {
        results.push({
          spec: text,
          error: errorMessage(err),
          code: isVettedError(err) ? err.code : 'ERROR',
        });
      }
    }
    deps.logger.info(
      { user: actor.name, count: body.specs.length },
      '@{user} queued @{count} specs',
    );
    return c.json({ results });
  });

  app.post('/status', async (c) => {
    requireReader(c);
    const body = verifyBody.parse(await readJson(c));
    const vetted = engine();
    const results = [];
    for (const text of body.specs) {
      try {
        const { name, version } = await resolveSpec(vetted.upstream, parseSpec(text));
        const signed = await vetted.index.getSigned(name, version);
        const queued = vetted.queue.has(name, version);
        results.push(
          signed
            ? {
                spec: text,
                ...signed.record,
                queued,
                ...(vetted.index.isStoreDamaged(signed.record) ? { storeDamaged: true } : {}),
                signature: { keyId: signed.keyId, sig: signed.sig, verified: true },
              }
            : { spec: text, name, version, status: queued ? 'pending' : 'unknown', queued },
        );
      } catch (err) {
        results.push({
          spec: text,
          error: errorMessage(err),
          code: isVettedError(err) ? err.code : 'ERROR',
        });
      }
    }
    return c.json({ results });
  });

  app.get('/versions/*', async (c) => {
    requireReader(c);
    const target = versionPath(c.req.path);
    if (target.action) throw new VettedError('NOT_FOUND', `use POST for ${target.action}`);
    const vetted = engine();
    const signed = await vetted.index.getSigned(target.name, target.version);
    const queued = vetted.queue.has(target.name, target.version);
    if (!signed) {
      if (queued) return c.json({ ...target, status: 'pending', queued });
      if (vetted.index.isTampered(target.name, target.version)) {
        const reason = 'its index record failed its signature check; an admin must re-verify it';
        return c.json({ ...target, status: 'held', tampered: true, reasons: [reason], queued });
      }
      throw new VettedError(
        'NOT_FOUND',
        `vetted has no verdict for ${target.name}@${target.version}`,
      );
    }
    return c.json({
      ...signed.record,
      queued,
      ...(vetted.index.isStoreDamaged(signed.record) ? { storeDamaged: true } : {}),
      signature: { keyId: signed.keyId, sig: signed.sig, algorithm: 'ed25519', verified: true },
    });
  });

  app.post('/versions/*', async (c) => {
    const actor = requireAdmin(c);
    const target = versionPath(c.req.path);
    if (!target.action) throw new VettedError('NOT_FOUND', `POST to …/${DECISIONS.join('|')}`);
    const body = decisionBody.extend(scopeFields).parse(await readJson(c));
    const result: DecisionResult & { exemptions?: Exemption[] } = await applyDecision(
      engine(),
      target.action,
      target.name,
      target.version,
      actor,
      body.reason,
    );
    if (target.action === 'approve' && body.scope) {
      const scoped = await approveWithScope(
        engine(),
        { scope: body.scope, name: target.name, version: target.version, hours: body.hours },
        actor,
        body.reason,
      );
      result.exemptions = scoped.exemptions;
    }
    engine().webhook?.kick();
    deps.logger.warn(
      { user: actor.name, decision: target.action, pkg: target.name, version: target.version },
      '@{user}: @{decision} @{pkg}@@{version}',
    );
    return c.json(result);
  });

  app.get('/exemptions', (c) => {
    requireReader(c);
    return c.json({ exemptions: engine().exemptions.active() });
  });

  app.post('/approve-lockfile', async (c) => {
    const actor = requireAdmin(c);
    const body = lockfileBody.parse(await readJson(c));
    const text = typeof body.lockfile === 'string' ? body.lockfile : JSON.stringify(body.lockfile);
    const result = await approveLockfile(engine(), text, body.hours, actor, body.reason);
    deps.logger.warn(
      { user: actor.name, count: result.exemptions.length },
      '@{user}: approved a lockfile tree of @{count} versions',
    );
    return c.json(result);
  });

  app.get('/audit', async (c) => {
    requireReader(c);
    const from = Number(c.req.query('from') ?? 1) || 1;
    const limit = Math.min(Number(c.req.query('limit') ?? 1000) || 1000, 10_000);
    return c.json({
      entries: await engine().index.audit({
        fromSeq: from,
        limit,
        tail: Math.min(Number(c.req.query('tail') ?? 0) || 0, 10_000) || undefined,
        name: c.req.query('name') || undefined,
      }),
    });
  });

  registerTreeRoutes(app, { engine, requireReader, user, readJson });

  app.get('/audit/verify', async (c) => {
    requireReader(c);
    return c.json(await engine().index.verifyAudit());
  });

  app.all('*', (c) =>
    c.json(
      { code: 'NOT_FOUND', error: `no such vetted API route: ${c.req.method} ${c.req.path}` },
      404,
    ),
  );
  return app;
}

function isAdmin(remote: RemoteUser, adminGroups: readonly string[]): boolean {
  const groups = new Set([
    remote.name ?? '',
    ...(remote.groups ?? []),
    ...(remote.real_groups ?? []),
  ]);
  return adminGroups.some((g) => groups.has(g));
}

/** `…/versions/<name>/<version>[/<action>]`, with the action checked against the decisions. */
function versionPath(path: string): { name: string; version: string; action?: Decision } {
  const { name, version, action } = parseVersionPath(path);
  if (action !== undefined && !(DECISIONS as readonly string[]).includes(action)) {
    throw new VettedError('NOT_FOUND', `unknown action ${action}; one of ${DECISIONS.join(', ')}`);
  }
  return { name, version, action: action as Decision | undefined };
}

async function readJson(c: Context<{ Bindings: AdminBindings }>): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!type.startsWith('application/json')) {
    throw new VettedError('SPEC_INVALID', 'send the body as application/json');
  }
  try {
    return await c.req.json();
  } catch {
    throw new VettedError('SPEC_INVALID', 'the body is not valid JSON');
  }
}
