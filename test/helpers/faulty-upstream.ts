/**
 * A fault-injecting hop in front of a real upstream Verdaccio: a node:http proxy whose mode can
 * be switched during a test. It can refuse connections, reset them, answer slowly, answer 500,
 * cut tarballs short, serve garbage JSON for packuments, serve other bytes for a tarball, and
 * serve packuments it makes up (hostile tarballs with a matching integrity, malformed fields).
 *
 * Depends on: node:http only. The upstream behind it is any registry URL.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { freePort } from './ports';

/**
 * - `pass`: forward as is.
 * - `down`: not listening (connection refused).
 * - `reset`: accept, then destroy the socket before any byte.
 * - `slow`: forward, writing the body in small chunks `slowMs` apart.
 * - `error500`: answer 500 with a short body.
 * - `forbidden`: answer 403 with a JSON error (a registry that refuses, not one that is down).
 * - `html405`: answer 405 with an HTML page (a mirror without the npm audit endpoints).
 * - `truncate`: send the headers (with the full Content-Length) and half the body, then cut.
 * - `garbage`: answer 200 with bytes that are not JSON (or not a tarball).
 * - `mismatch`: tarballs only: serve other valid-looking bytes with status 200.
 */
export type FaultMode =
  | 'pass'
  | 'down'
  | 'reset'
  | 'slow'
  | 'error500'
  | 'forbidden'
  | 'html405'
  | 'truncate'
  | 'garbage'
  | 'mismatch';

/**
 * Which requests a mode applies to; the others pass. Other requests (`/-/...`) are faulted under
 * every target; `other` faults only them.
 */
export type FaultTarget = 'all' | 'tarball' | 'packument' | 'other';

export interface MadeUpVersion {
  version: string;
  tarball: Buffer;
  /** Merged over the generated manifest (name, version, dist). */
  manifest?: Record<string, unknown>;
}

export interface FaultyUpstream {
  url: string;
  port: number;
  /** Requests seen, by kind, since start. */
  counts: { packument: number; tarball: number; other: number };
  setMode(mode: FaultMode, target?: FaultTarget, opts?: { slowMs?: number }): Promise<void>;
  /**
   * Serves `name` from a packument made up here: each version's tarball with a matching
   * integrity. `raw` replaces the whole document with the given text (malformed packuments).
   */
  fake(name: string, versions: MadeUpVersion[], raw?: string): void;
  close(): Promise<void>;
}

type Kind = 'packument' | 'tarball' | 'other';

export async function startFaultyUpstream(target: string): Promise<FaultyUpstream> {
  const base = new URL(target);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  let mode: FaultMode = 'pass';
  let applies: FaultTarget = 'all';
  let slowMs = 20;
  const counts = { packument: 0, tarball: 0, other: 0 };
  const fakes = new Map<string, { doc: string; tarballs: Map<string, Buffer> }>();
  const sockets = new Set<Socket>();

  const faulted = (kind: Kind) =>
    mode !== 'pass' && (applies === 'all' || applies === kind || kind === 'other');

  const server = http.createServer((req, res) => {
    const kind = kindOf(req.url ?? '/');
    counts[kind]++;
    const fake = fakeFor(fakes, req.url ?? '/');
    if (faulted(kind)) {
      if (mode === 'reset') return void req.socket.destroy();
      if (mode === 'error500') {
        res.writeHead(500, { 'content-type': 'text/plain' });
        return void res.end('internal error (injected)');
      }
      if (mode === 'html405') {
        res.writeHead(405, { 'content-type': 'text/html; charset=utf-8' });
        return void res.end('<!DOCTYPE html><title>405 Not Allowed</title>');
      }
      if (mode === 'forbidden') {
        res.writeHead(403, { 'content-type': 'application/json' });
        return void res.end('{"error":"forbidden (injected)"}');
      }
      if (mode === 'garbage') {
        const junk = kind === 'tarball' ? 'not a gzip stream' : '{"name": "x", "versions": {';
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(junk);
      }
      if (mode === 'mismatch' && kind === 'tarball') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return void res.end(Buffer.from(`other bytes for ${req.url}`));
      }
    }
    const fault = faulted(kind) ? mode : 'pass';
    if (fake) return void send(res, fake.status, fake.body, fake.type, fault, slowMs);
    forward(req, res, base, fault, slowMs);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // a keep-alive socket reset by a fault must not crash the test process
  server.on('clientError', (_err, socket) => socket.destroy());

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => (server.off('error', reject), resolve()));
    });
  const unlisten = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  await listen();

  return {
    url,
    port: (server.address() as AddressInfo).port,
    counts,
    async setMode(next, target = 'all', opts = {}) {
      slowMs = opts.slowMs ?? 20;
      applies = target;
      if (next === 'down' && mode !== 'down') await unlisten();
      if (next !== 'down' && mode === 'down') await listen();
      mode = next;
    },
    fake(name, versions, raw) {
      const tarballs = new Map<string, Buffer>();
      const doc: Record<string, unknown> = {
        name,
        'dist-tags': { latest: versions.at(-1)?.version ?? '1.0.0' },
        versions: {},
        time: {},
      };
      const base = name.startsWith('@') ? name.split('/')[1] : name;
      for (const v of versions) {
        const file = `${base}-${v.version}.tgz`;
        tarballs.set(file, v.tarball);
        const integrity = `sha512-${createHash('sha512').update(v.tarball).digest('base64')}`;
        (doc.versions as Record<string, unknown>)[v.version] = {
          name,
          version: v.version,
          dist: { tarball: `${url}${name}/-/${file}`, integrity },
          ...v.manifest,
        };
        (doc.time as Record<string, string>)[v.version] = new Date().toISOString();
      }
      fakes.set(name, { doc: raw ?? JSON.stringify(doc), tarballs });
    },
    async close() {
      if (mode !== 'down') await unlisten();
    },
  };
}

