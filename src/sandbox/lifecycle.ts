/**
 * What npm would run for a package, and how: the install lifecycle (`preinstall`, `install`,
 * `postinstall`, with npm's implicit `node-gyp rebuild` when binding.gyp exists and neither
 * `install` nor `preinstall` is set), the environment npm gives a script, and the entry points
 * an application would load (`main`, each `exports` target for require and import, each
 * `bin`). Pure functions over package.json. Depends on ./toolchain's paths.
 */
import path from 'node:path';
import type { NodeToolchain } from './toolchain';

export const INSTALL_EVENTS = ['preinstall', 'install', 'postinstall'] as const;
export type InstallEvent = (typeof INSTALL_EVENTS)[number];

export interface InstallStep {
  event: InstallEvent;
  script: string;
  /** npm's implicit `node-gyp rebuild`, not written in package.json. */
  implicit: boolean;
}

/** The install scripts npm runs for `pkg`, in order. */
export function installSteps(pkg: Record<string, unknown>, hasBindingGyp: boolean): InstallStep[] {
  const scripts = isRecord(pkg.scripts) ? pkg.scripts : {};
  const text = (e: string) => {
    const s = scripts[e];
    return typeof s === 'string' && s.trim() !== '' ? s : undefined;
  };
  const steps: InstallStep[] = [];
  for (const event of INSTALL_EVENTS) {
    const script = text(event);
    if (script) steps.push({ event, script, implicit: false });
    else if (event === 'install' && hasBindingGyp && pkg.gypfile !== false && !text('preinstall')) {
      steps.push({ event, script: 'node-gyp rebuild', implicit: true });
    }
  }
  return steps;
}

export interface SandboxIdentity {
  user: string;
  hostname: string;
  home: string;
  project: string;
  tmp: string;
}

/** The environment every sandboxed process gets: a developer's shell, plus the decoys. */
export function baseEnv(id: SandboxIdentity, node: string, decoyEnv: Record<string, string>) {
  const nodeDir = path.posix.dirname(node);
  const system = ['/usr/local/bin', '/usr/bin', '/bin'];
  const pathDirs = [
    `${id.home}/.local/bin`,
    ...(system.includes(nodeDir) ? [] : [nodeDir]),
    ...system,
  ];
  return {
    HOME: id.home,
    USER: id.user,
    LOGNAME: id.user,
    SHELL: '/bin/bash',
    HOSTNAME: id.hostname,
    LANG: 'C.UTF-8',
    TERM: 'xterm-256color',
    TMPDIR: id.tmp,
    PATH: pathDirs.join(':'),
    // gyp would try to write __pycache__ into npm's read-only copy of node-gyp
    PYTHONDONTWRITEBYTECODE: '1',
    ...decoyEnv,
  };
}

/**
 * The environment of one lifecycle script, as npm 11 builds it (@npmcli/run-script):
 * `node_modules/.bin` of every ancestor and the node-gyp shim first on PATH, the
 * `npm_lifecycle_*`, `npm_package_*` and `npm_config_*` variables.
 */
export function scriptEnv(
  base: Record<string, string>,
  step: InstallStep,
  pkg: Record<string, unknown>,
  packageDir: string,
  project: string,
  toolchain: NodeToolchain,
): Record<string, string> {
  const bins: string[] = [];
  for (let dir = packageDir; ; dir = path.posix.dirname(dir)) {
    bins.push(path.posix.join(dir, 'node_modules', '.bin'));
    if (dir === '/') break;
  }
  if (toolchain.nodeGypBin) bins.push(toolchain.nodeGypBin);
  const env: Record<string, string> = {
    ...base,
    ...packageEnv(pkg),
    PATH: [...bins, base.PATH ?? ''].join(':'),
    INIT_CWD: project,
    NODE: toolchain.node,
    COLOR: '0',
    EDITOR: 'vi',
    npm_command: 'install',
    npm_lifecycle_event: step.event,
    npm_lifecycle_script: step.script,
    npm_package_json: path.posix.join(packageDir, 'package.json'),
    npm_node_execpath: toolchain.node,
    npm_execpath: toolchain.npmCli,
    npm_config_node_gyp: toolchain.nodeGyp,
    npm_config_user_agent: `npm/${toolchain.npmVersion} node/${toolchain.nodeVersion} linux ${process.arch} workspaces/false`,
    npm_config_local_prefix: project,
    npm_config_global_prefix: path.posix.resolve(path.posix.dirname(toolchain.node), '..'),
    npm_config_userconfig: `${base.HOME}/.npmrc`,
    npm_config_cache: `${base.HOME}/.npm`,
    npm_config_npm_version: toolchain.npmVersion,
  };
  if (toolchain.nodedir) env.npm_config_nodedir = toolchain.nodedir;
  return env;
}

