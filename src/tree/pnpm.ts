/**
 * pnpm lockfiles: v9 (`packages` + `snapshots`) and v6 (`/name@version` keys).
 */
import { dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import semver from 'semver';
import { GraphBuilder, ROOT, splitAt } from './graph';
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
    return g.node(name, version, integrity ? { integrity } : {}).key;
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
