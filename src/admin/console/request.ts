/**
 * Request helpers of the console: who is an admin, the cross-site check every state change
 * passes, form fields, safe redirect targets and the version path. No state; Hono types only.
 */
import type { Context } from 'hono';
import { BASE } from './layout';
import type { SessionUser } from '../session';
import type { AdminBindings } from '../app';
import { VettedError } from '../../errors';

type C = Context<{ Bindings: AdminBindings }>;

export function isAdmin(user: SessionUser, adminGroups: readonly string[]): boolean {
  const groups = new Set([user.name, ...user.groups]);
  return adminGroups.some((g) => groups.has(g));
}

/** Refuses a state change a browser says came from another site. */
export function refuseCrossSite(c: C): void {
  const site = c.req.header('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') {
    throw new VettedError('FORBIDDEN', 'cross-site request refused');
  }
  const origin = c.req.header('origin');
  if (!origin) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new VettedError('FORBIDDEN', 'cross-site request refused');
  }
  const own = c.req.header('x-forwarded-host') ?? c.req.header('host');
  if (host !== own) throw new VettedError('FORBIDDEN', 'cross-site request refused');
}

export function isHttps(c: C): boolean {
  return c.req.header('x-forwarded-proto') === 'https' || new URL(c.req.url).protocol === 'https:';
}

/** Only paths of the console itself, so the login form is no open redirect. */
export function safeNext(next: string | undefined): string {
  return next && (next === BASE || next.startsWith(`${BASE}/`)) && !next.includes('\\')
    ? next
    : `${BASE}/`;
}

export function stringField(form: Record<string, unknown>, key: string): string | undefined {
  const value = form[key];
  return typeof value === 'string' ? value : undefined;
}

/** `…/versions/<name>/<version>[/<action>]`, the name URL-encoded or with its scope slash. */
export function versionPath(path: string): { name: string; version: string; action?: string } {
  const rest = path.slice(path.indexOf('/versions/') + '/versions/'.length);
  let parts: string[];
  try {
    parts = rest.split('/').map((p) => decodeURIComponent(p));
  } catch {
    throw new VettedError('SPEC_INVALID', 'the path is not valid percent-encoding');
  }
  if (parts[0]?.startsWith('@') && !parts[0].includes('/'))
    parts = [`${parts[0]}/${parts[1] ?? ''}`, ...parts.slice(2)];
  const [name, version, action, ...extra] = parts;
  if (!name || !version || extra.length > 0) {
    throw new VettedError('SPEC_INVALID', 'expected …/versions/<name>/<version>');
  }
  return { name, version, action };
}
