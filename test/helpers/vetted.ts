/**
 * Starts `vetted serve` (bin/vetted.js) as a child process on loopback, with a config derived
 * from config/config.yaml, and waits until its engine reports healthy. The child's pid is the
 * server's, so tests can SIGKILL it and start it again on the same home.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { freePort } from './ports';
import { OutputTail, createUser } from './verdaccio';
import { addHtpasswdUser } from '../../src/auth/htpasswd';

/** API answers as tests read them: JSON of many shapes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export interface StartVettedOptions {
  upstream: string;
  home?: string;
  port?: number;
  /** Merged into `middlewares.vetted`. */
  options?: Record<string, unknown>;
  /** Edits the parsed config.yaml before it is written (access rules, plugins folder). */
  configPatch?: (config: Record<string, any>) => void; // eslint-disable-line @typescript-eslint/no-explicit-any
  logLevel?: string;
  /** `listening`: resolve once the server answers at all, healthy or not. Default `healthy`. */
  waitFor?: 'healthy' | 'listening';
}

export interface RunningVetted {
  url: string;
  port: number;
  home: string;
  child: ChildProcess;
  output: OutputTail;
  stop(): Promise<void>;
  /** SIGKILL, no cleanup at all; resolves once the process is gone. */
  kill(): Promise<void>;
  adminToken(): Promise<string>;
  /** Adds an htpasswd user (not an admin) and returns a token. */
  userToken(name: string): Promise<string>;
  api(
    pathname: string,
    init?: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: Json }>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function startVetted(opts: StartVettedOptions): Promise<RunningVetted> {
  const home = opts.home ?? mkdtempSync(path.join(tmpdir(), 'vetted-home-'));
  const port = opts.port ?? (await freePort());
  const config = parse(readFileSync(path.join(REPO_ROOT, 'config', 'config.yaml'), 'utf8'));
  config.plugins = path.join(REPO_ROOT, 'plugins');
  config.middlewares.vetted = { ...config.middlewares.vetted, ...opts.options };
  config.log = { type: 'stdout', format: 'json', level: opts.logLevel ?? 'warn' };
  opts.configPatch?.(config);
  const configFile = path.join(home, 'test-config.yaml');
  writeFileSync(configFile, stringify(config));

  const url = `http://127.0.0.1:${port}`;
  const args = [
    path.join(REPO_ROOT, 'bin', 'vetted.js'),
    'serve',
    '--config',
    configFile,
    '--home',
    home,
    '--listen',
    `127.0.0.1:${port}`,
    '--upstream',
    opts.upstream,
  ];
  const child = spawn(process.execPath, args, { cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const output = new OutputTail();
  child.stdout?.setEncoding('utf8').on('data', (s: string) => output.push(s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => output.push(s));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => (live.delete(child), resolve())),
  );

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`vetted exited with ${child.exitCode}:\n${output.text()}`);
    try {
      const res = await fetch(`${url}/-/vetted/api/health`);
      if (res.ok || opts.waitFor === 'listening') break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`vetted did not become healthy in 30 s:\n${output.text()}`);
    }
    await delay(100);
  }

  const api: RunningVetted['api'] = async (pathname, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    if (init.body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${url}/-/vetted/api${pathname}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers,
      body:
        init.body === undefined
          ? undefined
          : typeof init.body === 'string'
            ? init.body
            : JSON.stringify(init.body),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: res.status, body };
  };

  return {
    url,
    port,
    home,
    child,
    output,
    api,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, delay(8000)]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async adminToken() {
      const password = readFileSync(path.join(home, 'admin-password'), 'utf8').trim();
      return createUser(`${url}/`, 'admin', password);
    },
    async userToken(name) {
      const password = `${name}-password-1`;
      try {
        addHtpasswdUser(path.join(home, 'htpasswd'), name, password);
      } catch {
        // already added
      }
      // Verdaccio's htpasswd plugin re-reads the file when it changes
      return createUser(`${url}/`, name, password);
    },
  };
}

/** Polls `vetted status` through the API until `name@version` has a final status. */
export async function waitForStatus(
  v: RunningVetted,
  name: string,
  version: string,
  timeoutMs = 60_000,
): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await v.api(`/versions/${encodeURIComponent(name)}/${encodeURIComponent(version)}`);
    if (res.status === 200 && res.body.status !== 'pending') return res.body;
    if (Date.now() > deadline)
      throw new Error(`${name}@${version} still has no verdict: ${JSON.stringify(res.body)}`);
    await delay(200);
  }
}
