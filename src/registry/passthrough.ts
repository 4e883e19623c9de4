/**
 * Registry endpoints that vetted forwards to the upstream unchanged: `npm audit`
 * (`/-/npm/v1/security/advisories/bulk`, `/-/npm/v1/security/audits/quick`), the registry's
 * signing keys (`/-/npm/v1/keys`) and attestations (`/-/npm/v1/attestations/*`). Only a 2xx JSON
 * answer is relayed. Anything else (no answer in time, a 5xx, a 4xx such as the 404 or 405 page
 * of a registry without audit support, a 2xx that is not JSON) gives a JSON 404, the answer every
 * client reads as "this registry has no such endpoint" (npm: audit endpoint returned an error),
 * never a 500 or a page clients choke on.
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
  const type = answer.headers.get('content-type') ?? '';
  if (answer.status < 200 || answer.status > 299 || !/\bjson\b/i.test(type)) {
    await answer.body?.cancel();
    return sendJson(res, 404, {
      error: `the upstream registry does not support this request (HTTP ${answer.status}${type ? `, ${type.split(';')[0]}` : ''})`,
    });
  }
  let body: Buffer;
  try {
    body = Buffer.from(await answer.arrayBuffer());
  } catch {
    return sendJson(res, 404, { error: 'the upstream registry did not finish its answer' });
  }
  res.statusCode = answer.status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', String(body.length));
  res.end(req.method === 'HEAD' ? undefined : body);
}
