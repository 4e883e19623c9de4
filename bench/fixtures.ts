/**
 * The upstream the servers under test proxy: a plain Verdaccio 6.8 on loopback with open
 * registration, and the three fixture packages published to it with the real npm client
 * (isolated userconfig and cache, see test/helpers/npm.ts).
 * Depends on: test/helpers (startVerdaccio, createUser, publishPackage).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { publishPackage } from '../test/helpers/fixtures';
import { createUser, startVerdaccio } from '../test/helpers/verdaccio';
import type { RunningVerdaccio } from '../test/helpers/verdaccio';
import type { Cleanup } from './cleanup';

export interface Fixture {
  name: string;
  version: string;
  /** Path of the tarball on any registry: `/name/-/name-1.0.0.tgz`. */
  tarballPath: string;
  /** `dist.integrity` as the upstream publishes it. */
  integrity: string;
  /** Headers wrk sends (metadata cases). */
  headers?: string[];
}

export interface Fixtures {
  small: Fixture;
  big: Fixture;
  held: Fixture;
}

const BIG_BYTES = 1024 * 1024;

/** Starts the upstream and publishes bench-small, bench-big and bench-held to it. */
export async function createUpstream(
  root: string,
  cleanup: Cleanup,
): Promise<{ upstream: RunningVerdaccio; fixtures: Fixtures }> {
  const upstream = await startVerdaccio({ dir: path.join(root, 'upstream') });
  cleanup.add('stopping the upstream Verdaccio', () => upstream.stop());
  const token = await createUser(upstream.url, 'bench', 'bench-password-1');

  const pkgs = path.join(root, 'packages');
  const small = await writePackage(pkgs, 'bench-small', {
    'index.js': "module.exports = 'bench-small';\n",
  });
  // random bytes do not compress, so the tarball is about as big as the file
  const data = randomBytes(BIG_BYTES);
  // a fixed prefix, so random bytes never look like a native binary to the static layer
  data.write('RANDOMDATA', 0, 'latin1');
  const big = await writePackage(pkgs, 'bench-big', {
    'index.js': "module.exports = 'bench-big';\n",
    'data.bin': data,
  });
  const held = await writePackage(
    pkgs,
    'bench-held',
    { 'index.js': "module.exports = 'bench-held';\n", 'install.js': "console.log('hi');\n" },
    { scripts: { postinstall: 'node install.js' } },
  );
  for (const dir of [small, big, held]) await publishPackage(dir, upstream.url, token);

  const fixtures: Fixtures = {
    small: await readFixture(upstream.url, 'bench-small'),
    big: await readFixture(upstream.url, 'bench-big'),
    held: await readFixture(upstream.url, 'bench-held'),
  };
  return { upstream, fixtures };
}

async function writePackage(
  root: string,
  name: string,
  files: Record<string, string | Buffer>,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  const manifest = {
    name,
    version: '1.0.0',
    description: `vetted bench fixture ${name}`,
    license: 'MIT',
    ...extra,
  };
  await writeFile(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const [file, content] of Object.entries(files))
    await writeFile(path.join(dir, file), content);
  return dir;
}

async function readFixture(registry: string, name: string): Promise<Fixture> {
  const res = await fetch(new URL(name, registry));
  if (!res.ok) throw new Error(`reading ${name} from the upstream: HTTP ${res.status}`);
  const doc = (await res.json()) as {
    versions?: Record<string, { dist?: { integrity?: string } }>;
  };
  const integrity = doc.versions?.['1.0.0']?.dist?.integrity;
  if (!integrity) throw new Error(`the upstream has no dist.integrity for ${name}@1.0.0`);
  return { name, version: '1.0.0', tarballPath: `/${name}/-/${name}-1.0.0.tgz`, integrity };
}
