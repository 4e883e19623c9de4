/**
 * The package managers the compatibility tests drive: npm 11 (on PATH), yarn 1.22, yarn 4,
 * pnpm 10 and bun. Each is installed once from the machine's default registry (never through
 * vetted) into `${os.tmpdir()}/vetted-test-clients/<spec>` and reused from there. Every project
 * gets its own HOME, caches and registry settings, so nothing leaks between tests.
 * Depends on: `npm` on PATH, ./npm.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { npmEnv, runProgram } from './npm';
import type { NpmResult } from './npm';

export type ClientName = 'npm' | 'yarn1' | 'yarn4' | 'pnpm' | 'bun';

interface ClientInfo {
  /** What `npm install` gets; undefined for npm itself. */
  spec?: string;
  bin: string;
  /** Installs from package.json; the lockfile-only form. */
  install: string[];
  frozen: string[];
}

export const CLIENTS: Record<ClientName, ClientInfo> = {
  npm: { bin: 'npm', install: ['install'], frozen: ['ci'] },
  yarn1: {
    spec: 'yarn@1.22.22',
    bin: 'yarn',
    install: ['install', '--non-interactive', '--no-progress'],
    frozen: ['install', '--frozen-lockfile', '--non-interactive', '--no-progress'],
  },
  yarn4: {
    spec: '@yarnpkg/cli-dist@4',
    bin: 'yarn',
    install: ['install', '--no-immutable'],
    frozen: ['install', '--immutable'],
  },
  pnpm: {
    spec: 'pnpm@10',
    bin: 'pnpm',
    install: ['install', '--no-frozen-lockfile'],
    frozen: ['install', '--frozen-lockfile'],
  },
  bun: {
    spec: 'bun',
    bin: 'bun',
    install: ['install'],
    frozen: ['install', '--frozen-lockfile'],
  },
};

const CACHE = path.join(tmpdir(), 'vetted-test-clients');
const execFileAsync = promisify(execFile);

/**
 * The path of the client's binary, installing it on first use.
 *
 * @throws when npm cannot install it or the binary does not run.
 * @example
 *   const pnpm = await installClient('pnpm');
 */
export async function installClient(client: ClientName): Promise<string> {
  const info = CLIENTS[client];
  if (!info.spec) return info.bin;
  const dir = path.join(CACHE, info.spec.replace(/\//g, '_'));
  const bin = path.join(dir, 'node_modules', '.bin', info.bin);
  if (existsSync(bin) && (await runs(bin))) return bin;
  mkdirSync(CACHE, { recursive: true });
  const staging = mkdtempSync(path.join(CACHE, '.staging-'));
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (/^npm_/i.test(key)) delete env[key];
  await execFileAsync(
    'npm',
    ['install', '--prefix', staging, '--no-save', '--no-audit', '--no-fund', info.spec],
    { env, timeout: 300_000 },
  );
  const staged = path.join(staging, 'node_modules', '.bin', info.bin);
  // bun's package links its binary in a postinstall script, which npm 11 does not run
  if (client === 'bun' && !(await runs(staged))) {
    await execFileAsync(process.execPath, ['install.js'], {
      cwd: path.join(staging, 'node_modules', 'bun'),
      timeout: 120_000,
    });
  }
  if (!(await runs(staged))) throw new Error(`${info.spec} installed but ${staged} does not run`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return bin;
}

async function runs(bin: string): Promise<boolean> {
  try {
    await execFileAsync(bin, ['--version'], { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

export interface ClientProject {
  client: ClientName;
  bin: string;
  dir: string;
  env: NodeJS.ProcessEnv;
}

/**
 * A project directory set up for `client` against `registry`, with its own HOME and caches.
 * `dependencies` go into package.json.
 */
export function clientProject(
  client: ClientName,
  bin: string,
  registry: string,
  dependencies: Record<string, string>,
  home?: string,
): ClientProject {
  const url = registry.endsWith('/') ? registry : `${registry}/`;
  const dir = mkdtempSync(path.join(tmpdir(), `vetted-${client}-project-`));
  const ownHome = home ?? mkdtempSync(path.join(tmpdir(), `vetted-${client}-home-`));
  const { env } = npmEnv(url, { dir: path.join(ownHome, 'npm') });
  Object.assign(env, {
    HOME: ownHome,
    XDG_CONFIG_HOME: path.join(ownHome, '.config'),
    XDG_CACHE_HOME: path.join(ownHome, '.cache'),
    XDG_DATA_HOME: path.join(ownHome, '.local', 'share'),
    YARN_CACHE_FOLDER: path.join(ownHome, 'yarn1-cache'),
    YARN_GLOBAL_FOLDER: path.join(ownHome, 'yarn-berry'),
    YARN_ENABLE_TELEMETRY: '0',
    YARN_ENABLE_GLOBAL_CACHE: 'true',
    BUN_INSTALL_CACHE_DIR: path.join(ownHome, 'bun-cache'),
    DO_NOT_TRACK: '1',
    CI: 'true',
  });
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'vetted-client-test', version: '1.0.0', private: true, dependencies }),
  );
  writeFileSync(
    path.join(dir, '.npmrc'),
    [`registry=${url}`, `store-dir=${path.join(ownHome, 'pnpm-store')}`, ''].join('\n'),
  );
  writeFileSync(path.join(dir, '.yarnrc'), `registry "${url}"\n`);
  writeFileSync(
    path.join(dir, '.yarnrc.yml'),
    [
      `npmRegistryServer: "${url.replace(/\/$/, '')}"`,
      'unsafeHttpWhitelist: ["127.0.0.1"]',
      'npmMinimalAgeGate: 0',
      'nodeLinker: node-modules',
      'enableTelemetry: false',
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'bunfig.toml'), `[install]\nregistry = "${url}"\n`);
  return { client, bin, dir, env };
}

/**
 * Runs the client in the project; a non-zero exit is a result, not an error.
 *
 * @throws when the client runs longer than `timeoutMs` (its process group is killed).
 */
export function runClient(
  project: ClientProject,
  args: string[],
  timeoutMs = 180_000,
): Promise<NpmResult> {
  return runProgram(project.bin, args, { cwd: project.dir, env: project.env, timeoutMs });
}
