/**
 * What the lockfile loaders share: the project's own dependencies from the package.json beside
 * a lockfile, devDependency marking, and telling registry tarball URLs from anything else.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, aliasOf, splitAt } from './graph';
import type { GraphBuilder } from './graph';

export interface RootSpec {
  name: string;
  spec: string;
  dev: boolean;
}

export function isRegistryResolved(resolved: string): boolean {
  return /^https?:\/\//.test(resolved) && /\.tgz(\?|#|$)/.test(resolved);
}

/**
 * The package and version a registry tarball URL (`…/<name>/-/<base>-<version>.tgz`) names;
 * undefined when the URL has another layout.
 */
export function tarballOf(resolved: string): { name: string; version: string } | undefined {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(resolved).pathname);
  } catch {
    return undefined;
  }
  const match = /\/((?:@[^/]+\/)?([^/@]+))\/-\/([^/]+)\.tgz$/.exec(pathname);
  if (!match || !match[3]!.startsWith(`${match[2]}-`)) return undefined;
  return { name: match[1]!, version: match[3]!.slice(match[2]!.length + 1) };
}

/**
 * Why a lockfile entry for `name@version` that a client installs from `resolved` cannot be
 * vouched for as that registry version: it comes from elsewhere (git, a file, a link), or its
 * registry URL names another package or version, which the client would fetch instead.
 */
export function resolvedProblem(
  resolved: string | undefined,
  name: string,
  version: string,
): string | undefined {
  if (!resolved) return undefined;
  if (!isRegistryResolved(resolved)) return 'not a registry package';
  const tarball = tarballOf(resolved);
  if (tarball && (tarball.name !== name || tarball.version !== version)) {
    return `resolved ${resolved} is ${tarball.name}@${tarball.version}, not ${name}@${version}`;
  }
  return undefined;
}

/** Root dependencies from the package.json in `dir`, when there is one. */
export function rootSpecs(dir: string): RootSpec[] {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return [];
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const out: RootSpec[] = [];
  for (const field of ['dependencies', 'optionalDependencies', 'devDependencies']) {
    const deps = manifest[field];
    if (!deps || typeof deps !== 'object') continue;
    for (const [name, spec] of Object.entries(deps as Record<string, string>)) {
      out.push({ name, spec: String(spec), dev: field === 'devDependencies' });
    }
  }
  return out;
}

/** Edges from the project to what its package.json (in `dir`) asks for, then dev marking. */
export function addRoots(
  g: GraphBuilder,
  dir: string,
  find: (name: string, spec: string) => string | undefined,
): void {
  for (const { name, spec } of rootSpecs(dir)) {
    const to = find(name, spec);
    if (to) g.edge(ROOT, to, spec);
  }
  markDev(g, dir);
}

/**
 * Marks nodes reached only from devDependencies of the project, from its package.json (in
 * `dir`). Without one nothing is marked.
 */
export function markDev(g: GraphBuilder, dir: string): void {
  const roots = rootSpecs(dir);
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
  // an alias (`"my-ms": "npm:ms@2.1.3"`) reaches the package it names
  const devNames = new Set(roots.filter((r) => r.dev).map((r) => aliasOf(r.spec)?.name ?? r.name));
  const direct = g.edges.filter((e) => e.from === ROOT);
  const prodStarts = direct.filter((e) => !devNames.has(splitAt(e.to).name)).map((e) => e.to);
  const prod = reach(prodStarts);
  for (const node of g.nodes.values()) node.dev = !prod.has(node.key);
}
