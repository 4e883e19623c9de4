/**
 * Console sessions and CSRF tokens. A user logs in with Verdaccio's own authentication; the
 * session is a cookie holding `{name, groups, expiry, id}` with an HMAC-SHA256 over it, keyed by
 * a secret kept in `<home>/keys/session-secret`, so a restart keeps everyone logged in and no
 * session table is needed. Groups are those Verdaccio gave at login. Logging out revokes the
 * session's id (src/admin/revoked-sessions.ts), which the console checks on every request.
 *
 * The CSRF token of a session is an HMAC of its id: forms carry it, fetch calls send it as
 * `x-vetted-csrf`. Depends on node:crypto and the file system only.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SessionUser {
  name: string;
  groups: string[];
}

export interface Session extends SessionUser {
  id: string;
  /** Epoch ms after which the cookie is refused. */
  expires: number;
}

/** Eight hours: a working day, then log in again. */
export const SESSION_TTL_MS = 8 * 3600 * 1000;
export const SESSION_COOKIE = 'vetted_session';

export interface SessionKeeper {
  /** A signed cookie value for a new session. */
  issue(user: SessionUser, now?: number): { value: string; session: Session };
  /** The session a cookie value holds, or undefined when forged, altered or expired. */
  read(value: string | undefined, now?: number): Session | undefined;
  csrfToken(session: Session): string;
  checkCsrf(session: Session, token: string | undefined): boolean;
}

/** Reads the secret from `<keysDir>/session-secret`, creating it (mode 0600) on first use. */
export function loadSessionSecret(keysDir: string): Buffer {
  const file = join(keysDir, 'session-secret');
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (text.length >= 64) return Buffer.from(text, 'hex');
  } catch {
    // not there yet
  }
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32);
  writeFileSync(file, secret.toString('hex'), { mode: 0o600 });
  return secret;
}

export function createSessionKeeper(secret: Buffer): SessionKeeper {
  if (secret.length < 32) throw new TypeError('the session secret must be at least 32 bytes');
  const mac = (text: string) => createHmac('sha256', secret).update(text).digest('base64url');

  return {
    issue(user, now = Date.now()) {
      const session: Session = {
        name: user.name,
        groups: user.groups,
        id: randomBytes(16).toString('base64url'),
        expires: now + SESSION_TTL_MS,
      };
      const body = Buffer.from(JSON.stringify(session)).toString('base64url');
      return { value: `${body}.${mac(`session:${body}`)}`, session };
    },

    read(value, now = Date.now()) {
      if (!value) return undefined;
      const [body, sig, extra] = value.split('.');
      if (!body || !sig || extra !== undefined || !same(sig, mac(`session:${body}`))) {
        return undefined;
      }
      try {
        const session = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Session;
        if (typeof session.name !== 'string' || !Array.isArray(session.groups)) return undefined;
        return session.expires > now ? session : undefined;
      } catch {
        return undefined;
      }
    },

    csrfToken: (session) => mac(`csrf:${session.id}`),

    checkCsrf: (session, token) => !!token && same(token, mac(`csrf:${session.id}`)),
  };
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
