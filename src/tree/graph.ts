/**
 * A project's dependency tree as vetted sees it: one node per `name@version` from a registry,
 * and the edges that lead to it with the range each parent asked for. Every lockfile format
 * and an installed `node_modules` load into this one shape (see lockfiles.ts), so the check,
 * the SBOM and the attestation do not care where the tree came from.
 */

import semver from 'semver';

/** The project itself: the start of every dependency path. */
export const ROOT = '';

export type TreeSource = 'npm' | 'yarn1' | 'yarn4' | 'pnpm' | 'node_modules';

export interface TreeNode {
  /** `name@version`. */
  key: string;
  name: string;
  version: string;
  /** The integrity the lockfile recorded, when it did. */
  integrity?: string;
  /** The tarball URL the lockfile recorded (what `npm ci` fetches), when it did. */
  resolved?: string;
  /** Only reached through devDependencies. */
  dev?: boolean;
  /** Where it is installed (node_modules trees only), one entry per copy. */
  locations?: string[];
}

export interface TreeEdge {
  /** The parent's key, or ROOT. */
  from: string;
  to: string;
  /** The range the parent declared; absent when the lockfile does not keep it (pnpm). */
  spec?: string;
}

/** Something in the tree vetted does not judge (a workspace, a git or file dependency). */
export interface SkippedEntry {
  name: string;
  spec: string;
  reason: string;
}

export interface DependencyGraph {
  source: TreeSource;
  /** The file or directory the tree was read from. */
  path: string;
  /** The file whose digest the attestation covers (the lockfile; package.json for node_modules). */
  lockfile?: string;
  nodes: Map<string, TreeNode>;
  edges: TreeEdge[];
  skipped: SkippedEntry[];
}

export function nodeKey(name: string, version: string): string {
  return `${name}@${version}`;
}

/** Splits `name@rest` where the name may be scoped. */
export function splitAt(text: string): { name: string; rest: string } {
  const at = text.indexOf('@', text.startsWith('@') ? 1 : 0);
  return at < 0 ? { name: text, rest: '' } : { name: text.slice(0, at), rest: text.slice(at + 1) };
}

/** Builds graphs; repeated nodes and edges are merged. */
export class GraphBuilder {
  readonly nodes = new Map<string, TreeNode>();
  readonly edges: TreeEdge[] = [];
  readonly skipped: SkippedEntry[] = [];
  readonly #edgeKeys = new Set<string>();

  node(name: string, version: string, extra: Omit<Partial<TreeNode>, 'key'> = {}): TreeNode {
    const key = nodeKey(name, version);
    let node = this.nodes.get(key);
    if (!node) {
      node = { key, name, version };
      this.nodes.set(key, node);
    }
    if (extra.integrity && !node.integrity) node.integrity = extra.integrity;
    if (extra.resolved && !node.resolved) node.resolved = extra.resolved;
    // a node is dev only when every copy of it is
    if (extra.dev !== undefined) node.dev = (node.dev ?? true) && extra.dev;
    if (extra.locations) node.locations = [...(node.locations ?? []), ...extra.locations];
    return node;
  }

  edge(from: string, to: string, spec?: string): void {
    const id = `${from}\0${to}\0${spec ?? ''}`;
    if (this.#edgeKeys.has(id)) return;
    this.#edgeKeys.add(id);
    this.edges.push(spec === undefined ? { from, to } : { from, to, spec });
  }

  skip(name: string, spec: string, reason: string): void {
    if (!this.skipped.some((s) => s.name === name && s.spec === spec)) {
      this.skipped.push({ name, spec, reason });
    }
  }

  build(source: TreeSource, path: string, lockfile?: string): DependencyGraph {
    const graph: DependencyGraph = {
      source,
      path,
      nodes: this.nodes,
      edges: this.edges,
      skipped: this.skipped,
    };
    if (lockfile) graph.lockfile = lockfile;
    return graph;
  }
}

/** Steps `pathsTo` takes at most; a tree with many cycles has more simple paths than atoms. */
export const PATH_STEPS = 200_000;

/**
 * Every path from the project to `target`, as lists of keys, shortest first; at most `limit`
 * of them (a deep node in a wide tree can have thousands), with the total counted. The walk
 * stops after `maxSteps` steps: then `complete` is false and `total` is a lower bound.
 */
export function pathsTo(
  graph: DependencyGraph,
  target: string,
  limit = 20,
  maxSteps = PATH_STEPS,
): { paths: string[][]; total: number; complete: boolean } {
  const parents = new Map<string, string[]>();
  for (const edge of graph.edges) {
    const list = parents.get(edge.to) ?? [];
    if (!list.includes(edge.from)) list.push(edge.from);
    parents.set(edge.to, list);
  }
  const paths: string[][] = [];
  let total = 0;
  let steps = 0;
  // walk upwards from the target; a path that meets a node twice is a cycle and is dropped.
  // Every call counts as a step, those that end in a cycle too, so the budget bounds the work.
  const below: string[] = [];
  const onPath = new Set<string>();
  const found = (path: string[]): void => {
    total += 1;
    if (paths.length < limit) paths.push([...path].reverse());
  };
  const walk = (key: string): void => {
    if (++steps > maxSteps) return;
    if (key === ROOT) return found(below);
    if (onPath.has(key)) return;
    below.push(key);
    onPath.add(key);
    const up = parents.get(key);
    // nothing depends on it: the lockfile lists it at the top (an orphan counts as a root)
    if (!up || up.length === 0) found(below);
    else for (const parent of up) if (steps <= maxSteps) walk(parent);
    onPath.delete(key);
    below.pop();
  };
  walk(target);
  paths.sort((a, b) => a.length - b.length);
  return { paths, total, complete: steps <= maxSteps };
}

const PACKAGE_NAME = /^(?:@[\w.~-]+\/)?[\w.~-]+$/;

/**
 * The package an `npm:<name>@<range>` alias spec stands for, and its range (after the last
 * `@`; `*` when none is given). Undefined for any other spec, yarn 4's `npm:<range>` too.
 */
export function aliasOf(spec: string): { name: string; range: string } | undefined {
  if (!spec.startsWith('npm:')) return undefined;
  const target = spec.slice(4);
  const at = target.lastIndexOf('@');
  const name = at > 0 ? target.slice(0, at) : target;
  if (!PACKAGE_NAME.test(name)) return undefined;
  if (at > 0) return { name, range: target.slice(at + 1) || '*' };
  return semver.validRange(target) === null ? { name, range: '*' } : undefined;
}

/** The ranges the parents of `target` declared (unknown ones as the parent's key). */
export function incomingSpecs(
  graph: DependencyGraph,
  target: string,
): Array<{ from: string; spec?: string }> {
  return graph.edges
    .filter((e) => e.to === target)
    .map((e) => (e.spec === undefined ? { from: e.from } : { from: e.from, spec: e.spec }));
}
