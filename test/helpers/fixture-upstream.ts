/**
 * A fixture upstream for the publisher identity tests: a node:http server on loopback that
 * serves the real packuments of test/fixtures/identity (or modified copies a test makes), with
 * the `registry.invalid` placeholder host rewritten to itself; `/-/npm/v1/keys` and
 * `/-/npm/v1/attestations/name@version` from the fixtures; and everything else (tarballs,
 * packuments of dependencies) proxied from the registry the machine's npm uses, which serves
 * the real bytes but strips publisher data.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Packument } from '../../src/registry/packument';

export const IDENTITY_FIXTURES = path.resolve(
  __dirname,
  '..',
  '..',
  '..',
  'test',
  'fixtures',
  'identity',
);

export interface FixtureUpstreamOptions {
  /** Documents served by package name, as given (a test may modify copies). */
  packuments: Record<string, Packument>;
  /** Bodies of `/-/npm/v1/attestations/<name>@<version>`, by `name@version`. */
  attestations?: Record<string, unknown>;
  /** Body of `/-/npm/v1/keys`; 404 when undefined. */
  keys?: unknown;
  /** Where everything else comes from. Default: `npm config get registry`. */
  registry?: string;
}

export interface FixtureUpstream {
  /** With a trailing slash. */
  url: string;
  /** Paths requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Reads a packument from test/fixtures/identity/packuments. */
export function fixturePackument(name: string): Packument {
  const file = path.join(IDENTITY_FIXTURES, 'packuments', `${name}.json`);
  return JSON.parse(readFileSync(file, 'utf8')) as Packument;
}

export function machineRegistry(): string {
  const url = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
  return url.endsWith('/') ? url : `${url}/`;
}

export async function startFixtureUpstream(opts: FixtureUpstreamOptions): Promise<FixtureUpstream> {
  const registry = opts.registry ?? machineRegistry();
  const requests: string[] = [];
  let self = '';
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    const send = (status: number, body: unknown) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const name = decodeURIComponent(url.slice(1).split('?')[0]!);
    if (url === '/-/npm/v1/keys') {
      return opts.keys === undefined ? send(404, { error: 'not found' }) : send(200, opts.keys);
    }
    if (url.startsWith('/-/npm/v1/attestations/')) {
      const spec = decodeURIComponent(url.slice('/-/npm/v1/attestations/'.length));
      const body = opts.attestations?.[spec];
      return body === undefined ? send(404, { error: 'not found' }) : send(200, body);
    }
    if (Object.hasOwn(opts.packuments, name)) {
      const text = JSON.stringify(opts.packuments[name]).replaceAll(
        'https://registry.invalid/',
        self,
      );
      return send(200, text);
    }
    // tarballs and other packages: the real bytes from the machine's registry
    const upstream = new AbortController();
    res.on('close', () => upstream.abort());
    fetch(`${registry}${url.slice(1)}`, { signal: upstream.signal }).then(
      (answer) => {
        res.statusCode = answer.status;
        const type = answer.headers.get('content-type');
        if (type) res.setHeader('content-type', type);
        if (answer.body) Readable.fromWeb(answer.body as never).pipe(res);
        else res.end();
      },
      () => send(502, { error: 'the registry did not answer' }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  self = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url: self,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
