/**
 * Packages published to vetted itself. Verdaccio keeps them in its storage
 * (`<storage>/<name>/package.json` and the tarball beside it, a scope being a directory level);
 * the upstream has never heard of them. This module reads them from there, records which
 * Verdaccio user published each version (the registry's `_npmUser`, which Verdaccio does not
 * keep), and wraps the upstream client so the engine, the version check and spec resolution
 * fall back to local packages when the upstream answers 404 for the name.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ssri from 'ssri';
import type { Sublevel } from '../index/database';
import { versionKey } from '../index/database';
import { errorCode } from '../errors';
import type { Packument } from './packument';
import type { Upstream } from './upstream';

/** The scheme the wrapped client gives local tarballs, so they are never fetched over HTTP. */
const LOCAL_SCHEME = 'vetted-local:';

export interface PublishRecord {
  user: string;
  at: string;
}

export interface LocalPackages {
  /** The stored document, or undefined when Verdaccio has no such package. */
  read(name: string): Promise<Packument | undefined>;
  versions(name: string): Promise<Set<string>>;
  /**
   * Versions stored now, read synchronously: called before a publish request goes on, which
   * must not wait (Verdaccio's body parser needs the request stream still unread).
   */
  versionsNow(name: string): Set<string>;
  /** Records `user` as the publisher of every version stored now that was not in `before`. */
  recordPublish(name: string, user: string, before: Set<string>): Promise<string[]>;
  publisherOf(name: string, version: string): Promise<PublishRecord | undefined>;
}

export function createLocalPackages(storage: string, publishers: Sublevel): LocalPackages {
  const dirOf = (name: string) => path.join(storage, ...name.split('/'));

  async function read(name: string): Promise<Packument | undefined> {
    if (name.includes('..') || name.startsWith('.')) return undefined;
    try {
      return JSON.parse(await readFile(path.join(dirOf(name), 'package.json'), 'utf8'));
    } catch {
      return undefined;
    }
  }

  return {
    read,
    async versions(name) {
      return new Set(Object.keys((await read(name))?.versions ?? {}));
    },
    versionsNow(name) {
      if (name.includes('..') || name.startsWith('.')) return new Set();
      try {
        const doc = JSON.parse(readFileSync(path.join(dirOf(name), 'package.json'), 'utf8'));
        return new Set(Object.keys((doc as Packument).versions ?? {}));
      } catch {
        return new Set();
      }
    },
    async recordPublish(name, user, before) {
      const added = [...(await this.versions(name))].filter((v) => !before.has(v));
      const at = new Date().toISOString();
      for (const version of added) {
        await publishers.put(versionKey(name, version), { user, at } satisfies PublishRecord);
      }
      return added;
    },
    async publisherOf(name, version) {
      return (await publishers.get(versionKey(name, version))) as PublishRecord | undefined;
    },
  };
}

/**
 * The upstream client, falling back to local packages for names the upstream does not have.
 * Local documents get each version's recorded publisher as `_npmUser` and their tarballs a
 * `vetted-local:` URL, read from storage and checked against the integrity like any other.
 */
export function withLocalPackages(
  upstream: Upstream,
  local: LocalPackages,
  storage: string,
): Upstream {
  async function localPackument(name: string, err: unknown): Promise<Packument> {
    const doc = await local.read(name);
    if (!doc?.versions || Object.keys(doc.versions).length === 0) throw err;
    for (const [version, manifest] of Object.entries(doc.versions)) {
      const file = path.basename(String(manifest.dist?.tarball ?? `${version}.tgz`));
      manifest.dist = { ...manifest.dist, tarball: `${LOCAL_SCHEME}${name}/${file}` };
      const publisher = await local.publisherOf(name, version);
      if (publisher) manifest._npmUser = { name: publisher.user, registry: 'vetted' };
    }
    return doc;
  }

  return {
    registry: upstream.registry,
    async packument(name, signal) {
      try {
        return await upstream.packument(name, signal);
      } catch (err) {
        if (errorCode(err) !== 'E404') throw err;
        return localPackument(name, err);
      }
    },
    async versions(name, signal) {
      try {
        return await upstream.versions(name, signal);
      } catch (err) {
        if (errorCode(err) !== 'E404') throw err;
        const versions = await local.versions(name);
        if (versions.size === 0) throw err;
        return versions;
      }
    },
    async tarball(resolved, integrity, signal) {
      if (!resolved.startsWith(LOCAL_SCHEME)) return upstream.tarball(resolved, integrity, signal);
      const relative = resolved.slice(LOCAL_SCHEME.length);
      const file = path.resolve(storage, ...relative.split('/'));
      if (!file.startsWith(path.resolve(storage) + path.sep) || !existsSync(file)) {
        throw Object.assign(new Error(`no stored tarball ${relative}`), { code: 'E404' });
      }
      const data = await readFile(file);
      // throws EINTEGRITY with `found` and `expected`, as pacote does
      ssri.checkData(data, integrity, { error: true });
      return data;
    },
  };
}
