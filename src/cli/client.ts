/**
 * The CLI's connection to a running vetted: the server URL (`--url`, `VETTED_URL`, default
 * http://127.0.0.1:4873) and a token (`VETTED_TOKEN`, else the npm token saved for that registry
 * by `npm login`, read from the project's and the user's .npmrc).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import ini from 'ini';

export const DEFAULT_URL = 'http://127.0.0.1:4873';

export interface ApiClient {
  url: string;
  get(path: string): Promise<ApiResponse>;
  post(path: string, body: unknown): Promise<ApiResponse>;
  /** A registry request (not the admin API), with the same token: tarballs for the deploy check. */
  registry(path: string): Promise<Response>;
}

export interface ApiResponse {
  status: number;
  body: Record<string, unknown>;
}

export function createClient(urlFlag?: string, env: NodeJS.ProcessEnv = process.env): ApiClient {
  const url = (urlFlag ?? env.VETTED_URL ?? DEFAULT_URL).replace(/\/+$/, '');
  const token = env.VETTED_TOKEN || npmToken(url, env);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;

  const call = async (method: string, path: string, body?: unknown): Promise<ApiResponse> => {
    let res: Response;
    try {
      res = await fetch(`${url}/-/vetted/api${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(120_000),
      });
    } catch (err) {
      throw new Error(
        `cannot reach vetted at ${url} (${(err as Error).message}); is \`vetted serve\` running? set --url or VETTED_URL`,
      );
    }
    const text = await res.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { error: text.slice(0, 200) };
    }
    return { status: res.status, body: parsed };
  };
  return {
    url,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    registry: (path) =>
      fetch(`${url}${path}`, {
        headers: { ...headers, accept: '*/*' },
        signal: AbortSignal.timeout(120_000),
      }),
  };
}

/** The `_authToken` npm keeps for this registry URL, from ./.npmrc, then the user's. */
export function npmToken(url: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const files = [
    resolve('.npmrc'),
    env.npm_config_userconfig ?? env.NPM_CONFIG_USERCONFIG ?? join(homedir(), '.npmrc'),
  ];
  const nerf = url.replace(/^https?:/, '').replace(/\/?$/, '/');
  for (const file of files) {
    if (!existsSync(file)) continue;
    let parsed: Record<string, unknown>;
    try {
      parsed = ini.parse(readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    const token = parsed[`${nerf}:_authToken`];
    if (typeof token === 'string' && token !== '')
      return token.replace(/\$\{([^}]+)\}/g, (_, v: string) => env[v] ?? '');
  }
  return undefined;
}