function kindOf(url: string): Kind {
  const pathname = url.split('?')[0] ?? '/';
  if (pathname.startsWith('/-/')) return 'other';
  return pathname.includes('/-/') ? 'tarball' : 'packument';
}

/** The made-up answer for a request, when its package is one of the fakes. */
function fakeFor(
  fakes: Map<string, { doc: string; tarballs: Map<string, Buffer> }>,
  url: string,
): { status: number; body: Buffer; type: string } | undefined {
  let pathname: string;
  try {
    pathname = decodeURIComponent(url.split('?')[0] ?? '/');
  } catch {
    return undefined;
  }
  const [namePart, file] = pathname.slice(1).split('/-/');
  const fake = fakes.get(namePart ?? '');
  if (!fake) return undefined;
  if (file === undefined) {
    return { status: 200, body: Buffer.from(fake.doc), type: 'application/json' };
  }
  const bytes = fake.tarballs.get(file);
  return bytes
    ? { status: 200, body: bytes, type: 'application/octet-stream' }
    : { status: 404, body: Buffer.from('{"error":"not found"}'), type: 'application/json' };
}

function forward(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  base: URL,
  fault: FaultMode,
  slowMs: number,
): void {
  // the Host header stays this hop's, so the packuments Verdaccio writes name tarball URLs here
  const headers = { ...req.headers };
  // a plain body is easier to cut and slow down than a gzip one
  delete headers['accept-encoding'];
  const upstream = http.request(
    new URL(req.url ?? '/', base),
    { method: req.method, headers },
    (up) => {
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        const type = String(up.headers['content-type'] ?? 'application/octet-stream');
        send(res, up.statusCode ?? 502, Buffer.concat(chunks), type, fault, slowMs);
      });
      up.on('error', () => res.destroy());
    },
  );
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
}

function send(
  res: http.ServerResponse,
  status: number,
  body: Buffer,
  type: string,
  fault: FaultMode,
  slowMs: number,
): void {
  res.writeHead(status, { 'content-type': type, 'content-length': String(body.length) });
  if (fault === 'truncate' && body.length > 1) {
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.destroy());
    return;
  }
  if (fault !== 'slow') return void res.end(body);
  let offset = 0;
  const step = Math.max(64, Math.ceil(body.length / 50));
  const tick = () => {
    if (res.destroyed) return;
    if (offset >= body.length) return void res.end();
    res.write(body.subarray(offset, offset + step));
    offset += step;
    setTimeout(tick, slowMs);
  };
  tick();
}
