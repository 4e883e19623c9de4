/**
 * Bounded JSON reads from the upstream registry's side endpoints (`/-/npm/v1/keys`,
 * `/-/npm/v1/attestations/...`), which pacote does not cover. Every read has a time limit and
 * follows the job's abort signal, so an upstream that hangs costs one timeout, never a stuck job.
 */
import { redactUrl } from '../../log/redact';

/** What a read gave: the parsed body, or why there is none (HTTP status or network error). */
export type JsonRead<T> = { ok: true; body: T } | { ok: false; status?: number; reason: string };

/** Default time limit of one read, in milliseconds. */
export const READ_TIMEOUT_MS = 10_000;

/**
 * GETs `url` and parses JSON. Never throws for HTTP or network trouble: the caller decides what
 * a missing answer means. Throws only when `signal` aborts (the job is being cancelled).
 * @example const keys = await fetchRegistryJson(`${registry}-/npm/v1/keys`, signal);
 */
export async function fetchRegistryJson<T>(
  url: string,
  signal?: AbortSignal,
  timeoutMs = READ_TIMEOUT_MS,
): Promise<JsonRead<T>> {
  const limit = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, limit]) : limit;
  try {
    const res = await fetch(url, { signal: combined, headers: { accept: 'application/json' } });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      return { ok: false, status: res.status, reason: `${redactUrl(url)} answered ${res.status}` };
    }
    return { ok: true, body: (await res.json()) as T };
  } catch (err) {
    if (signal?.aborted) throw err;
    const why = limit.aborted ? `no answer in ${timeoutMs / 1000} s` : errorText(err);
    return { ok: false, reason: `${redactUrl(url)}: ${why}` };
  }
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
}
