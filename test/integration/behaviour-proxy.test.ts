/**
 * Issue 3, "Done when" 1, end to end: each behaviour fixture is published from a local git
 * repository to a real upstream Verdaccio with the real npm, its tarball is requested through
 * vetted, and the verdict must have the right status, the behaviour finding that decides it,
 * and evidence naming the step (script or entry point) and the syscall. Held and rejected
 * versions answer 403 with the finding in `npm-notice`; verified ones install with npm.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createGitPackage, publishPackage } from '../helpers/fixtures';
import { npmEnv, runNpm } from '../helpers/npm';
import { createUser, startVerdaccio } from '../helpers/verdaccio';
import type { RunningVerdaccio } from '../helpers/verdaccio';
import { startVetted, waitForStatus } from '../helpers/vetted';
import type { RunningVetted } from '../helpers/vetted';
import type { FixturePackage } from '../fixtures/behaviour/sandbox-helpers';
import * as fx from '../fixtures/behaviour/packages';
import type { Finding, LayerResult, VersionRecord } from '../../src/types';

const execFileAsync = promisify(execFile);

interface ExpectedFinding {
  code: string;
  /** The lifecycle script or entry point the finding names (`evidence.step`). */
  step: string;
  message: RegExp;
  /** One of the evidence's syscall lines must match. */
  line?: RegExp;
  /** A name the evidence's DNS queries must include. */
  dns?: string;
  /** Facts at the top of the evidence (a timeout has no syscall line to show). */
  facts?: Record<string, unknown>;
}

interface Case {
  title: string;
  fixture: FixturePackage;
  status: 'verified' | 'held' | 'rejected';
  /** The first one decides the verdict: the policy's reasons must name it. */
  findings: ExpectedFinding[];
}

/** The benign addon with its build written out, so the registry and tarball agree. */
const BENIGN_NATIVE_SCRIPT: FixturePackage = {
  ...fx.BENIGN_NATIVE,
  name: 'vt-benign-native-script',
  packageJson: { ...fx.BENIGN_NATIVE.packageJson, scripts: { install: 'node-gyp rebuild' } },
};

