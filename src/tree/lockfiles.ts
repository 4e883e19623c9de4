/**
 * Reading a project's tree: npm lockfiles (v1 to v3) and installed `node_modules` with
 * @npmcli/arborist, yarn 1 lockfiles with @yarnpkg/lockfile, yarn 4 (berry) lockfiles with
 * @yarnpkg/parsers, and pnpm lockfiles (v6 and v9) with the YAML parser. Entries that are not
 * registry packages (workspaces, git, file and link dependencies) are listed as skipped: vetted
 * has no verdict to give on them.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parse as parseYarn1 } from '@yarnpkg/lockfile';
import { parseSyml } from '@yarnpkg/parsers';
import { parse as parseYaml } from 'yaml';
import semver from 'semver';
import { GraphBuilder, ROOT, nodeKey, splitAt } from './graph';
import type { DependencyGraph, TreeSource } from './graph';
import { VettedError, errorMessage } from '../errors';

// arborist ships no types; these are the parts used here
interface ArboristEdge {
  name: string;
  spec: string;
  type: string;
  to: ArboristNode | null;
}
interface ArboristNode {
  name: string;
  packageName: string;
  version: string;
  location: string;
  path: string;
  realpath: string;
  resolved: string | null;
  integrity: string | null;
  isLink: boolean;
  isRoot: boolean;
  isWorkspace: boolean;
  dev: boolean;
  inBundle: boolean;
  target: ArboristNode;
  edgesOut: Map<string, ArboristEdge>;
  package: { name?: string; version?: string };
}
interface ArboristTree extends ArboristNode {
  inventory: Map<string, ArboristNode>;
}
type ArboristCtor = new (options: { path: string }) => {
  loadVirtual(): Promise<ArboristTree>;
  loadActual(): Promise<ArboristTree>;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Arborist = require('@npmcli/arborist') as ArboristCtor;

const LOCKFILES: Array<[string, TreeSource]> = [
  ['npm-shrinkwrap.json', 'npm'],
  ['package-lock.json', 'npm'],
  ['pnpm-lock.yaml', 'pnpm'],
  ['yarn.lock', 'yarn1'], // yarn 1 or 4: told apart by content
];

/**
 * Loads the tree at `target`: a lockfile, a project directory (its lockfile), or a
 * `node_modules` directory (what is installed).
 * @throws VettedError TREE_UNREADABLE saying what was expected.
 */
