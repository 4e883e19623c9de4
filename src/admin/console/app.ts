/**
 * The admin console under `/-/vetted/` (everything but `/-/vetted/api/`): server-rendered pages,
 * login through Verdaccio's authentication, decisions from forms, and `/-/vetted/metrics`.
 *
 * Who is asking: a session cookie (src/admin/session.ts) or, for scripts, the Bearer token
 * Verdaccio already turned into `remote_user`. Every state change must come from this site
 * (`Sec-Fetch-Site`, `Origin`), and a cookie-authenticated one must carry the session's CSRF
 * token; Bearer calls without a cookie cannot be forged by another site and skip the token.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { LRUCache } from 'lru-cache';
import { CSS, BASE, versionHref } from './layout';
import type { PageContext } from './layout';
import { auditPage, queuePage, versionsPage } from './list-pages';
import {
  errorPage,
  exemptionsPage,
  healthPage,
  lockfileResultPage,
  loginPage,
} from './other-pages';
import { versionPage } from './version-page';
import { decideFromForm } from './decide-form';
import { isAdmin, isHttps, refuseCrossSite, safeNext, stringField, versionPath } from './request';
import { loadComparison } from './comparison';
import { approveLockfile } from '../scoped-approval';
import { LoginThrottle } from '../login-throttle';
import { SESSION_COOKIE, SESSION_TTL_MS } from '../session';
import type { SessionKeeper, SessionUser } from '../session';
import type { AdminBindings } from '../app';
import type { Vetted } from '../../vetted';
import type { Logger } from '../../log/logger';
import { redactUrl, webhookTarget } from '../../log/redact';
import { checkSandbox } from '../../sandbox/check';
import type { SandboxCheck } from '../../sandbox/check';
import { VettedError, errorMessage, isVettedError } from '../../errors';
import type { Decider, Status } from '../../types';
import { STATUSES } from '../../types';

export interface ConsoleDeps {
  vetted: () => Vetted | undefined;
  logger: Logger;
  adminGroups: readonly string[];
  sessions: SessionKeeper;
  /** Verdaccio's own check of a user name and password; undefined when they do not match. */
  authenticate: (name: string, password: string) => Promise<SessionUser | undefined>;
  /** Whether `/-/vetted/metrics` answers without a login. */
  metricsPublic: boolean;
  /** Failed-login limits; the defaults of LoginThrottle when absent. */
  loginThrottle?: LoginThrottle;
}

type Env = { Bindings: AdminBindings };
type C = Context<Env>;

interface Who extends SessionUser {
  admin: boolean;
  via: 'session' | 'token';
  csrf?: string;
}

const STATUS_OF: Partial<Record<VettedError['code'], 400 | 401 | 403 | 404 | 409 | 503>> = {
  SPEC_INVALID: 400,
  AUTH_REQUIRED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INDEX_UNAVAILABLE: 503,
  STORE_UNAVAILABLE: 503,
};

