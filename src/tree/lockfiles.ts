/**
 * Reading a project's tree: npm lockfiles (v1 to v3) and installed `node_modules` with
 * @npmcli/arborist, yarn lockfiles (yarn.ts), pnpm lockfiles and pnpm-installed
 * `node_modules` (pnpm.ts). Entries that are not
 * registry packages (workspaces, git, file and link dependencies) are listed as skipped: vetted
 * has no verdict to give on them.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import semver from 'semver';
import { GraphBuilder, ROOT, nodeKey, splitAt } from './graph';
import type { DependencyGraph, TreeSource } from './graph';
import { loadPnpm, loadPnpmInstalled } from './pnpm';
import { resolvedProblem } from './project';
import { loadYarn1, loadYarn4 } from './yarn';
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
      if (basename(path) === 'node_modules') {
        // pnpm's layout is symlinks into .pnpm, which arborist reads as links it cannot judge
        if (existsSync(join(path, '.pnpm'))) return loadPnpmInstalled(dirname(path));
        return await loadInstalled(dirname(path));
      }
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
  /** The node's key, or why it is not a registry version vetted can vouch for. */
  const classify = (node: ArboristNode): { key: string } | { problem: string } => {
    const target = node.isLink ? node.target : node;
    const notRegistry = { problem: 'not a registry package' };
    if (!target || target.isRoot || target.isWorkspace || target.isLink) return notRegistry;
    const name = target.packageName || target.package.name || target.name;
    const version = target.package.version ?? target.version;
    if (!name || !version || !semver.valid(version)) return notRegistry;
    // npm installs the resolved URL: it must be the package and version the entry names
    const problem = resolvedProblem(target.resolved ?? undefined, name, version);
    return problem ? { problem } : { key: nodeKey(name, version) };
  };
  const keyOf = (node: ArboristNode): string | undefined => {
    const c = classify(node);
    return 'key' in c ? c.key : undefined;
  };
  for (const node of tree.inventory.values()) {
    if (node.isRoot) continue;
    const c = classify(node);
    if (!('key' in c)) {
      const spec = node.isLink ? `link to ${node.realpath}` : (node.resolved ?? node.version);
      if (!node.isWorkspace && !(node.isLink && node.target?.isWorkspace)) {
        g.skip(node.packageName || node.name, spec, c.problem);
      }
      continue;
    }
    const key = c.key;
    const { name, rest } = splitAt(key);
    g.node(name, rest, {
      dev: node.dev,
      ...(node.integrity ? { integrity: node.integrity } : {}),
      ...(source !== 'node_modules' && node.resolved ? { resolved: node.resolved } : {}),
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