export async function loadTree(target: string): Promise<DependencyGraph> {
  const path = resolve(target);
  if (!existsSync(path)) throw new VettedError('TREE_UNREADABLE', `${target} does not exist`);
  try {
    if (statSync(path).isDirectory()) {
      if (basename(path) === 'node_modules') return await loadInstalled(dirname(path));
      for (const [file] of LOCKFILES) {
        if (existsSync(join(path, file))) return await loadLockfile(join(path, file));
      }
      throw new VettedError(
        'TREE_UNREADABLE',
        `${target} has no package-lock.json, npm-shrinkwrap.json, yarn.lock or pnpm-lock.yaml; ` +
          `pass a lockfile, or ${join(target, 'node_modules')} to check what is installed`,
      );
    }
    return await loadLockfile(path);
  } catch (err) {
    if (err instanceof VettedError) throw err;
    throw new VettedError('TREE_UNREADABLE', `cannot read ${target}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

async function loadLockfile(file: string): Promise<DependencyGraph> {
  const name = basename(file);
  const text = readFileSync(file, 'utf8');
  if (name.endsWith('.json')) return loadNpm(file);
  if (name.endsWith('.yaml') || name.endsWith('.yml')) return loadPnpm(file, text);
  if (name.endsWith('.lock')) {
    return /^__metadata:/m.test(text) ? loadYarn4(file, text) : loadYarn1(file, text);
  }
  throw new VettedError(
    'TREE_UNREADABLE',
    `${file}: not a lockfile vetted reads (package-lock.json, npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml)`,
  );
}

/** npm lockfiles, v1 to v3, through arborist's virtual tree (no network, no node_modules). */
async function loadNpm(file: string): Promise<DependencyGraph> {
  const dir = dirname(file);
  if (basename(file) !== 'package-lock.json' && basename(file) !== 'npm-shrinkwrap.json') {
    throw new VettedError(
      'TREE_UNREADABLE',
      `${file}: an npm lockfile must be named package-lock.json or npm-shrinkwrap.json`,
    );
  }
  const tree = await new Arborist({ path: dir }).loadVirtual();
  return fromArborist(tree, 'npm', file, file);
}

/** What is installed under `<dir>/node_modules`, read from disk. */
async function loadInstalled(dir: string): Promise<DependencyGraph> {
  const tree = await new Arborist({ path: dir }).loadActual();
  const manifest = join(dir, 'package.json');
  return fromArborist(
    tree,
    'node_modules',
    join(dir, 'node_modules'),
    existsSync(manifest) ? manifest : undefined,
  );
}

function fromArborist(
  tree: ArboristTree,
  source: TreeSource,
  path: string,
  lockfile: string | undefined,
): DependencyGraph {
  const g = new GraphBuilder();
  const keyOf = (node: ArboristNode): string | undefined => {
    const target = node.isLink ? node.target : node;
    if (!target || target.isRoot || target.isWorkspace || target.isLink) return undefined;
    const name = target.packageName || target.package.name || target.name;
    const version = target.package.version ?? target.version;
    if (!name || !version || !semver.valid(version)) return undefined;
    if (target.resolved && !isRegistryResolved(target.resolved)) return undefined;
    return nodeKey(name, version);
  };
  for (const node of tree.inventory.values()) {
    if (node.isRoot) continue;
    const key = keyOf(node);
    if (!key) {
      const spec = node.isLink ? `link to ${node.realpath}` : (node.resolved ?? node.version);
      if (!node.isWorkspace && !(node.isLink && node.target?.isWorkspace)) {
        g.skip(node.packageName || node.name, spec, 'not a registry package');
      }
      continue;
    }
    const { name, rest } = splitAt(key);
    g.node(name, rest, {
      dev: node.dev,
      ...(node.integrity ? { integrity: node.integrity } : {}),
      ...(source === 'node_modules' && !node.isLink ? { locations: [node.path] } : {}),
    });
  }
  for (const node of tree.inventory.values()) {
    const from = node.isRoot || node.isWorkspace ? ROOT : keyOf(node);
    if (from === undefined) continue;
    for (const edge of node.edgesOut.values()) {
      if (!edge.to) continue; // an optional dependency that was not installed
      const to = keyOf(edge.to);
      if (to && g.nodes.has(to)) g.edge(from, to, edge.spec);
    }
  }
  return g.build(source, path, lockfile);
}

function isRegistryResolved(resolved: string): boolean {
  return /^https?:\/\//.test(resolved) && /\.tgz(\?|#|$)/.test(resolved);
}

/** Root dependencies from the package.json beside a lockfile, when there is one. */
function rootSpecs(lockfile: string): Array<{ name: string; spec: string; dev: boolean }> {
  const file = join(dirname(lockfile), 'package.json');
  if (!existsSync(file)) return [];
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const out: Array<{ name: string; spec: string; dev: boolean }> = [];
  for (const field of ['dependencies', 'optionalDependencies', 'devDependencies']) {
    const deps = manifest[field];
    if (!deps || typeof deps !== 'object') continue;
    for (const [name, spec] of Object.entries(deps as Record<string, string>)) {
      out.push({ name, spec: String(spec), dev: field === 'devDependencies' });
    }
  }
  return out;
}

/** yarn 1: entries keyed by every `name@range` that resolved to them. */
function loadYarn1(file: string, text: string): DependencyGraph {
  const parsed = parseYarn1(text, file);
  if (parsed.type !== 'success') {
    throw new VettedError('TREE_UNREADABLE', `${file} has merge conflicts; resolve them first`);
  }
  type Entry = {
    version: string;
    resolved?: string;
    integrity?: string;
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  const entries = parsed.object as Record<string, Entry>;
  const g = new GraphBuilder();
  const keyFor = (descriptor: string): string | undefined => {
    const entry = entries[descriptor];
    if (!entry) return undefined;
    const { name } = splitAt(descriptor);
    if (entry.resolved && !isRegistryResolved(entry.resolved)) {
      g.skip(name, splitAt(descriptor).rest, 'not a registry package');
      return undefined;
    }
    const node = g.node(name, entry.version, entry.integrity ? { integrity: entry.integrity } : {});
    return node.key;
  };
  for (const descriptor of Object.keys(entries)) keyFor(descriptor);
  for (const [descriptor, entry] of Object.entries(entries)) {
    const from = keyFor(descriptor);
    if (!from) continue;
    for (const deps of [entry.dependencies, entry.optionalDependencies]) {
      for (const [name, range] of Object.entries(deps ?? {})) {
        const to = keyFor(`${name}@${range}`);
        if (to) g.edge(from, to, range);
      }
    }
  }
  addRoots(g, file, (name, spec) => keyFor(`${name}@${spec}`));
  return g.build('yarn1', file, file);
}

/** yarn 4: `name@npm:range` descriptors; workspaces are the roots. */
function loadYarn4(file: string, text: string): DependencyGraph {
  type Entry = {
    version?: string;
    resolution?: string;
    checksum?: string;
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  const doc = parseSyml(text) as Record<string, Entry>;
  const g = new GraphBuilder();
  const byDescriptor = new Map<string, Entry>();
  for (const [keys, entry] of Object.entries(doc)) {
    if (keys === '__metadata') continue;
    for (const key of keys.split(',')) byDescriptor.set(key.trim(), entry);
  }
  const keyOf = (entry: Entry): string | undefined => {
    const resolution = entry.resolution ?? '';
    const { name, rest } = splitAt(resolution);
    if (rest.startsWith('workspace:')) return ROOT;
    // a patched package is still the registry version inside it
    const registry = rest.startsWith('npm:') || /^patch:.*npm%3A/.test(rest);
    if (!registry || !entry.version || !semver.valid(entry.version)) {
      g.skip(name, rest, 'not a registry package');
      return undefined;
    }
    return g.node(name, entry.version).key;
  };
  const lookup = (name: string, range: string): string | undefined => {
    const entry =
      byDescriptor.get(`${name}@${range}`) ??
      byDescriptor.get(`${name}@npm:${range}`) ??
      byDescriptor.get(`${name}@${range.replace(/^npm:/, '')}`);
    return entry ? keyOf(entry) : undefined;
  };
  for (const entry of byDescriptor.values()) {
    const from = keyOf(entry);
    if (from === undefined) continue;
    for (const deps of [entry.dependencies, entry.optionalDependencies]) {
      for (const [name, range] of Object.entries(deps ?? {})) {
        const to = lookup(name, range);
        if (to) g.edge(from, to, range.replace(/^npm:/, ''));
      }
    }
  }
  // devDependencies are not marked in yarn 4 lockfiles; package.json says which they are
  markDev(g, file);
  return g.build('yarn4', file, file);
}

/** pnpm v9 (`packages` + `snapshots`) and v6 (`/name@version` keys). */
function loadPnpm(file: string, text: string): DependencyGraph {
  type Snapshot = {
    resolution?: { integrity?: string; tarball?: string };
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    dev?: boolean;
  };
  type Importer = Record<string, Record<string, { specifier: string; version: string }>>;
  const doc = (parseYaml(text) ?? {}) as {
    lockfileVersion?: string | number;
    importers?: Record<string, Importer>;
    packages?: Record<string, Snapshot>;
    snapshots?: Record<string, Snapshot>;
  } & Importer;
  const major = Number.parseFloat(String(doc.lockfileVersion ?? '0'));
  if (!(major >= 6)) {
    throw new VettedError(
      'TREE_UNREADABLE',
      `${file}: pnpm lockfile version ${String(doc.lockfileVersion)} is not supported (6 or newer; run pnpm install with pnpm 8 or later)`,
    );
  }
  const g = new GraphBuilder();
  const packages = doc.packages ?? {};
  const snapshots = doc.snapshots ?? packages; // v6 keeps dependencies on the package entries
  // "/name@1.0.0(peer@2.0.0)" (v6) or "name@1.0.0(peer@2.0.0)" (v9) -> name, version
  const parseKey = (key: string) => {
    const { name, rest } = splitAt(key.replace(/^\//, ''));
    return { name, version: rest.replace(/\(.*$/, '') };
  };
  const keyOf = (snapshotKey: string): string | undefined => {
    const { name, version } = parseKey(snapshotKey);
    if (!semver.valid(version)) {
      g.skip(name, version, 'not a registry package');
      return undefined;
    }
    const pkg = packages[`${major >= 9 ? '' : '/'}${name}@${version}`] ?? packages[snapshotKey];
    if (pkg?.resolution?.tarball && !pkg.resolution.integrity) {
      g.skip(name, version, 'not a registry package');
      return undefined;
    }
    const integrity = pkg?.resolution?.integrity;
    return g.node(name, version, integrity ? { integrity } : {}).key;
  };
  // a dependency's value is its version (with peers), or an alias `npm:other@1.0.0`, or link:
  const target = (name: string, value: string): string | undefined => {
    if (/^(link|file|workspace):/.test(value)) {
      g.skip(name, value, 'not a registry package');
      return undefined;
    }
    return keyOf(value.startsWith('npm:') ? value.slice(4) : `${name}@${value}`);
  };
  for (const [key, snapshot] of Object.entries(snapshots)) {
    const from = keyOf(key);
    if (!from) continue;
    for (const deps of [snapshot.dependencies, snapshot.optionalDependencies]) {
      for (const [name, value] of Object.entries(deps ?? {})) {
        const to = target(name, value);
        if (to) g.edge(from, to);
      }
    }
  }
  const importers = doc.importers ?? { '.': doc };
  for (const importer of Object.values(importers)) {
    for (const field of ['dependencies', 'optionalDependencies', 'devDependencies']) {
      for (const [name, { specifier, version }] of Object.entries(importer[field] ?? {})) {
        const to = target(name, version);
        if (!to) continue;
        g.edge(ROOT, to, specifier);
      }
    }
  }
  markDev(g, file);
  return g.build('pnpm', file, file);
}

function addRoots(
  g: GraphBuilder,
  lockfile: string,
  find: (name: string, spec: string) => string | undefined,
): void {
  const roots = rootSpecs(lockfile);
  for (const { name, spec } of roots) {
    const to = find(name, spec);
    if (to) g.edge(ROOT, to, spec);
  }
  markDev(g, lockfile);
}

/**
 * Marks nodes reached only from devDependencies of the project, from its package.json. Without
 * one nothing is marked.
 */
function markDev(g: GraphBuilder, lockfile: string): void {
  const roots = rootSpecs(lockfile);
  if (roots.length === 0) return;
  const children = new Map<string, string[]>();
  for (const edge of g.edges) {
    children.set(edge.from, [...(children.get(edge.from) ?? []), edge.to]);
  }
  const reach = (starts: string[]): Set<string> => {
    const seen = new Set<string>();
    const stack = [...starts];
    while (stack.length > 0) {
      const key = stack.pop()!;
      if (seen.has(key)) continue;
      seen.add(key);
      stack.push(...(children.get(key) ?? []));
    }
    return seen;
  };
  const direct = g.edges.filter((e) => e.from === ROOT);
  const devNames = new Set(roots.filter((r) => r.dev).map((r) => r.name));
  const prodStarts = direct.filter((e) => !devNames.has(splitAt(e.to).name)).map((e) => e.to);
  const prod = reach(prodStarts);
  for (const node of g.nodes.values()) node.dev = !prod.has(node.key);
}