const CASES: Case[] = [
  {
    title: 'a postinstall that reads ~/.npmrc and posts it',
    fixture: fx.STEALS_NPMRC,
    status: 'rejected',
    findings: [
      {
        code: 'DECOY_READ',
        step: 'postinstall',
        message: /^postinstall: opened \/home\/dev\/\.npmrc$/,
        line: /^openat\(.*"\/home\/dev\/\.npmrc"/,
      },
      {
        code: 'INSTALL_SCRIPT_NETWORK',
        step: 'postinstall',
        message: /^postinstall: connected to 203\.0\.113\.50:8080$/,
        line: /^connect\(.*inet_addr\("203\.0\.113\.50"\)/,
      },
    ],
  },
  {
    title: 'a preinstall that spawns sh -c to download and run a file',
    fixture: fx.SHELL_DROPPER,
    status: 'held',
    findings: [
      {
        code: 'SHELL_SPAWN',
        step: 'preinstall',
        message: /^preinstall: ran sh$/,
        line: /^execve\("\/bin\/sh", \["\/bin\/sh", "-c", "node fetch\.js; chmod \+x \/tmp\/\.cache-x/,
      },
      {
        code: 'INSTALL_SCRIPT_NETWORK',
        step: 'preinstall',
        message: /^preinstall: looked up cdn\.example-payloads\.net$/,
        line: /^(sendmmsg|sendto)\(.*cdn.*example-payloads/,
        dns: 'cdn.example-payloads.net',
      },
      {
        code: 'PROCESS_SPAWN',
        step: 'preinstall',
        message: /tried to run \/tmp\/\.cache-x/,
        line: /^execve\("\/tmp\/\.cache-x"/,
      },
    ],
  },
  {
    title: 'an install script that writes to ~/.bashrc',
    fixture: fx.BASHRC_WRITER,
    status: 'held',
    findings: [
      {
        code: 'WRITE_OUTSIDE_PACKAGE',
        step: 'install',
        message: /^install: write \/home\/dev\/\.bashrc$/,
        line: /^openat\(.*"\/home\/dev\/\.bashrc", .*O_APPEND/,
      },
    ],
  },
  {
    title: 'a binding.gyp with no scripts whose build runs a payload',
    fixture: fx.GYP_PAYLOAD,
    status: 'held',
    findings: [
      {
        code: 'INSTALL_SCRIPT_NETWORK',
        step: 'install (node-gyp rebuild)',
        message: /^install \(node-gyp rebuild\): connected to 198\.51\.100\.23:4444$/,
        line: /^connect\(.*htons\(4444\).*inet_addr\("198\.51\.100\.23"\)/,
      },
    ],
  },
  {
    title: 'a module whose load (no install script) connects out',
    fixture: fx.LOAD_CONNECTS,
    status: 'held',
    findings: [
      {
        code: 'LOAD_NETWORK',
        step: 'require .',
        message: /^require \.: looked up telemetry\.example-collect\.org$/,
        line: /^(sendmmsg|sendto)\(.*telemetry.*example-collect/,
        dns: 'telemetry.example-collect.org',
      },
    ],
  },
  {
    title: 'a module whose load never returns',
    fixture: fx.LOAD_HANGS,
    status: 'held',
    findings: [
      {
        code: 'LOAD_TIMEOUT',
        step: 'require .',
        message: /^require \.: did not finish within 1\d{4} ms$/,
        facts: { loadReturned: false, busy: false },
      },
    ],
  },
  {
    title: 'a payload that waits 20 s before acting',
    fixture: fx.WAITS_THEN_ACTS,
    status: 'held',
    findings: [
      {
        code: 'LOAD_TIMEOUT',
        step: 'require .',
        message: /^require \.: did not finish within 1\d{4} ms$/,
        facts: { loadReturned: true, keptAliveBy: ['Timeout'], timersMs: [20000] },
      },
    ],
  },
  {
    title: 'a benign package with a native build (binding.gyp only)',
    fixture: fx.BENIGN_NATIVE,
    status: 'verified',
    findings: [],
  },
  {
    title: 'a benign package with a native build (install: node-gyp rebuild)',
    fixture: BENIGN_NATIVE_SCRIPT,
    status: 'verified',
    findings: [],
  },
  { title: 'a benign pure package', fixture: fx.BENIGN_PURE, status: 'verified', findings: [] },
];

const tarballPath = (name: string) => `/${name}/-/${name}-1.0.0.tgz`;

type BehaviourLayerResult = LayerResult & {
  summary?: { runs: Array<{ phase: string; step: string; exitCode?: number }> };
};

function behaviourOf(record: VersionRecord): BehaviourLayerResult {
  const layer = record.layers.find((l) => l.layer === 'behaviour');
  assert.ok(layer, `no behaviour layer in ${record.layers.map((l) => l.layer).join(', ')}`);
  return layer as BehaviourLayerResult;
}

const linesOf = (f: Finding) =>
  ((f.evidence?.events as Array<{ line?: string }> | undefined) ?? []).map((e) => e.line ?? '');

/** The verdict, the runs and one line per finding and reason, for the test output. */
function describeRecord(record: VersionRecord): string[] {
  const behaviour = behaviourOf(record);
  const steps = behaviour.summary?.runs.map((r) => `${r.step}=${r.exitCode ?? 'killed'}`) ?? [];
  return [
    `${record.name}@${record.version}: ${record.status}; behaviour ${behaviour.outcome}, runs: ${steps.join(', ')}`,
    ...record.layers.flatMap((l) =>
      l.findings.map((f) => `  ${l.layer} ${f.code}/${f.severity}: ${f.message}`),
    ),
    ...record.reasons.map((r) => `  reason: ${r}`),
  ];
}

describe('the behaviour layer through the proxy', { timeout: 300_000 }, () => {
  let work: string;
  let upstream: RunningVerdaccio;
  let vetted: RunningVetted;
  const records = new Map<string, VersionRecord>();
  const firstAnswers = new Map<string, number>();

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'vetted-behaviour-proxy-'));
    upstream = await startVerdaccio({ dir: path.join(work, 'upstream') });
    const token = await createUser(upstream.url, 'alice', 'alice-password');
    await Promise.all(
      CASES.map(async ({ fixture }) => {
        const dir = await createGitPackage(path.join(work, 'src'), {
          name: fixture.name,
          version: '1.0.0',
          files: fixture.files,
          packageJson: fixture.packageJson,
        });
        await publishPackage(dir, upstream.url, token);
      }),
    );
    vetted = await startVetted({
      upstream: upstream.url,
      home: mkdtempSync(path.join(work, 'vetted-')),
      options: { waitForVerdict: 0, workers: 2 },
    });
    // each first request queues its version and answers at once
    for (const { fixture } of CASES) {
      const res = await fetch(`${vetted.url}${tarballPath(fixture.name)}`);
      firstAnswers.set(fixture.name, res.status);
      await res.body?.cancel();
    }
    for (const { fixture } of CASES) {
      records.set(fixture.name, await waitForStatus(vetted, fixture.name, '1.0.0', 240_000));
    }
  });
  after(async () => {
    await vetted?.stop();
    await upstream?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('answers each first request 403 at once and queues the version', () => {
    for (const { fixture } of CASES) {
      assert.equal(firstAnswers.get(fixture.name), 403, fixture.name);
    }
  });

  describe('when the verdicts are in', () => {
    for (const c of CASES) {
      const verb = { verified: 'verifies', held: 'holds', rejected: 'rejects' }[c.status];
      const codes = c.findings.map((f) => f.code).join(', ');
      it(`${verb} ${c.title}${codes ? `: ${codes}` : ''}`, (t) => {
        const record = records.get(c.fixture.name);
        assert.ok(record, `no record for ${c.fixture.name}`);
        for (const line of describeRecord(record)) t.diagnostic(line);
        const behaviour = behaviourOf(record);
        assert.equal(record.status, c.status, describeRecord(record).join('\n'));
        assert.ok((behaviour.summary?.runs.length ?? 0) > 0, 'the behaviour layer ran nothing');
        if (c.status === 'verified') {
          assert.deepEqual(record.reasons, []);
          assert.ok(['pass', 'warn'].includes(behaviour.outcome), behaviour.outcome);
          // a native build's compilers are expected: info only
          assert.deepEqual(
            behaviour.findings.filter((f) => f.severity !== 'info'),
            [],
            JSON.stringify(behaviour.findings, null, 1),
          );
          return;
        }
        assert.equal(behaviour.outcome, 'fail');
        for (const want of c.findings) {
          const f = behaviour.findings.find(
            (x) => x.code === want.code && want.message.test(x.message),
          );
          assert.ok(f, `no ${want.code} ${want.message} in ${JSON.stringify(behaviour.findings)}`);
          assert.equal(f.evidence?.step, want.step);
          if (want.line) {
            const lines = linesOf(f);
            assert.ok(
              lines.some((l) => want.line?.test(l)),
              `no line ${want.line} in ${JSON.stringify(lines)}`,
            );
          }
          if (want.dns) {
            const events = (f.evidence?.events ?? []) as Array<{ dns?: string[] }>;
            assert.ok(
              events.some((e) => e.dns?.includes(want.dns ?? '')),
              `no DNS query for ${want.dns} in the evidence`,
            );
          }
          for (const [key, value] of Object.entries(want.facts ?? {})) {
            assert.deepEqual(f.evidence?.[key], value, `evidence.${key}`);
          }
        }
        const decisive = behaviour.findings.find((f) => f.code === c.findings[0]?.code);
        assert.ok(
          record.reasons.includes(`${decisive?.code}: ${decisive?.message}`),
          `reasons: ${JSON.stringify(record.reasons)}`,
        );
      });
    }

    it('builds the addon in the sandbox with only expected programs (binding.gyp only)', () => {
      const record = records.get(fx.BENIGN_NATIVE.name);
      assert.ok(record);
      const behaviour = behaviourOf(record);
      assert.equal(behaviour.outcome, 'warn');
      assert.deepEqual(
        behaviour.summary?.runs.map((r) => [r.step, r.exitCode]),
        [
          ['install (node-gyp rebuild)', 0],
          ['require .', 0],
        ],
      );
      assert.deepEqual(
        behaviour.findings.filter((f) => f.severity !== 'info'),
        [],
      );
      assert.match(
        behaviour.findings.find((f) => f.code === 'PROCESS_SPAWN')?.message ?? '',
        /ran make.*\(expected for its purpose\)$/,
      );
    });
  });

  describe('when a held or rejected version is requested again', () => {
    for (const c of CASES.filter((x) => x.status !== 'verified')) {
      const code = c.findings[0]?.code ?? '';
      it(`answers 403 for ${c.fixture.name}, the body giving ${code}`, async () => {
        const res = await fetch(`${vetted.url}${tarballPath(c.fixture.name)}`);
        assert.equal(res.status, 403);
        const body = (await res.json()) as { status: string; reasons: string[] };
        assert.equal(body.status, c.status);
        assert.ok(
          body.reasons.some((r) => r.startsWith(`${code}: `)),
          body.reasons.join('\n'),
        );
        assert.match(
          res.headers.get('npm-notice') ?? '',
          new RegExp(`^${c.fixture.name}@1\\.0\\.0 ${c.status}: `),
        );
      });
      it(`names ${code} in the npm-notice of ${c.fixture.name}`, async () => {
        const res = await fetch(`${vetted.url}${tarballPath(c.fixture.name)}`);
        await res.body?.cancel();
        assert.match(res.headers.get('npm-notice') ?? '', new RegExp(` ${c.status}: ${code}: `));
      });
    }
  });

  describe('when npm installs through vetted', () => {
    const project = () => {
      const dir = mkdtempSync(path.join(work, 'project-'));
      writeFileSync(
        path.join(dir, 'package.json'),
        '{"name":"p","version":"1.0.0","private":true}',
      );
      const { env } = npmEnv(`${vetted.url}/`, { dir: path.join(dir, '.npm-env') });
      // node-gyp builds against node's own headers instead of downloading them
      env.npm_config_nodedir = path.resolve(path.dirname(process.execPath), '..');
      return { dir, env };
    };

    it('installs the verified pure and native packages, and both load', async () => {
      const p = project();
      const names = [fx.BENIGN_PURE.name, BENIGN_NATIVE_SCRIPT.name];
      const res = await runNpm(['install', ...names], { cwd: p.dir, env: p.env });
      assert.equal(res.code, 0, res.stderr);
      const code = `console.log(require('${names[0]}')(2, 3), require('${names[1]}').hello())`;
      const { stdout } = await execFileAsync(process.execPath, ['-e', code], { cwd: p.dir });
      assert.equal(stdout.trim(), '5 hello');
    });

    it('refuses a held one, printing the finding', async () => {
      const p = project();
      const res = await runNpm(['install', fx.BASHRC_WRITER.name], { cwd: p.dir, env: p.env });
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /E403/);
      // npm reads it from the metadata's policyRestrictions, before asking for the tarball
      assert.match(
        res.stderr,
        /vt-bashrc-writer@1\.0\.0 is held for review: WRITE_OUTSIDE_PACKAGE: install: write \/home\/dev\/\.bashrc/,
      );
    });
  });
});
