/**
 * When a file's code runs. Install-time files are those an install script names (`node x.js`,
 * `node -e "require('./x')"`) and what they load; load-time files are `main` (default
 * `index.js`), `module`, `browser`, every `exports` target and `bin`, and what they load.
 * Relative `require`/`import` specifiers are followed through the package's own files; other
 * files are tests and docs by their path, or `other`.
 */
import { posix } from 'node:path';
import type { FileRole } from './signal.types';
import { anyOf } from './text';

export interface EntryFiles {
  /** Files named by `preinstall`, `install` or `postinstall`. */
  install: string[];
  /** `main`, `module`, `browser`, `exports` targets and `bin` files. */
  load: string[];
}

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];
/** Words of a script that are commands, not files, even if a file of that name exists. */
const COMMANDS = new Set(['node', 'npm', 'npx', 'sh', 'bash', 'exit', 'true', 'echo', 'cd']);
const NOT_CODE_RE = /\.(d\.[cm]?ts|[cm]?ts|tsx|json|css|scss|less|map|md|node|wasm|html)$/i;
const TEST_PATH_RE = anyOf(
  [
    /(^|\/)(test|tests|__tests__|__mocks__|spec|specs|fixtures?|coverage)\//,
    /(^|\/)(example|examples|docs?|benchmarks?|bench)\//,
    /\.(test|spec)\.[cm]?js$/,
  ],
  'i',
);

export function isTestPath(path: string): boolean {
  return TEST_PATH_RE.test(path);
}

export function toEntryFiles(
  pkg: Record<string, unknown> | undefined,
  paths: ReadonlySet<string>,
): EntryFiles {
  const install = new Set<string>();
  const load = new Set<string>();
  const scripts = isRecord(pkg?.scripts) ? pkg.scripts : {};
  for (const name of INSTALL_SCRIPTS) {
    const command = scripts[name];
    if (typeof command !== 'string') continue;
    for (const token of command.split(/[\s;&|()]+/)) {
      if (COMMANDS.has(token)) continue;
      const file = resolveFile(token.replace(/^['"]|['"]$/g, ''), '', paths);
      if (file) install.add(file);
    }
    for (const match of command.matchAll(/require\(\s*\\?['"]([^'"\\]+)\\?['"]\s*\)/g)) {
      const file = resolveFile(match[1] ?? '', '', paths);
      if (file) install.add(file);
    }
  }
  const targets: unknown[] = [pkg?.main ?? 'index.js', pkg?.module];
  if (typeof pkg?.browser === 'string') targets.push(pkg.browser);
  collectStrings(pkg?.exports, targets, 0);
  const bin = pkg?.bin;
  if (typeof bin === 'string') targets.push(bin);
  else if (isRecord(bin)) targets.push(...Object.values(bin));
  for (const target of targets) {
    // exports also name types, styles and data; only code (or extensionless bin files) loads
    if (typeof target !== 'string' || target.includes('*') || NOT_CODE_RE.test(target)) continue;
    const file = resolveFile(target, '', paths);
    if (file) load.add(file);
  }
  return { install: [...install], load: [...load] };
}

/**
 * Gives every analysed file a role: install-time and load-time by reachability from the entry
 * files through `requires` (install wins), then tests and docs by path, else `other`.
 */
export function assignRoles(
  requires: ReadonlyMap<string, readonly string[]>,
  entries: EntryFiles,
  paths: ReadonlySet<string>,
): Map<string, FileRole> {
  const roles = new Map<string, FileRole>();
  for (const [role, seeds] of [
    ['install', entries.install],
    ['load', entries.load],
  ] as const) {
    const queue = [...seeds];
    while (queue.length > 0) {
      const file = queue.shift()!;
      if (roles.has(file)) continue;
      roles.set(file, role);
      for (const specifier of requires.get(file) ?? []) {
        if (!specifier.startsWith('.')) continue;
        const target = resolveFile(specifier, posix.dirname(file), paths);
        if (target && !roles.has(target)) queue.push(target);
      }
    }
  }
  for (const file of requires.keys()) {
    if (!roles.has(file)) roles.set(file, isTestPath(file) ? 'test' : 'other');
  }
  return roles;
}

/** Node's resolution of a relative file, limited to what the package contains. */
export function resolveFile(
  specifier: string,
  fromDir: string,
  paths: ReadonlySet<string>,
): string | undefined {
  if (specifier === '' || /^[a-z]+:/i.test(specifier)) return undefined;
  const base = posix.normalize(posix.join(fromDir, specifier)).replace(/^(\.\/)+/, '');
  if (base.startsWith('..') || base === '.') return undefined;
  const stem = base.replace(/\/$/, '');
  const candidates = [stem, `${stem}.js`, `${stem}.cjs`, `${stem}.mjs`];
  candidates.push(`${stem}/index.js`, `${stem}/index.cjs`, `${stem}/index.mjs`);
  return candidates.find((c) => paths.has(c) && !/\.(json|node)$/.test(c));
}

function collectStrings(value: unknown, out: unknown[], depth: number): void {
  if (depth > 8) return;
  if (typeof value === 'string') {
    out.push(value);
  } else if (Array.isArray(value) || isRecord(value)) {
    for (const item of Object.values(value)) collectStrings(item, out, depth + 1);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
