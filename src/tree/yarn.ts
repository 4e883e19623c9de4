/**
 * yarn lockfiles: yarn 1 with @yarnpkg/lockfile, yarn 4 (berry) with @yarnpkg/parsers. An alias
 * (`"string-width-cjs": "npm:string-width@^4.2.0"`) is the package it names; its edges keep the
 * range the parent declared.
 */
import { dirname } from 'node:path';
import { parse as parseYarn1 } from '@yarnpkg/lockfile';
import { parseSyml } from '@yarnpkg/parsers';
import semver from 'semver';
import { GraphBuilder, ROOT, aliasOf, splitAt } from './graph';
import type { DependencyGraph } from './graph';
import { addRoots, markDev, resolvedProblem } from './project';
import { VettedError } from '../errors';

/** yarn 1: entries keyed by every `name@range` (or `alias@npm:name@range`) resolved to them. */
export function loadYarn1(file: string, text: string): DependencyGraph {
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
    const { name: declared, rest: range } = splitAt(descriptor);
    const name = aliasOf(range)?.name ?? declared;
    // yarn 1 installs the resolved URL: it must be the package and version the entry names
    const problem = resolvedProblem(entry.resolved, name, entry.version);
    if (problem) {
      g.skip(declared, range, problem);
      return undefined;
    }
    const node = g.node(name, entry.version, {
      ...(entry.integrity ? { integrity: entry.integrity } : {}),
      ...(entry.resolved ? { resolved: entry.resolved } : {}),
    });
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
  addRoots(g, dirname(file), (name, spec) => keyFor(`${name}@${spec}`));
  return g.build('yarn1', file, file);
}

/** yarn 4: `name@npm:range` descriptors; workspaces are the roots. */
export function loadYarn4(file: string, text: string): DependencyGraph {
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
  // the resolution carries the real name: an alias's is `string-width@npm:4.2.3`
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
  // yarn 4 writes `npm:^1.0.0` for a plain `^1.0.0`; an alias keeps its `npm:name@range`
  const declared = (range: string) => (aliasOf(range) ? range : range.replace(/^npm:/, ''));
  for (const entry of byDescriptor.values()) {
    const from = keyOf(entry);
    if (from === undefined) continue;
    for (const deps of [entry.dependencies, entry.optionalDependencies]) {
      for (const [name, range] of Object.entries(deps ?? {})) {
        const to = lookup(name, range);
        if (to) g.edge(from, to, declared(range));
      }
    }
  }
  // devDependencies are not marked in yarn 4 lockfiles; package.json says which they are
  markDev(g, dirname(file));
  return g.build('yarn4', file, file);
}
