/**
 * Proves the integration helpers against a real Verdaccio upstream: user creation, publishing
 * from git checkouts, installing with real npm, and tampering with stored tarballs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tar from 'tar';
import {
  bumpVersion,
  createGitPackage,
  publishPackage,
  tamperUpstreamTarball,
} from '../helpers/fixtures';
import { npmEnv, runNpm } from '../helpers/npm';
import { createUser, startVerdaccio, type RunningVerdaccio } from '../helpers/verdaccio';

const DEP = 'vt-harness-a';
const SCOPED = '@vt/harness-b';

interface VersionDoc {
  gitHead?: string;
  dist: { integrity: string; tarball: string };
}
interface Packument {
  versions: Record<string, VersionDoc>;
}

describe('integration helpers', () => {
  let root: string;
  let upstream: RunningVerdaccio;
  let token: string;
  let depDir: string;

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'vetted-harness-'));
    upstream = await startVerdaccio({ dir: path.join(root, 'upstream') });
    token = await createUser(upstream.url, 'alice', 'alice-password-1');
  });

  after(async () => {
    await upstream?.stop();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  describe('when a user already exists', () => {
    it('createUser logs in and returns a token', async () => {
      const again = await createUser(upstream.url, 'alice', 'alice-password-1');
      assert.equal(typeof again, 'string');
      assert.ok(again.length > 0);
    });

    it('createUser rejects a wrong password', async () => {
      await assert.rejects(createUser(upstream.url, 'alice', 'wrong'), /HTTP 401/);
    });
  });

  describe('when a scoped package and its dependency are published from git', () => {
    before(async () => {
      const pkgs = path.join(root, 'packages');
      depDir = await createGitPackage(pkgs, { name: DEP, version: '1.0.0' });
      const scopedDir = await createGitPackage(pkgs, {
        name: SCOPED,
        version: '1.0.0',
        files: { 'index.js': `module.exports = require('${DEP}');\n` },
        packageJson: { dependencies: { [DEP]: '^1.0.0' } },
      });
      await publishPackage(depDir, upstream.url, token);
      await publishPackage(scopedDir, upstream.url, token);
    });

    it('npm installs both into an empty project', async () => {
      const project = path.join(root, 'consumer');
      const { env } = npmEnv(upstream.url, { dir: path.join(root, 'consumer-npm') });
      await writeProject(project);
      const res = await runNpm(['install', SCOPED], { cwd: project, env });
      assert.equal(res.code, 0, `npm install failed\n${res.stdout}\n${res.stderr}`);
      assert.equal((await readManifest(project, SCOPED)).version, '1.0.0');
      assert.equal((await readManifest(project, DEP)).version, '1.0.0');
    });

    it('records the publishing commit as gitHead', async () => {
      const doc = await fetchPackument(upstream.url, DEP);
      assert.equal(doc.versions['1.0.0']?.gitHead, headOf(depDir));
    });

    it('bumpVersion lets the same repository publish a second version', async () => {
      const firstHead = headOf(depDir);
      await bumpVersion(depDir, '1.1.0', { 'index.js': `module.exports = '${DEP} 1.1';\n` });
      await publishPackage(depDir, upstream.url, token);
      const doc = await fetchPackument(upstream.url, DEP);
      assert.equal(doc.versions['1.0.0']?.gitHead, firstHead);
      assert.equal(doc.versions['1.1.0']?.gitHead, headOf(depDir));
      assert.notEqual(firstHead, headOf(depDir));
    });
  });

  describe('when a stored tarball is tampered with', () => {
    const targets = [
      { name: SCOPED, version: '1.0.0' },
      { name: DEP, version: '1.1.0' },
    ];

    for (const { name, version } of targets) {
      it(`serves ${name}@${version} bytes that no longer match dist.integrity`, async () => {
        const original = await fetchVersion(upstream.url, name, version);
        assert.equal(sha512(await fetchBytes(original.dist.tarball)), original.dist.integrity);

        await tamperUpstreamTarball(upstream.storage, name, version);

        const served = await fetchVersion(upstream.url, name, version);
        assert.equal(served.dist.integrity, original.dist.integrity);
        const bytes = await fetchBytes(served.dist.tarball);
        assert.notEqual(sha512(bytes), served.dist.integrity);
        const entries = await listTarball(bytes, path.join(root, 'list.tgz'));
        assert.ok(entries.includes('package/payload.js'), entries.join(', '));
        assert.ok(entries.includes('package/package.json'), entries.join(', '));
      });
    }

    it('makes npm refuse the install with EINTEGRITY', async () => {
      const project = path.join(root, 'consumer-tampered');
      const { env } = npmEnv(upstream.url, { dir: path.join(root, 'consumer-tampered-npm') });
      await writeProject(project);
      const res = await runNpm(['install', `${SCOPED}@1.0.0`], { cwd: project, env });
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /EINTEGRITY/);
    });
  });
});

async function writeProject(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const manifest = { name: 'vt-consumer', version: '1.0.0', private: true };
  await writeFile(path.join(dir, 'package.json'), JSON.stringify(manifest) + '\n');
}

async function readManifest(project: string, name: string): Promise<{ version: string }> {
  const file = path.join(project, 'node_modules', name, 'package.json');
  return JSON.parse(await readFile(file, 'utf8')) as { version: string };
}

async function fetchPackument(url: string, name: string): Promise<Packument> {
  const res = await fetch(new URL(name.replace('/', '%2f'), url), {
    headers: { accept: 'application/json' },
  });
  assert.equal(res.status, 200, `GET ${name}`);
  return (await res.json()) as Packument;
}

async function fetchVersion(url: string, name: string, version: string): Promise<VersionDoc> {
  const doc = (await fetchPackument(url, name)).versions[version];
  assert.ok(doc, `${name}@${version} is in the packument`);
  return doc;
}

async function fetchBytes(url: string): Promise<Buffer> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return Buffer.from(await res.arrayBuffer());
}

function sha512(bytes: Buffer): string {
  return `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
}

function headOf(dir: string): string {
  return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
}

async function listTarball(bytes: Buffer, scratch: string): Promise<string[]> {
  await writeFile(scratch, bytes);
  const entries: string[] = [];
  await tar.t({ file: scratch, onReadEntry: (entry) => entries.push(entry.path) });
  return entries;
}
