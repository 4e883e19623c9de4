/**
 * The behaviour layer on fixture packages, run directly (no vetted server): the LayerInput is
 * built from a tarball packed from each fixture, as the engine would hand it over. Hostile
 * fixtures must fail with the right codes and evidence, benign ones pass (a native build may
 * warn with expected activity only). One fixture has a dependency, served by a real Verdaccio,
 * to prove phase 1 installs it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createBehaviourLayer } from '../../src/verify/layers/behaviour';
import type { BehaviourLayer, BehaviourResult } from '../../src/verify/layers/behaviour';
import { runLayer } from '../../src/verify/layer';
import type { Finding } from '../../src/types';
import { createGitPackage, publishPackage } from '../helpers/fixtures';
import { createUser, startVerdaccio } from '../helpers/verdaccio';
import type { RunningVerdaccio } from '../helpers/verdaccio';
import { layerInput, processesWith } from '../fixtures/behaviour/sandbox-helpers';
import type { FixturePackage } from '../fixtures/behaviour/sandbox-helpers';
import * as fx from '../fixtures/behaviour/packages';

const codesOf = (r: BehaviourResult) => [...new Set(r.findings.map((f) => f.code))].sort();
const find = (r: BehaviourResult, code: string): Finding => {
  const f = r.findings.find((x) => x.code === code);
  assert.ok(f, `no ${code} in ${JSON.stringify(r.findings, null, 1)}`);
  return f;
};
const lines = (f: Finding) =>
  ((f.evidence?.events as Array<{ line?: string }> | undefined) ?? []).map((e) => e.line ?? '');

describe('the behaviour layer', () => {
  let root: string;
  let upstream: RunningVerdaccio;
  let layer: BehaviourLayer;
  const run = async (fixture: FixturePackage, l = layer) => l.run(await layerInput(fixture));

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'vetted-behaviour-test-'));
    upstream = await startVerdaccio({ dir: path.join(root, 'upstream') });
    layer = createBehaviourLayer({
      upstream: upstream.url,
      npmCache: path.join(root, 'npm-cache'),
      // the real default is 10 s; 4 s keeps the three deliberate timeouts short
      loadLimits: { timeMs: 4000 },
    });
  });
  after(async () => {
    await upstream?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  describe('when the package is benign', () => {
    it('passes a pure package, loading main, every export and its bin, in under 5 s', async () => {
      const started = performance.now();
      const result = await run(fx.BENIGN_PURE);
      const ms = performance.now() - started;
      assert.deepEqual(result.findings, []);
      assert.equal(result.outcome, 'pass');
      assert.deepEqual(
        result.summary?.runs.map((r) => [r.step, r.exitCode]),
        [
          ['require .', 0],
          ['import . [import]', 0],
          ['require ./util', 0],
          ['bin vt-benign --help', 0],
        ],
      );
      console.log(`behaviour layer, pure package, 4 entry points: ${Math.round(ms)} ms`);
      assert.ok(ms < 5000, `${Math.round(ms)} ms`);
    });
    it('builds a native addon with only expected activity, and loads it', async () => {
      const result = await run(fx.BENIGN_NATIVE);
      assert.ok(['pass', 'warn'].includes(result.outcome), result.outcome);
      assert.deepEqual(
        result.findings.filter((f) => f.severity !== 'info'),
        [],
        JSON.stringify(result.findings, null, 1),
      );
      const spawned = find(result, 'PROCESS_SPAWN');
      assert.match(spawned.message, /ran make/);
      assert.deepEqual(
        result.summary?.runs.map((r) => [r.step, r.exitCode]),
        [
          ['install (node-gyp rebuild)', 0],
          ['require .', 0],
        ],
      );
    });
    it('installs its dependencies beside it from the upstream, without their scripts', async () => {
      const token = await createUser(upstream.url, 'fixture', 'fixture-password-1');
      const dep = await createGitPackage(path.join(root, 'git'), {
        name: 'vt-behaviour-dep',
        version: '1.0.0',
        files: { 'index.js': "module.exports = 'from the dependency';\n" },
        packageJson: { scripts: { postinstall: 'node -e "process.exit(1)"' } },
      });
      await publishPackage(dep, upstream.url, token);
      const result = await run({
        name: 'vt-uses-dep',
        packageJson: { main: 'index.js', dependencies: { 'vt-behaviour-dep': '^1.0.0' } },
        files: {
          'index.js': "if (require('vt-behaviour-dep') !== 'from the dependency') throw 1;\n",
        },
      });
      assert.deepEqual(result.summary?.dependencies.requested, 1);
      assert.equal(result.summary?.dependencies.ok, true);
      assert.deepEqual(
        result.summary?.runs.map((r) => [r.step, r.exitCode]),
        [['require .', 0]],
      );
      assert.equal(result.outcome, 'pass', JSON.stringify(result.findings));
    });
  });

  describe('when an install script is hostile', () => {
    it('fails a postinstall that reads ~/.npmrc and posts it', async () => {
      const result = await run(fx.STEALS_NPMRC);
      assert.equal(result.outcome, 'fail');
      assert.deepEqual(codesOf(result), ['DECOY_READ', 'INSTALL_SCRIPT_NETWORK']);
      const read = find(result, 'DECOY_READ');
      assert.equal(read.severity, 'critical');
      assert.equal(read.evidence?.step, 'postinstall');
      assert.match(lines(read)[0] ?? '', /openat\(.*"\/home\/dev\/\.npmrc"/);
      const net = find(result, 'INSTALL_SCRIPT_NETWORK');
      assert.match(net.message, /^postinstall: connected to 203\.0\.113\.50:8080$/);
      assert.match(lines(net)[0] ?? '', /^connect\(.*inet_addr\("203\.0\.113\.50"\)/);
    });
    it('fails a preinstall that spawns sh -c to download and run a file', async () => {
      const result = await run(fx.SHELL_DROPPER);
      assert.equal(result.outcome, 'fail');
      assert.deepEqual(codesOf(result), ['INSTALL_SCRIPT_NETWORK', 'PROCESS_SPAWN', 'SHELL_SPAWN']);
      assert.match(find(result, 'SHELL_SPAWN').message, /^preinstall: ran sh$/);
      const dropped = result.findings.find(
        (f) => f.code === 'PROCESS_SPAWN' && f.severity === 'critical',
      );
      assert.match(
        dropped?.message ?? '',
        /run \/tmp\/\.cache-x \(a writable location or memory\)/,
      );
      assert.match(
        find(result, 'INSTALL_SCRIPT_NETWORK').message,
        /looked up cdn\.example-payloads\.net/,
      );
    });
    it('fails an install script that writes to ~/.bashrc', async () => {
      const result = await run(fx.BASHRC_WRITER);
      assert.equal(result.outcome, 'fail');
      assert.deepEqual(codesOf(result), ['WRITE_OUTSIDE_PACKAGE']);
      const write = find(result, 'WRITE_OUTSIDE_PACKAGE');
      assert.equal(write.severity, 'critical');
      assert.equal(write.message, 'install: write /home/dev/.bashrc');
      assert.match(lines(write)[0] ?? '', /O_APPEND/);
    });
    it('fails a binding.gyp with no scripts whose build runs a network payload', async () => {
      const result = await run(fx.GYP_PAYLOAD);
      assert.equal(result.outcome, 'fail');
      const net = find(result, 'INSTALL_SCRIPT_NETWORK');
      assert.equal(net.evidence?.step, 'install (node-gyp rebuild)');
      assert.match(net.message, /198\.51\.100\.23:4444/);
      // the toolchain itself is expected, the payload is not
      assert.ok(
        result.findings.every((f) => f.code === 'INSTALL_SCRIPT_NETWORK' || f.severity === 'info'),
      );
    });
    it('fails an install script that waits 20 s before acting, at the time limit', async () => {
      const short = createBehaviourLayer({
        upstream: upstream.url,
        installLimits: { timeMs: 3000 },
      });
      const result = await run(fx.INSTALL_WAITS, short);
      assert.equal(result.outcome, 'fail');
      assert.deepEqual(codesOf(result), ['INSTALL_TIMEOUT']);
      assert.equal(find(result, 'INSTALL_TIMEOUT').evidence?.busy, false);
    });
  });

  describe('when loading the module is hostile', () => {
    it('fails a module whose load connects out', async () => {
      const result = await run(fx.LOAD_CONNECTS);
      assert.equal(result.outcome, 'fail');
      assert.deepEqual(codesOf(result), ['LOAD_NETWORK']);
      const net = find(result, 'LOAD_NETWORK');
      assert.equal(net.message, 'require .: looked up telemetry.example-collect.org');
      assert.equal(net.evidence?.phase, 'load');
    });
    it('fails a module whose load never returns', async () => {
      const result = await run(fx.LOAD_HANGS);
      assert.equal(result.outcome, 'fail');
      assert.deepEqual(codesOf(result), ['LOAD_TIMEOUT']);
      const timeout = find(result, 'LOAD_TIMEOUT');
      assert.equal(timeout.evidence?.loadReturned, false);
      assert.equal(timeout.evidence?.busy, false);
    });
    it('fails a payload waiting 20 s to act: the timer keeps it past the limit', async () => {
      const result = await run(fx.WAITS_THEN_ACTS);
      assert.equal(result.outcome, 'fail');
      assert.deepEqual(codesOf(result), ['LOAD_TIMEOUT']);
      const timeout = find(result, 'LOAD_TIMEOUT');
      assert.equal(timeout.evidence?.loadReturned, true);
      assert.deepEqual(timeout.evidence?.keptAliveBy, ['Timeout']);
      assert.deepEqual(timeout.evidence?.timersMs, [20000]);
    });
    it('warns of a payload waiting 20 s on a timer that does not keep node alive', async () => {
      const result = await run(fx.WAITS_UNREFERENCED);
      assert.equal(result.outcome, 'warn');
      assert.deepEqual(codesOf(result), ['LOAD_DEFERRED_TIMER']);
      assert.deepEqual(find(result, 'LOAD_DEFERRED_TIMER').evidence?.timersMs, [20000]);
    });
  });

  describe('when an install script fails', () => {
    it('stops where npm stops and says what was not observed', async () => {
      const result = await run({
        name: '@vt/fails-install',
        packageJson: {
          scripts: { preinstall: 'echo no compiler >&2; exit 3', postinstall: 'node -e 1' },
        },
        files: { 'index.js': 'module.exports = 1;\n' },
      });
      assert.equal(result.outcome, 'warn');
      assert.deepEqual(codesOf(result), ['INSTALL_SCRIPT_FAILED']);
      assert.equal(find(result, 'INSTALL_SCRIPT_FAILED').evidence?.output, 'no compiler');
      assert.deepEqual(
        result.summary?.runs.map((r) => [r.step, r.exitCode]),
        [
          ['preinstall', 3],
          ['require .', 0],
        ],
      );
    });
  });

  describe('when the job is aborted', () => {
    it('stops at once and leaves nothing running', async () => {
      const controller = new AbortController();
      const input = await layerInput(fx.LOAD_HANGS, controller.signal);
      const started = performance.now();
      setTimeout(() => controller.abort(new Error('job timed out')), 800);
      await assert.rejects(layer.run(input), /job timed out/);
      assert.ok(performance.now() - started < 3000);
      assert.deepEqual(await processesWith(fx.LOAD_HANGS.name), []);
    });
  });

  describe('when the policy sets expectations', () => {
    it('reports an allowed program at info, a disallowed one at medium', async () => {
      const strict = await run(fx.RUNS_UNAME);
      assert.equal(strict.outcome, 'warn');
      assert.equal(find(strict, 'PROCESS_SPAWN').severity, 'medium');
      const allowing = createBehaviourLayer({
        upstream: upstream.url,
        expectations: ({ name }) => (name === 'vt-runs-uname' ? { allowSpawn: ['uname'] } : {}),
      });
      const allowed = await run(fx.RUNS_UNAME, allowing);
      assert.equal(find(allowed, 'PROCESS_SPAWN').severity, 'info');
    });
  });

  describe('when the sandbox cannot run', () => {
    it('is unavailable with the reason, and never passes', async () => {
      const broken = createBehaviourLayer({
        upstream: upstream.url,
        sandbox: { tools: { bwrap: '/nonexistent/bwrap' } },
      });
      const result = await runLayer(broken, await layerInput(fx.BENIGN_PURE));
      assert.equal(result.layer, 'behaviour');
      assert.equal(result.outcome, 'unavailable');
      assert.match(result.reason ?? '', /bwrap is not installed/);
    });
    it('rejects bad options when it is built', () => {
      assert.throws(() => createBehaviourLayer({ upstream: 'ftp://x' }), /behaviour\.upstream/);
      assert.throws(
        () => createBehaviourLayer({ upstream: upstream.url, loadLimits: { timeMs: 1 } }),
        /behaviour\.loadLimits\.timeMs/,
      );
    });
  });
});
