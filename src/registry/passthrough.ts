/**
 * Registry endpoints that vetted forwards to the upstream unchanged: `npm audit`
 * (`/-/npm/v1/security/advisories/bulk`, `/-/npm/v1/security/audits/quick`), the registry's
 * signing keys (`/-/npm/v1/keys`) and attestations (`/-/npm/v1/attestations/*`). An upstream that
 * fails or does not answer in time gives a clean 404 (npm then reports that the registry does
 * not support audits, or skips signature checks), never a 500.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../gate/respond';

const ROUTES: Array<{ method: string; path: RegExp }> = [
  { method: 'POST', path: /^\/-\/npm\/v1\/security\/(advisories\/bulk|audits\/quick|audits)$/ },
  { method: 'GET', path: /^\/-\/npm\/v1\/keys$/ },
  { method: 'GET', path: /^\/-\/npm\/v1\/attestations\/[^?#]+$/ },
];
const FORWARDED_HEADERS = ['content-type', 'content-encoding', 'accept', 'npm-command'];
const TIMEOUT_MS = 20_000;

/** Whether vetted forwards this request (synchronous: bodies must be kept before any await). */
export function isPassthrough(req: IncomingMessage): boolean {
  const path = (req.url ?? '').split('?')[0] ?? '';
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  return ROUTES.some((r) => r.method === method && r.path.test(path));
}

/** Forwards `req` (its body already in `rawBody`) to `upstream` and relays the answer. */
export async function forwardToUpstream(
  req: IncomingMessage & { rawBody?: Buffer },
  res: ServerResponse,
  upstream: string,
): Promise<void> {
  const target = new URL(
    req.url?.replace(/^\//, '') ?? '',
    upstream.endsWith('/') ? upstream : `${upstream}/`,
  );
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  let answer: Response;
  try {
    answer = await fetch(target, {
      method: req.method,
      headers,
      body: req.method === 'POST' ? req.rawBody : undefined,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    return sendJson(res, 404, { error: 'the upstream registry did not answer this request' });
  }
  if (answer.status >= 500) {
    await answer.body?.cancel();
    return sendJson(res, 404, {
      error: `the upstream registry failed this request (HTTP ${answer.status})`,
    });
  }
  const type = answer.headers.get('content-type') ?? '';
  if (answer.status >= 400 && !type.includes('json')) {
    // Verdaccio upstreams without an audit plugin answer an HTML page
    await answer.body?.cancel();
    return sendJson(res, answer.status, {
      error: `the upstream registry does not support this request (HTTP ${answer.status})`,
    });
  }
  const body = Buffer.from(await answer.arrayBuffer());
  res.statusCode = answer.status;
  res.setHeader('Content-Type', answer.headers.get('content-type') ?? 'application/json');
  res.setHeader('Content-Length', String(body.length));
  res.end(req.method === 'HEAD' ? undefined : body);
}