export function createConsoleApp(deps: ConsoleDeps): Hono<Env> {
  const throttle = deps.loginThrottle ?? new LoginThrottle();
  const app = new Hono<Env>({ strict: false }).basePath(BASE);
  const comparisons = new LRUCache<string, object>({ max: 200, ttl: 10 * 60_000 });
  let sandbox: { at: number; check: Promise<SandboxCheck> } | undefined;

  const engine = (): Vetted => {
    const vetted = deps.vetted();
    if (!vetted)
      throw new VettedError('INDEX_UNAVAILABLE', 'vetted is starting or could not start');
    return vetted;
  };

  /**
   * The session the cookie holds, unless it was logged out. Without the engine the logout list
   * cannot be read, so no session is accepted (fail closed).
   */
  const readSession = (c: C) => {
    const session = deps.sessions.read(getCookie(c, SESSION_COOKIE));
    if (!session) return undefined;
    const revoked = deps.vetted()?.revokedSessions;
    return revoked && !revoked.has(session.id) ? session : undefined;
  };

  const who = (c: C): Who | undefined => {
    const session = readSession(c);
    if (session) {
      const csrf = deps.sessions.csrfToken(session);
      return { ...session, admin: isAdmin(session, deps.adminGroups), via: 'session', csrf };
    }
    const remote = c.env?.incoming?.remote_user;
    if (!remote?.name) return undefined;
    const groups = [...(remote.groups ?? []), ...(remote.real_groups ?? [])];
    const user = { name: remote.name, groups };
    return { ...user, admin: isAdmin(user, deps.adminGroups), via: 'token' };
  };

  const ctxOf = (user: Who | undefined): PageContext =>
    user ? { user: { name: user.name, admin: user.admin }, csrf: user.csrf } : {};

  /** Reads need a login; anonymous browsers go to the login form. */
  const reader = (c: C): Who => {
    const user = who(c);
    if (!user) throw new VettedError('AUTH_REQUIRED', 'log in first');
    return user;
  };

  /** A state change: same site, the session's CSRF token, an admin. */
  const decider = (c: C, form: Record<string, unknown>): { user: Who; actor: Decider } => {
    refuseCrossSite(c);
    const user = who(c);
    if (!user) throw new VettedError('AUTH_REQUIRED', 'log in first');
    if (user.via === 'session') {
      const token = c.req.header('x-vetted-csrf') ?? stringField(form, 'csrf');
      const session = readSession(c);
      if (!session || !deps.sessions.checkCsrf(session, token)) {
        throw new VettedError('FORBIDDEN', 'the form is stale or forged (CSRF token mismatch)');
      }
    }
    if (!user.admin) {
      throw new VettedError(
        'FORBIDDEN',
        `${user.name} is not in the admin group (${deps.adminGroups.join(', ')})`,
      );
    }
    return { user, actor: { kind: 'admin', name: user.name } };
  };

  app.onError((err, c) => {
    const user = safeWho(c);
    if (isVettedError(err)) {
      if (err.code === 'AUTH_REQUIRED' && c.req.method === 'GET') {
        const url = new URL(c.req.url);
        const next = encodeURIComponent(url.pathname + url.search);
        return c.redirect(`${BASE}/login?next=${next}`, 303);
      }
      return c.html(
        errorPage(ctxOf(user), STATUS_OF[err.code] ?? 500, err.message),
        STATUS_OF[err.code] ?? 500,
      );
    }
    deps.logger.error({ err: errorMessage(err) }, 'admin console error: @{err}');
    return c.html(errorPage(ctxOf(user), 500, 'internal error; see the server log'), 500);
  });
  const safeWho = (c: C) => {
    try {
      return who(c);
    } catch {
      return undefined;
    }
  };

  app.get('/console.css', (c) => {
    c.header('cache-control', 'public, max-age=3600');
    return c.body(CSS, 200, { 'content-type': 'text/css; charset=utf-8' });
  });

  app.get('/login', (c) => c.html(loginPage(undefined, safeNext(c.req.query('next')))));

  app.post('/login', async (c) => {
    refuseCrossSite(c);
    const form = await c.req.parseBody();
    const name = stringField(form, 'username') ?? '';
    const password = stringField(form, 'password') ?? '';
    const next = safeNext(stringField(form, 'next'));
    const address = clientAddress(c);
    // the attempt is counted before the password is checked, so parallel guesses are counted too
    const wait = await throttle.attempt(address, name);
    if (wait > 0) {
      deps.logger.warn(
        { user: name.slice(0, 100), address, wait },
        'console login for @{user} from @{address} refused: too many failed logins, @{wait} s left',
      );
      c.header('retry-after', String(wait));
      const minutes = Math.ceil(wait / 60);
      const message = `Too many failed logins for this account or address. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
      return c.html(loginPage(message, next), 429);
    }
    const user = name && password ? await deps.authenticate(name, password) : undefined;
    if (!user) {
      deps.logger.warn({ user: name.slice(0, 100) }, 'console login refused for @{user}');
      return c.html(loginPage('Unknown user or wrong password.', next), 401);
    }
    await throttle.succeeded(address, name);
    const { value } = deps.sessions.issue(user);
    setCookie(c, SESSION_COOKIE, value, {
      path: BASE,
      httpOnly: true,
      sameSite: 'Strict',
      secure: isHttps(c),
      maxAge: SESSION_TTL_MS / 1000,
    });
    deps.logger.info({ user: user.name }, 'console login: @{user}');
    return c.redirect(next, 303);
  });

  app.post('/logout', async (c) => {
    refuseCrossSite(c);
    // the cookie is signed, not stored: a copy would still work until its expiry unless revoked
    const session = readSession(c);
    if (session) {
      await engine().revokedSessions.revoke(session.id, session.expires);
      deps.logger.info({ user: session.name }, 'console logout: @{user}');
    }
    deleteCookie(c, SESSION_COOKIE, { path: BASE });
    return c.redirect(`${BASE}/login`, 303);
  });

  app.get('/metrics', async (c) => {
    if (!deps.metricsPublic) {
      const user = who(c);
      if (!user)
        return c.json({ code: 'AUTH_REQUIRED', error: 'metrics need an admin token' }, 401);
      if (!user.admin) return c.json({ code: 'FORBIDDEN', error: 'metrics need an admin' }, 403);
    }
    const { registry } = engine().metrics;
    return c.body(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });

  app.get('/', async (c) => {
    const user = reader(c);
    const records = await engine().index.list({ status: 'held', limit: 500 });
    return c.html(versionsPage(ctxOf(user), { status: 'held' }, records, 'held'));
  });

  app.get('/versions', async (c) => {
    const user = reader(c);
    const status = c.req.query('status') || undefined;
    if (status && !(STATUSES as readonly string[]).includes(status)) {
      throw new VettedError('SPEC_INVALID', `status must be one of ${STATUSES.join(', ')}`);
    }
    const name = c.req.query('name')?.trim() || undefined;
    const code = c.req.query('code')?.trim().toUpperCase() || undefined;
    let records = await engine().index.list({
      status: status as Status | undefined,
      name,
      limit: code ? 5000 : 500,
    });
    if (code) {
      records = records
        .filter((r) => r.layers.some((l) => l.findings.some((f) => f.code === code)))
        .slice(0, 500);
    }
    return c.html(versionsPage(ctxOf(user), { status, name, code }, records, 'versions'));
  });

  app.get('/versions/*', async (c) => {
    const user = reader(c);
    const { name, version, action } = versionPath(c.req.path);
    if (action) throw new VettedError('NOT_FOUND', `no page ${action}; decisions are POSTed`);
    const vetted = engine();
    const signed = await vetted.index.getSigned(name, version);
    if (!signed) {
      const why = vetted.queue.has(name, version)
        ? `${name}@${version} is being verified; this page shows its verdict when it is in`
        : vetted.index.isTampered(name, version)
          ? `the record of ${name}@${version} failed its signature check; re-verify it`
          : `vetted has no verdict for ${name}@${version}`;
      throw new VettedError('NOT_FOUND', why);
    }
    const key = `${name}@${version}:${signed.record.storedIntegrity ?? ''}`;
    let comparison = comparisons.get(key);
    if (!comparison) {
      comparison = await loadComparison(vetted, signed.record);
      comparisons.set(key, comparison);
    }
    const done = c.req.query('done');
    return c.html(
      versionPage(ctxOf(user), {
        record: signed.record,
        keyId: signed.keyId,
        queued: vetted.queue.has(name, version),
        comparison,
        flash: done ? { ok: true, text: `Done: ${done}.` } : undefined,
      }),
    );
  });

  app.post('/versions/*', async (c) => {
    const form = await c.req.parseBody();
    const { actor } = decider(c, form);
    const { name, version, action } = versionPath(c.req.path);
    if (action !== 'decide') throw new VettedError('NOT_FOUND', 'POST …/decide');
    const vetted = engine();
    const { decision, done } = await decideFromForm(vetted, name, version, form, actor);
    vetted.webhook?.kick();
    deps.logger.warn(
      { user: actor.name, decision, pkg: name, version },
      '@{user}: @{decision} @{pkg}@@{version} (console)',
    );
    return c.redirect(`${versionHref(name, version)}?done=${encodeURIComponent(done)}`, 303);
  });

  app.get('/queue', (c) => {
    const user = reader(c);
    const vetted = engine();
    return c.html(
      queuePage(ctxOf(user), vetted.queue.list().slice(0, 1000), {
        workers: vetted.options.workers,
        jobTimeoutMs: vetted.options.jobTimeoutMs,
        maxAttempts: vetted.options.maxAttempts,
      }),
    );
  });

  app.get('/audit', async (c) => {
    const user = reader(c);
    const vetted = engine();
    const name = c.req.query('name')?.trim() || undefined;
    const entries = name
      ? (await vetted.index.audit({ name })).slice(-500)
      : await vetted.index.audit({ tail: 500 });
    const chain = await vetted.index.verifyAudit();
    return c.html(
      auditPage(ctxOf(user), entries.reverse(), name, {
        ok: chain.ok,
        entries: chain.entries,
        problem:
          chain.firstBroken && `entry ${chain.firstBroken.seq}: ${chain.firstBroken.problem}`,
      }),
    );
  });

  app.get('/health', async (c) => {
    const user = reader(c);
    const vetted = engine();
    if (!sandbox || Date.now() - sandbox.at > 60_000) {
      sandbox = { at: Date.now(), check: checkSandbox() };
    }
    const check = await sandbox.check;
    const chain = await vetted.index.verifyAudit();
    const pending = vetted.webhook ? await vetted.webhook.pending() : [];
    return c.html(
      healthPage(ctxOf(user), {
        startedAt: vetted.startedAt.toISOString(),
        workers: vetted.options.workers,
        queue: vetted.queue.depth(),
        sandbox: check.available ? { available: true } : check,
        index: {
          counts: vetted.index.countByStatus(),
          audit: {
            ok: chain.ok,
            entries: chain.entries,
            problem:
              chain.firstBroken && `entry ${chain.firstBroken.seq}: ${chain.firstBroken.problem}`,
          },
        },
        compromised: vetted.index.compromised,
        policy: vetted.policy,
        upstream: redactUrl(vetted.upstream.registry),
        webhook:
          vetted.options.webhook && vetted.webhook
            ? {
                url: webhookTarget(vetted.options.webhook.url),
                pending: pending.length,
                delivered: vetted.webhook.delivered,
                oldestError: pending[0]?.lastError,
              }
            : undefined,
      }),
    );
  });

  app.get('/exemptions', (c) => {
    const user = reader(c);
    return c.html(exemptionsPage(ctxOf(user), engine().exemptions.active()));
  });

  app.post('/approve-lockfile', async (c) => {
    const form = await c.req.parseBody();
    const { actor } = decider(c, form);
    const reason = (stringField(form, 'reason') ?? '').trim();
    if (reason.length < 3) throw new VettedError('SPEC_INVALID', 'a reason is required');
    const file = form.lockfile;
    const text =
      file instanceof File && file.size > 0
        ? await file.text()
        : (stringField(form, 'lockfileText') ?? '');
    const hours = Number(stringField(form, 'hours') ?? 168);
    const result = await approveLockfile(engine(), text, hours, actor, reason);
    deps.logger.warn(
      { user: actor.name, count: result.exemptions.length },
      '@{user}: approved a lockfile tree of @{count} versions (console)',
    );
    const until = result.exemptions[0]?.until ?? '';
    return c.html(lockfileResultPage(ctxOf(who(c)), result.versions, until));
  });

  app.all('*', (c) => c.html(errorPage(ctxOf(safeWho(c)), 404, `no page ${c.req.path}`), 404));
  return app;
}

/** The client's address as Verdaccio's Express sees it (its trust-proxy setting applies). */
function clientAddress(c: C): string {
  const incoming = c.env?.incoming as { ip?: string; socket?: { remoteAddress?: string } };
  return incoming?.ip ?? incoming?.socket?.remoteAddress ?? 'unknown';
}
