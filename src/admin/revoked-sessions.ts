/**
 * Logged-out console sessions. A session cookie is signed, not stored, so logging out cannot
 * take it back from whoever copied it: the session's id is kept here, until the cookie would
 * have expired anyway, and a cookie with a revoked id is refused.
 *
 * Kept in a `sessions-revoked` sublevel of the index database (id -> expiry, epoch ms), so a
 * restart keeps every logout. The ids are mirrored in memory and the mirror is what each request
 * reads: this process holds the database's lock, so no other writer can change the sublevel
 * behind it. Expired ids are dropped at open and as they are met. Depends on the database only.
 */
import { openSublevel } from '../index/database';
import type { Db, Sublevel } from '../index/database';

export class RevokedSessions {
  readonly #sub: Sublevel;
  /** id -> epoch ms after which the cookie is refused anyway. */
  readonly #ids = new Map<string, number>();
  readonly #now: () => number;

  private constructor(db: Db, now: () => number) {
    this.#sub = openSublevel(db, 'sessions-revoked');
    this.#now = now;
  }

  /** Loads the revoked ids, deleting those whose session has expired. */
  static async open(db: Db, now: () => number = Date.now): Promise<RevokedSessions> {
    const revoked = new RevokedSessions(db, now);
    const expired: string[] = [];
    for await (const [id, value] of revoked.#sub.iterator()) {
      const expires = Number(value);
      if (Number.isFinite(expires) && expires > now()) revoked.#ids.set(id, expires);
      else expired.push(id);
    }
    if (expired.length > 0) await revoked.#sub.batch(expired.map((key) => ({ type: 'del', key })));
    return revoked;
  }

  /** Whether the session `id` was logged out (and has not expired since). */
  has(id: string): boolean {
    const expires = this.#ids.get(id);
    if (expires === undefined) return false;
    if (expires > this.#now()) return true;
    this.#ids.delete(id);
    this.#sub.del(id).catch(() => {});
    return false;
  }

  /**
   * Refuses the session `id` from now until `expires`; stored before it resolves.
   *
   * @throws LevelDB's error when the database cannot be written (the logout must then fail).
   */
  async revoke(id: string, expires: number): Promise<void> {
    if (expires <= this.#now()) return;
    await this.#sub.put(id, expires);
    this.#ids.set(id, expires);
  }

  /** Revoked sessions that have not expired yet. */
  get size(): number {
    return this.#ids.size;
  }
}
