/**
 * Console login attempts, counted per client address and per user name. Once either count
 * passes its limit within the window, every further attempt for it (right password or not) is
 * refused until the window has passed, so a password cannot be guessed through the console at
 * the speed of the server. A successful login clears its user's count. In memory, like
 * Verdaccio's own limit on its login route: a restart forgets the counts.
 * Depends on rate-limiter-flexible.
 */
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { RateLimiterRes } from 'rate-limiter-flexible';

export interface LoginThrottleOptions {
  /** Failed logins per user name within the window. Default 10. */
  perUser?: number;
  /** Failed logins per client address within the window. Default 30. */
  perAddress?: number;
  /** The window, in seconds. Default 900 (15 minutes). */
  windowSeconds?: number;
}

export class LoginThrottle {
  readonly #byUser: RateLimiterMemory;
  readonly #byAddress: RateLimiterMemory;

  constructor(options: LoginThrottleOptions = {}) {
    const duration = options.windowSeconds ?? 900;
    this.#byUser = new RateLimiterMemory({ points: options.perUser ?? 10, duration });
    this.#byAddress = new RateLimiterMemory({ points: options.perAddress ?? 30, duration });
  }

  /**
   * Counts a login attempt before its password is checked (so parallel guesses count too) and
   * returns the seconds until `name` from `address` may try again: 0 when this attempt may go on.
   * @example if ((await throttle.attempt('10.0.0.7', 'admin')) > 0) refuse();
   */
  async attempt(address: string, name: string): Promise<number> {
    const results = await Promise.allSettled([
      this.#byUser.consume(userKey(name)),
      this.#byAddress.consume(address),
    ]);
    let wait = 0;
    for (const r of results) {
      // consume() rejects with the limiter's state once the limit is passed
      if (r.status === 'rejected' && isLimited(r.reason)) {
        wait = Math.max(wait, Math.max(1, Math.ceil(r.reason.msBeforeNext / 1000)));
      }
    }
    return wait;
  }

  /** A successful login: its user's count is cleared and its address gets the attempt back. */
  async succeeded(address: string, name: string): Promise<void> {
    await Promise.allSettled([
      this.#byUser.delete(userKey(name)),
      this.#byAddress.reward(address, 1),
    ]);
  }
}

/** Verdaccio's htpasswd names are case-sensitive, but guessing should not get 2^n tries. */
function userKey(name: string): string {
  return name.slice(0, 200).toLowerCase();
}

function isLimited(reason: unknown): reason is RateLimiterRes {
  return typeof (reason as RateLimiterRes | undefined)?.msBeforeNext === 'number';
}
