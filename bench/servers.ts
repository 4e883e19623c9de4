/**
 * The two servers under test, both proxying the bench upstream: plain Verdaccio 6.8 with no
 * plugins (uplink with cache, started by test/helpers/verdaccio.ts) and vetted
 * (`bin/vetted.js serve`, whose pid is the server). Also warms them: each tarball is fetched
 * once through each, and for vetted the verdict is awaited.
 *
 * vetted runs with config/config.yaml except for the log, which is set to `warn` as JSON like
 * the plain server's, so both pay the same per-request logging cost.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { freePort } from '../test/helpers/ports';
import { OutputTail, startVerdaccio } from '../test/helpers/verdaccio';
import type { Cleanup } from './cleanup';
import type { Fixture } from './fixtures';

export type ServerLabel = 'plain' | 'vetted';

export interface ServerUnderTest {
  label: ServerLabel;
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  base: string;
  pid: number | undefined;
  /** vetted's home directory (vetted only). */
  home?: string;
  stop(): Promise<void>;
}

const REPO_ROOT = path.resolve(__dirname, '..', '..');

// Safety net: a bench that dies without running its cleanup must not leave vetted running.
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});
const VETTED_BIN = path.join(REPO_ROOT, 'bin', 'vetted.js');
const START_TIMEOUT_MS = 60_000;
const VERDICT_TIMEOUT_MS = 90_000;

/** Plain Verdaccio 6.8 with an uplink to `upstreamUrl`, cache on, log level warn. */
export async function startPlain(
  root: string,
  upstreamUrl: string,
  cleanup: Cleanup,
): Promise<ServerUnderTest> {
  const v = await startVerdaccio({ dir: path.join(root, 'plain'), uplink: upstreamUrl });
  cleanup.add('stopping the plain Verdaccio', () => v.stop());
  return {
    label: 'plain',
    base: `http://127.0.0.1:${v.port}`,
    pid: v.child.pid,
    stop: () => v.stop(),
  };
}

/**
 * `node bin/vetted.js serve` on a free loopback port; resolves once its engine reports healthy.
 * `nodeArgs` go before the script (for example `--cpu-prof`).
 */
export async function startVetted(
  root: string,
  upstreamUrl: string,
  cleanup: Cleanup,
  nodeArgs: string[] = [],
): Promise<ServerUnderTest> {
  const config = writeVettedConfig(root);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const home = path.join(root, 'vetted-home');
  const args = [
    ...nodeArgs,
    VETTED_BIN,
    'serve',
    '--config',
    config,
    '--home',
    home,
    '--listen',
    `127.0.0.1:${port}`,
    '--upstream',
    upstreamUrl,
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = new OutputTail();
  child.stdout?.setEncoding('utf8').on('data', (s: string) => output.push(s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => output.push(s));
  liveChildren.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      liveChildren.delete(child);
      resolve();
    }),
  );
  child.once('error', (err) => output.push(`\nspawning vetted: ${err.message}\n`));
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopChild(child, exited));
  cleanup.add('stopping vetted', stop);

  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `vetted exited (${child.exitCode ?? child.signalCode}) during start\n${output.text()}`,
      );
    }
    try {
      const res = await fetch(`${base}/-/vetted/api/health`, { signal: AbortSignal.timeout(2000) });
      const body = (await res.json()) as { ok?: boolean; error?: string };
      if (res.ok && body.ok) return { label: 'vetted', base, pid: child.pid, home, stop };
      last = `HTTP ${res.status} ${body.error ?? ''}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await delay(200);
  }
  throw new Error(
    `vetted was not healthy within ${START_TIMEOUT_MS} ms (${last})\n${output.text()}`,
  );
}

/** config/config.yaml with an absolute plugin path and the log at warn, as JSON. */
function writeVettedConfig(root: string): string {
  const source = path.join(REPO_ROOT, 'config', 'config.yaml');
  const config = parseYaml(readFileSync(source, 'utf8')) as Record<string, unknown>;
  config.plugins = path.join(REPO_ROOT, 'plugins');
  config.log = { type: 'stdout', format: 'json', level: 'warn' };
  const file = path.join(root, 'vetted-config.yaml');
  writeFileSync(file, toYaml(config));
  return file;
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Fetches a tarball through `server` until it answers 200 with the published bytes. vetted's
 * gate holds the first request while it verifies the version, so this can take seconds.
 * @throws when the bytes differ from `dist.integrity` or no 200 comes within 90 s.
 */
export async function warmTarball(server: ServerUnderTest, fixture: Fixture): Promise<void> {
  const deadline = Date.now() + VERDICT_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    const res = await fetch(server.base + fixture.tarballPath, {
      signal: AbortSignal.timeout(60_000),
    });
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status === 200) {
      const found = `sha512-${createHash('sha512').update(body).digest('base64')}`;
      if (found !== fixture.integrity) {
        throw new Error(
          `${server.label} served ${fixture.name} bytes that do not match dist.integrity`,
        );
      }
      return;
    }
    last = `HTTP ${res.status} ${body.toString('utf8').slice(0, 300)}`;
    await delay(500);
  }
  throw new Error(`${server.label} did not serve ${fixture.name}@${fixture.version}: ${last}`);
}

export interface Verdict {
  status: string;
  reasons: string[];
}

/** Polls vetted's status API until the version has a verdict (any status but pending). */
export async function verdictOf(vetted: ServerUnderTest, fixture: Fixture): Promise<Verdict> {
  const url = `${vetted.base}/-/vetted/api/versions/${fixture.name}/${fixture.version}`;
  const deadline = Date.now() + VERDICT_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    const res = await fetch(url);
    const body = (await res.json()) as { status?: string; reasons?: string[]; error?: string };
    if (body.status !== undefined && body.status !== 'pending') {
      return { status: body.status, reasons: body.reasons ?? [] };
    }
    last = `HTTP ${res.status} ${body.status ?? body.error ?? ''}`;
    await delay(300);
  }
  throw new Error(`${fixture.name}@${fixture.version} got no verdict on vetted: ${last}`);
}

/**
 * Denies a version through vetted's admin API, as the `admin` user vetted created on first
 * start (password in <home>/admin-password).
 * @throws when the API refuses.
 */
export async function denyVersion(vetted: ServerUnderTest, fixture: Fixture): Promise<void> {
  if (!vetted.home) throw new Error('denying needs the vetted home');
  const password = readFileSync(path.join(vetted.home, 'admin-password'), 'utf8').trim();
  const url = `${vetted.base}/-/vetted/api/versions/${fixture.name}/${fixture.version}/deny`;
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ reason: 'bench: measuring the refusal path' }),
  });
  if (!res.ok) throw new Error(`denying ${fixture.name}: HTTP ${res.status} ${await res.text()}`);
}

/** One request, for checking what a URL answers before measuring it. */
export async function statusOf(server: ServerUnderTest, fixture: Fixture): Promise<number> {
  const res = await fetch(server.base + fixture.tarballPath, {
    signal: AbortSignal.timeout(60_000),
  });
  await res.arrayBuffer();
  return res.status;
}