/** `npm_package_*` as run-script derives it: name, version, config, engines, bin. */
function packageEnv(pkg: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  const put = (value: unknown, prefix: string): void => {
    if (value === undefined) return;
    if (value === null || value === false) env[prefix] = '';
    else if (Array.isArray(value)) value.forEach((v, i) => put(v, `${prefix}_${i}`));
    else if (typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) put(v, `${prefix}_${k}`);
    } else env[prefix] = String(value);
  };
  for (const key of ['name', 'version', 'config', 'engines', 'bin']) {
    put(pkg[key], `npm_package_${key}`);
  }
  return env;
}

export interface EntryPoint {
  kind: 'require' | 'import' | 'bin';
  /** Path inside the package. */
  file: string;
  /** How a report names it: `require .`, `import ./esm`, `bin foo`. */
  label: string;
}

const CONDITIONS = new Set(['node', 'import', 'require', 'default', 'module']);
const LOADABLE = /\.(c?js|mjs|json|node)$/;

/**
 * The entry points to load, in order (main, exports, bins), at most `max`. `exists` says
 * whether a package-relative path is a regular file (checked after the install steps, which
 * may build some of them).
 */
export function entryPoints(
  pkg: Record<string, unknown>,
  bins: Record<string, string>,
  exists: (rel: string) => boolean,
  max: number,
): EntryPoint[] {
  const out: EntryPoint[] = [];
  const add = (e: EntryPoint) => {
    if (!out.some((o) => o.kind === e.kind && o.file === e.file)) out.push(e);
  };
  const esm = pkg.type === 'module';
  const modeOf = (file: string, conds: string[]): 'require' | 'import' => {
    if (conds.includes('import')) return 'import';
    if (conds.includes('require')) return 'require';
    return file.endsWith('.mjs') || (esm && file.endsWith('.js')) ? 'import' : 'require';
  };

  const main = resolveFile(typeof pkg.main === 'string' ? pkg.main : 'index.js', exists);
  if (main) add({ kind: modeOf(main, []), file: main, label: `${modeOf(main, [])} .` });

  const walk = (value: unknown, subpath: string, conds: string[]): void => {
    if (typeof value === 'string') {
      if (value.includes('*') || subpath.includes('*')) return;
      const file = normaliseTarget(value);
      if (!file || !LOADABLE.test(file) || !exists(file)) return;
      const mode = modeOf(file, conds);
      add({
        kind: mode,
        file,
        label: `${mode} ${subpath}${conds.length ? ` [${conds.join(',')}]` : ''}`,
      });
    } else if (Array.isArray(value)) {
      for (const v of value) walk(v, subpath, conds);
    } else if (isRecord(value)) {
      for (const [key, v] of Object.entries(value)) {
        if (key.startsWith('.')) walk(v, key, conds);
        else if (CONDITIONS.has(key)) walk(v, subpath, [...conds, key]);
      }
    }
  };
  walk(pkg.exports, '.', []);

  for (const [name, file] of Object.entries(bins)) {
    if (exists(file)) add({ kind: 'bin', file, label: `bin ${name} --help` });
  }
  return out.slice(0, max);
}

function resolveFile(spec: string, exists: (rel: string) => boolean): string | undefined {
  const base = normaliseTarget(spec.startsWith('.') ? spec : `./${spec}`);
  if (base === undefined) return undefined;
  const tries = base === '' ? ['index.js'] : [base, `${base}.js`, `${base}.json`, `${base}.node`];
  tries.push(path.posix.join(base, 'index.js'));
  return tries.find((t) => t !== '' && exists(t));
}

function normaliseTarget(target: string): string | undefined {
  const rel = path.posix.normalize(target.replace(/\\/g, '/'));
  if (rel.startsWith('..') || path.posix.isAbsolute(rel)) return undefined;
  return rel === '.' ? '' : rel.replace(/^\.\//, '');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
