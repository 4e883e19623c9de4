/**
 * Starts a real, plain Verdaccio 6.8 (no vetted plugins) as a child process on loopback, for
 * use as an upstream registry or as a baseline in integration tests.
 *
 * The server runs `node node_modules/.bin/verdaccio` directly, never through npx: npx forks, so
 * its pid is not the server's and killing it leaves the server bound to the port.
 * Depends on: the repo's installed `verdaccio`, global `fetch`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './ports';

export interface StartVerdaccioOptions {
  /** Directory for config.yaml, htpasswd and storage/. Default: a new temp dir. Never removed. */
  dir?: string;
  /** URL of an uplink; when set, every package rule gets `proxy: upstream`. */
  uplink?: string;
  /**
   * Raw YAML appended to config.yaml, for top-level keys the base config does not set
   * (`plugins`, `middlewares`, `filters`, `server`, ...). Repeating a base key is a YAML error.
   */
  extraConfig?: string;
  /** Verdaccio log level. Default `warn`. */
  logLevel?: string;
}

export interface RunningVerdaccio {
  /** `http://127.0.0.1:PORT/`, with the trailing slash. */
  url: string;
  port: number;
  dir: string;
  /** Absolute path of the storage directory (`<dir>/storage`). */
  storage: string;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
}

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const TAIL_BYTES = 16 * 1024;

// Safety net: a test file that dies without calling stop() must not leave servers behind.
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/** Keeps the last `max` characters written to it. */
export class OutputTail {
  #chunks: string[] = [];
  #size = 0;

  constructor(private readonly max = TAIL_BYTES) {}

  push(chunk: string): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size > this.max && this.#chunks.length > 1) {
      this.#size -= this.#chunks.shift()?.length ?? 0;
    }
  }

  text(): string {
    const all = this.#chunks.join('');
    return all.length > this.max ? all.slice(all.length - this.max) : all;
  }
}

/**
 * Writes a config.yaml and starts Verdaccio on a free loopback port.
 *
 * Resolves once `GET /-/ping` answers 200.
 * @throws when the server exits early or does not answer within 30 s; the message carries the
 *   tail of its output.
 * @example
 *   const upstream = await startVerdaccio({});
 *   const proxy = await startVerdaccio({ uplink: upstream.url });
 */
export async function startVerdaccio(opts: StartVerdaccioOptions = {}): Promise<RunningVerdaccio> {
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'vetted-verdaccio-'));
  mkdirSync(dir, { recursive: true });
  const configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, toConfigYaml(opts));

  const bin = path.join(REPO_ROOT, 'node_modules', '.bin', 'verdaccio');
  if (!existsSync(bin)) throw new Error(`verdaccio is not installed: ${bin} is missing`);

  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const child = spawn(process.execPath, [bin, '-c', configPath, '-l', `127.0.0.1:${port}`], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  const output = new OutputTail();
  child.once('error', (err) => output.push(`\nspawning verdaccio: ${err.message}\n`));
  child.stdout?.setEncoding('utf8').on('data', (s: string) => output.push(s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => output.push(s));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      liveChildren.delete(child);
      resolve();
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopChild(child, exited);
    return stopping;
  };

  try {
    await waitForPing(url, child, output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, dir, storage: path.join(dir, 'storage'), child, stop };
}

/**
 * Returns a bearer token for `name`, creating the user if needed (htpasswd open registration).
 *
 * @throws when Verdaccio answers neither with a token nor with 409 for an existing user.
 * @example
 *   const token = await createUser(upstream.url, 'alice', 'alice-password');
 */
export async function createUser(url: string, name: string, password: string): Promise<string> {
  const endpoint = new URL(`-/user/org.couchdb.user:${encodeURIComponent(name)}`, url);
  const body = JSON.stringify({ name, password });
  const headers: Record<string, string> = { 'content-type': 'application/json' };

  let res = await fetch(endpoint, { method: 'PUT', headers, body });
  if (res.status === 409) {
    // Existing user: the same request authenticated with basic auth logs in instead.
    await res.body?.cancel();
    const basic = Buffer.from(`${name}:${password}`).toString('base64');
    res = await fetch(endpoint, {
      method: 'PUT',
      headers: { ...headers, authorization: `Basic ${basic}` },
      body,
    });
  }
  const text = await res.text();
  const token: unknown = res.ok ? (JSON.parse(text) as { token?: unknown }).token : undefined;
  if (typeof token !== 'string' || token === '') {
    throw new Error(`creating user ${name}: HTTP ${res.status} ${text}`);
  }
  return token;
}

function toConfigYaml(opts: StartVerdaccioOptions): string {
  // JSON strings are valid YAML scalars, so paths and URLs need no further escaping.
  const proxy = opts.uplink === undefined ? '' : '\n    proxy: upstream';
  const rule = (pattern: string): string =>
    [
      `  '${pattern}':`,
      '    access: $all',
      '    publish: $authenticated',
      `    unpublish: $authenticated${proxy}`,
    ].join('\n');
  const lines = [
    'storage: ./storage',
    'auth:',
    '  htpasswd:',
    '    file: ./htpasswd',
    '    max_users: 1000',
  ];
  if (opts.uplink !== undefined) {
    lines.push(
      'uplinks:',
      '  upstream:',
      `    url: ${JSON.stringify(opts.uplink)}`,
      '    cache: true',
    );
  }
  lines.push(
    'packages:',
    rule('@*/*'),
    rule('**'),
    `log: { type: stdout, format: json, level: ${JSON.stringify(opts.logLevel ?? 'warn')} }`,
    'web: { enable: false }',
  );
  if (opts.extraConfig !== undefined) lines.push(opts.extraConfig);
  return lines.join('\n') + '\n';
}

async function waitForPing(url: string, child: ChildProcess, output: OutputTail): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.pid === undefined) throw new Error(`verdaccio did not start\n${output.text()}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      const how = child.exitCode ?? child.signalCode;
      throw new Error(`verdaccio exited (${how}) before answering on ${url}\n${output.text()}`);
    }
    try {
      const res = await fetch(new URL('-/ping', url), { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.status === 200) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await delay(100);
  }
  throw new Error(
    `verdaccio did not answer ${url}-/ping within ${START_TIMEOUT_MS} ms (${lastError})\n` +
      output.text(),
  );
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  // A child that never spawned (pid undefined) may never emit 'exit'.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
