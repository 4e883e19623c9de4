/**
 * The first admin: on a first start with no `admin` user in the htpasswd file, vetted creates
 * one with a random password, written to `<home>/admin-password` (mode 0600). Uses bcrypt, the
 * hash Verdaccio's htpasswd plugin checks. Also used by tests to add ordinary users.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import bcrypt from 'bcryptjs';

export function hasHtpasswdUser(file: string, name: string): boolean {
  if (!existsSync(file)) return false;
  return readFileSync(file, 'utf8')
    .split('\n')
    .some((line) => line.split(':')[0] === name);
}

/** Adds `name` with `password`; refuses a name that is already there. */
export function addHtpasswdUser(file: string, name: string, password: string): void {
  if (!/^[a-zA-Z0-9._-]{1,64}$/.test(name)) throw new Error(`invalid user name ${name}`);
  if (hasHtpasswdUser(file, name)) throw new Error(`user ${name} already exists in ${file}`);
  mkdirSync(dirname(file), { recursive: true });
  const hash = bcrypt.hashSync(password, 10);
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const sep = existing === '' || existing.endsWith('\n') ? '' : '\n';
  appendFileSync(file, `${sep}${name}:${hash}:autocreated ${new Date().toISOString()}\n`, {
    mode: 0o600,
  });
}

/**
 * Creates the `admin` user when the htpasswd file has none.
 * @returns the password file's path when a user was created.
 */
export function ensureAdminUser(htpasswdFile: string, home: string): string | undefined {
  if (hasHtpasswdUser(htpasswdFile, 'admin')) return undefined;
  const password = randomBytes(18).toString('base64url');
  addHtpasswdUser(htpasswdFile, 'admin', password);
  const passwordFile = join(home, 'admin-password');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  return passwordFile;
}
