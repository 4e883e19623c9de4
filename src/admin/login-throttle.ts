/**
 * Failed console logins, counted per client address and per user name. Once either count
 * reaches its limit within the window, every further attempt for it (right password or not) is
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
   * Seconds until `name` from `address` may try again; 0 when it may now.
   * @example if ((await throttle.retryAfter('10.0.0.7', 'admin')) > 0) refuse();
   */
  async retryAfter(address: string, name: string): Promise<number> {
    const [byUser, byAddress] = await Promise.all([
      this.#byUser.get(userKey(name)),
      this.#byAddress.get(address),
    ]);
    return Math.max(wait(byUser, this.#byUser.points), wait(byAddress, this.#byAddress.points));
  }

  /** Counts one failed login against the address and the name. */
  async failed(address: string, name: string): Promise<void> {
    // consume() rejects once the limit is passed; the count has been taken all the same
    await Promise.allSettled([
      this.#byUser.consume(userKey(name)),
      this.#byAddress.consume(address),
    ]);
  }

  /** A successful login clears its user's failures (the address keeps its count). */
  async succeeded(name: string): Promise<void> {
    await this.#byUser.delete(userKey(name));
  }
}

/** Verdaccio's htpasswd names are case-sensitive, but guessing should not get 2^n tries. */
function userKey(name: string): string {
  return name.slice(0, 200).toLowerCase();
}

function wait(res: RateLimiterRes | null, points: number): number {
  if (!res || res.consumedPoints < points) return 0;
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}
