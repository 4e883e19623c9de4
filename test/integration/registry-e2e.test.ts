/**
 * The first scenario on the real registry: express@4.18.2 and its whole tree through
 * vetted with the real npm, every package recorded, and a second project costing no new
 * verification.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { npmEnv, runNpm } from '../helpers/npm';
import { startVetted } from '../helpers/vetted';
import type { RunningVetted } from '../helpers/vetted';

function emptyProject(registry: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'vetted-e2e-'));
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'e2e', version: '1.0.0', private: true }),
  );
  writeFileSync(path.join(dir, '.npmrc'), `registry=${registry}\n`);
  return { dir, env: npmEnv(registry).env };
}

describe('express@4.18.2 from the real registry through vetted', { timeout: 600_000 }, () => {
  let vetted: RunningVetted;
  const dirs: string[] = [];
  // the tree's name@version; the metadata filter also verifies other versions (dist-tag
  // targets) in the background, which this file does not count
  let tree = new Set<string>();

  before(async () => {
    const upstream = execFileSync('npm', ['config', 'get', 'registry'], {
      encoding: 'utf8',
    }).trim();
    vetted = await startVetted({ upstream });
  });
  after(async () => {
    await vetted?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('installs the full tree, each package with a signed record', async () => {
    const p = emptyProject(`${vetted.url}/`);
    dirs.push(p.dir);
    let res = await runNpm(['install', 'express@4.18.2'], {
      cwd: p.dir,
      env: p.env,
      timeoutMs: 300_000,
    });
    for (let attempt = 1; res.code !== 0 && attempt < 3; attempt++) {
      res = await runNpm(['install', 'express@4.18.2'], {
        cwd: p.dir,
        env: p.env,
        timeoutMs: 300_000,
      });
    }
    assert.equal(res.code, 0, res.stderr);

    const lock = JSON.parse(readFileSync(path.join(p.dir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; name?: string }>;
    };
    const specs = Object.entries(lock.packages)
      .filter(([where]) => where.startsWith('node_modules/'))
      .map(
        ([where, meta]) =>
          `${meta.name ?? where.slice(where.lastIndexOf('node_modules/') + 13)}@${meta.version}`,
      );
    assert.ok(specs.length > 50, `express's tree has ${specs.length} packages`);
    tree = new Set(specs);
    const status = await vetted.api('/status', { body: { specs } });
    assert.equal(status.status, 200);
    const notAdmitted = status.body.results.filter(
      (r: { status: string }) => r.status !== 'verified',
    );
    assert.deepEqual(notAdmitted, []);

    const express = (await vetted.api('/versions/express/4.18.2')).body;
    assert.equal(express.status, 'verified');
    assert.equal(express.signature.verified, true);
    assert.deepEqual(
      express.layers.map((l: { layer: string }) => l.layer),
      ['integrity', 'publisher', 'static', 'js-signals', 'source', 'behaviour'],
    );
  });

  it('verifies nothing again for a second project', async () => {
    type Entry = { name: string; version: string };
    const treeEntries = async () =>
      (await vetted.api('/audit?limit=10000')).body.entries.filter((e: Entry) =>
        tree.has(`${e.name}@${e.version}`),
      ).length;
    const before = await treeEntries();
    const p = emptyProject(`${vetted.url}/`);
    dirs.push(p.dir);
    const res = await runNpm(['install', 'express@4.18.2'], {
      cwd: p.dir,
      env: p.env,
      timeoutMs: 300_000,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await treeEntries(), before);
    const jobs = (await vetted.api('/queue')).body.jobs as Entry[];
    assert.deepEqual(
      jobs.filter((j) => tree.has(`${j.name}@${j.version}`)),
      [],
    );
  });
});
