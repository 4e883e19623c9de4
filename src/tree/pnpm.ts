/**
 * pnpm: lockfiles v9 (`packages` + `snapshots`) and v6 (`/name@version` keys), and a
 * pnpm-installed `node_modules`, read from pnpm's copy of the lockfile
 * (`node_modules/.pnpm/lock.yaml`) with each package's real directory under
 * `node_modules/.pnpm/<dir>/node_modules/<name>` (the symlinks beside them are not read).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { Dirent } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import semver from 'semver';
import { GraphBuilder, ROOT, nodeKey, splitAt } from './graph';
import type { DependencyGraph } from './graph';
import { markDev } from './project';
import { VettedError } from '../errors';

type Snapshot = {
  resolution?: { integrity?: string; tarball?: string };
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dev?: boolean;
};
type Importer = Record<string, Record<string, { specifier: string; version: string }>>;
type PnpmLock = {
  lockfileVersion?: string | number;
  importers?: Record<string, Importer>;
  packages?: Record<string, Snapshot>;
  snapshots?: Record<string, Snapshot>;
} & Importer;

/** A pnpm lockfile; `project` is the directory whose package.json marks devDependencies. */
export function loadPnpm(file: string, text: string, project = dirname(file)): DependencyGraph {
  return readPnpm(file, text, project).build('pnpm', file, file);
}

function readPnpm(file: string, text: string, project: string): GraphBuilder {
  const doc = (parseYaml(text) ?? {}) as PnpmLock;
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
    const tarball = pkg?.resolution?.tarball;
    return g.node(name, version, {
      ...(integrity ? { integrity } : {}),
      ...(tarball ? { resolved: tarball } : {}),
    }).key;
  };
  // a dependency's value is its version (with peers), or for an alias the package it names:
  // `other@1.0.0` (v9), `/other@1.0.0` (v6) or `npm:other@1.0.0`; or link:, file:, a URL
  const target = (name: string, value: string): string | undefined => {
    if (!/^(link|file|workspace):/.test(value)) {
      const ref = value.replace(/^npm:/, '').replace(/^\//, '');
      const plain = ref.replace(/\(.*$/, '');
      if (semver.valid(plain)) return keyOf(`${name}@${ref}`);
      const alias = splitAt(plain);
      if (alias.name && semver.valid(alias.rest)) return keyOf(ref);
    }
    g.skip(name, value, 'not a registry package');
    return undefined;
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
  markDev(g, project);
  return g;
}

/**
 * What pnpm installed under `<dir>/node_modules`: the tree from `.pnpm/lock.yaml`, and each
 * node's copies found by the name and version in their package.json.
 */
export function loadPnpmInstalled(dir: string): DependencyGraph {
  const modules = join(dir, 'node_modules');
  const store = join(modules, '.pnpm');
  const lock = join(store, 'lock.yaml');
  if (!existsSync(lock)) {
    throw new VettedError(
      'TREE_UNREADABLE',
      `${modules} was installed by pnpm but ${lock} is missing; reinstall with pnpm 8 or later`,
    );
  }
  const g = readPnpm(lock, readFileSync(lock, 'utf8'), dir);
  for (const entry of readdirSync(store, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === 'node_modules') continue;
    const inner = join(store, entry.name, 'node_modules');
    for (const location of realPackages(inner)) {
      const manifest = readManifest(location);
      const node = manifest && g.nodes.get(nodeKey(manifest.name, manifest.version));
      if (node) g.node(node.name, node.version, { locations: [location] });
    }
  }
  const manifest = join(dir, 'package.json');
  return g.build('node_modules', modules, existsSync(manifest) ? manifest : undefined);
}

/** The real directories (not symlinks) under a `.pnpm/<dir>/node_modules`, scopes opened. */
function realPackages(dir: string): string[] {
  const out: string[] = [];
  const list = (path: string): Dirent[] => {
    try {
      return readdirSync(path, { withFileTypes: true });
    } catch {
      return [];
    }
  };
  for (const entry of list(dir)) {
    if (!entry.isDirectory() || entry.name === '.bin') continue;
    if (!entry.name.startsWith('@')) {
      out.push(join(dir, entry.name));
      continue;
    }
    for (const scoped of list(join(dir, entry.name))) {
      if (scoped.isDirectory()) out.push(join(dir, entry.name, scoped.name));
    }
  }
  return out;
}

function readManifest(location: string): { name: string; version: string } | undefined {
  try {
    const doc = JSON.parse(readFileSync(join(location, 'package.json'), 'utf8')) as {
      name?: unknown;
      version?: unknown;
    };
    if (typeof doc.name !== 'string' || typeof doc.version !== 'string') return undefined;
    return { name: doc.name, version: doc.version };
  } catch {
    return undefined;
  }
}
