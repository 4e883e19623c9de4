/**
 * The circuit breaker in front of remote git hosts: a TCP probe with a short timeout before a
 * clone or fetch (concurrent probes of one host share one attempt), and a host that failed is
 * reported unavailable at once for `cooldownMs`. Behind an HTTP(S) proxy a direct probe says
 * nothing, so http(s) URLs are not probed then (git's own limits still apply).
 * Depends on ./mirrors.
 */
import { connect } from 'node:net';
import { hostOf } from './mirrors';

/** Remembers hosts that could not be reached, so later packages fail at once. */
export class HostBreaker {
  readonly #open = new Map<string, { until: number; reason: string }>();
  readonly #probes = new Map<string, Promise<string | undefined>>();

  constructor(
    readonly cooldownMs: number,
    readonly probeTimeoutMs: number,
  ) {}

  /** Why `host` is skipped now, or undefined when it may be tried. */
  openReason(host: string): string | undefined {
    const entry = this.#open.get(host);
    if (!entry) return undefined;
    if (Date.now() >= entry.until) {
      this.#open.delete(host);
      return undefined;
    }
    return entry.reason;
  }

  trip(host: string, reason: string): void {
    const until = Date.now() + this.cooldownMs;
    const when = new Date(until).toISOString();
    this.#open.set(host, { until, reason: `${reason} (host skipped until ${when})` });
  }

  /**
   * Whether `url`'s host accepts a TCP connection within the probe timeout; concurrent
   * probes of one host share one attempt. Returns why not, or undefined.
   */
  async probe(url: string): Promise<string | undefined> {
    const host = hostOf(url);
    const open = this.openReason(host);
    if (open) return open;
    const target = tcpTarget(url);
    if (!target || (/^https?:/.test(url) && behindProxy())) return undefined;
    let probe = this.#probes.get(host);
    if (!probe) {
      probe = tcpProbe(target.host, target.port, this.probeTimeoutMs).finally(() =>
        this.#probes.delete(host),
      );
      this.#probes.set(host, probe);
    }
    const failed = await probe;
    if (failed) {
      this.trip(host, `${host} cannot be reached: ${failed}`);
      return this.openReason(host);
    }
    return undefined;
  }
}

function tcpTarget(url: string): { host: string; port: number } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const ports: Record<string, number> = { 'https:': 443, 'http:': 80, 'git:': 9418, 'ssh:': 22 };
  const port = parsed.port ? Number(parsed.port) : ports[parsed.protocol];
  if (port === undefined) return undefined;
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port };
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (reason?: string) => {
      socket.destroy();
      clearTimeout(timer);
      resolve(reason);
    };
    const timer = setTimeout(
      () => done(`no TCP connection to port ${port} in ${timeoutMs} ms`),
      timeoutMs,
    );
    socket.once('connect', () => done());
    socket.once('error', (err) => done(err.message));
  });
}

function behindProxy(): boolean {
  return ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((n) => !!process.env[n]);
}
