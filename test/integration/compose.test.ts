/**
 * Checks that docker-compose.yml is valid Compose and keeps the vetted home on a named volume.
 * Uses Debian's docker-compose (1.29) only to parse the file: no Docker engine is needed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');
const INSTALL_HINT = 'docker-compose is not installed: run `apt-get install docker-compose`';

describe('docker-compose.yml', () => {
  it('is valid and mounts the vetted-home volume at /data', () => {
    assert.ok(existsSync(COMPOSE_FILE), `${COMPOSE_FILE} is missing`);
    const res = spawnSync('docker-compose', ['-f', COMPOSE_FILE, 'config'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const spawnError = res.error as NodeJS.ErrnoException | undefined;
    if (spawnError?.code === 'ENOENT') assert.fail(INSTALL_HINT);
    if (spawnError !== undefined) throw spawnError;

    assert.equal(res.status, 0, `docker-compose config failed:\n${res.stderr}`);
    assert.match(res.stdout, /^\s*vetted:\s*$/m, 'names the vetted service');
    assert.match(res.stdout, /^\s*-\s*vetted-home:\/data\b/m, 'mounts vetted-home at /data');
    assert.match(res.stdout, /^volumes:\n\s+vetted-home:/m, 'declares the named volume');
    assert.match(res.stdout, /VETTED_HOME: \/data/);
  });
});
