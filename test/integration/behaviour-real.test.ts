/**
 * Issue 3, "Done when" 2: real packages with install-time code, from the registry npm is
 * configured with, requested through vetted. Each gets the verdict the standard policy gives,
 * a behaviour layer with a summary of its runs, and findings a person can read; the test
 * prints a short report per package.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startVetted, waitForStatus } from '../helpers/vetted';
import type { RunningVetted } from '../helpers/vetted';
import { decide, loadPolicy } from '../../src/policy/policy';
import type { Finding, LayerResult, VersionRecord } from '../../src/types';

interface Run {
  phase: string;
  step: string;
  durationMs: number;
  exitCode?: number;
  killed?: string;
  error?: string;
}

type BehaviourLayerResult = LayerResult & {
  summary?: {
    dependencies: { requested: number; ok: boolean; durationMs: number };
    runs: Run[];
    totals: Record<string, number>;
    durationMs: number;
  };
};

interface RealPackage {
  name: string;
  version: string;
  why: string;
  /** The standard policy's verdict, checked to be sensible (see each `why`). */
  status: 'verified' | 'held';
  /** Steps run, in order, with their exit codes. */
  runs: Array<[string, number]>;
  /** Findings of the behaviour layer above `info` (the decisive ones), by code and message. */
  findings: Array<{ code: string; message: RegExp; line?: RegExp; dns?: string }>;
  /** Codes that must be among the verdict's warnings. */
  warnings: string[];
}

const PACKAGES: RealPackage[] = [
  {
    name: 'esbuild',
    version: '0.24.0',
    why: 'postinstall checks the platform binary from its optional dependency: watched, no network',
    status: 'verified',
    runs: [
      ['postinstall', 0],
      ['require .', 0],
      ['bin esbuild --help', 0],
    ],
    findings: [
      {
        code: 'PROCESS_SPAWN',
        message: /^postinstall: ran esbuild$/,
        line: /^execve\(".*\/esbuild\/bin\/esbuild", \[.*"--version"\]/,
      },
    ],
    warnings: ['INSTALL_SCRIPT', 'PROCESS_SPAWN'],
  },
  {
    name: 'bufferutil',
    version: '4.0.8',
    why: 'install: node-gyp-build finds its prebuilt binary, nothing is compiled',
    status: 'verified',
    runs: [
      ['install', 0],
      ['require .', 0],
    ],
    findings: [],
    warnings: ['INSTALL_SCRIPT', 'BUNDLED_BINARY'],
  },
  {
    name: 'diskusage',
    version: '1.2.0',
    why: 'binding.gyp only: the implicit node-gyp rebuild compiles it from source',
    status: 'verified',
    runs: [
      ['install (node-gyp rebuild)', 0],
      ['require .', 0],
    ],
    findings: [],
    warnings: ['NATIVE_BUILD'],
  },
  {
    name: 'bcrypt',
    version: '5.1.1',
    why: 'node-pre-gyp tries to download its binary from GitHub, then builds from source',
    status: 'held',
    runs: [
      ['install', 0],
      ['require .', 0],
    ],
    findings: [
      {
        code: 'INSTALL_SCRIPT_NETWORK',
        message: /^install: looked up github\.com$/,
        line: /^connect\(.*htons\(53\)/,
        dns: 'github.com',
      },
    ],
    warnings: ['INSTALL_SCRIPT'],
  },
];

function behaviourOf(record: VersionRecord): BehaviourLayerResult {
  const layer = record.layers.find((l) => l.layer === 'behaviour');
  assert.ok(layer, `no behaviour layer in ${record.layers.map((l) => l.layer).join(', ')}`);
  return layer as BehaviourLayerResult;
}

function firstLine(f: Finding): string | undefined {
  const events = f.evidence?.events as Array<{ line?: string }> | undefined;
  const line = events?.[0]?.line;
  return line === undefined ? undefined : line.length > 160 ? `${line.slice(0, 160)}…` : line;
}

/** What a person reading the test output needs: the verdict, why, and what each run did. */
function report(record: VersionRecord, pkg: RealPackage): string[] {
  const behaviour = behaviourOf(record);
  const s = behaviour.summary;
  const strict = decide(loadPolicy('strict'), record.layers);
  const deps = s?.dependencies;
  const out = [
    `${record.name}@${record.version}: ${record.status} (${pkg.why})`,
    ...record.reasons.map((r) => `  reason:  ${r}`),
    ...record.warnings.map((w) => `  warning: ${w}`),
    `  under the strict preset: ${strict.status}${strict.reasons[0] ? `, first reason ${strict.reasons[0]}` : ''}`,
    `  behaviour: ${behaviour.outcome} in ${s?.durationMs} ms; ${deps?.requested} dependencies ${deps?.ok ? 'installed' : 'NOT installed'} in ${deps?.durationMs} ms`,
  ];
  for (const run of s?.runs ?? []) {
    const end = run.killed ? `killed (${run.killed})` : `exit ${run.exitCode}`;
    const threw = run.error ? `; threw ${run.error.split('\n')[0]}` : '';
    out.push(`    ${run.phase} ${run.step}: ${end}, ${run.durationMs} ms${threw}`);
  }
  for (const f of behaviour.findings) {
    out.push(`  ${f.code}/${f.severity}: ${f.message}`);
    const line = firstLine(f);
    if (line) out.push(`      ${line}`);
  }
  return out;
}

describe('real packages with install-time code through vetted', { timeout: 600_000 }, () => {
  let home: string;
  let vetted: RunningVetted;
  const records = new Map<string, VersionRecord>();
  let verdictsMs = 0;

  before(async () => {
    const upstream = execFileSync('npm', ['config', 'get', 'registry'], {
      encoding: 'utf8',
    }).trim();
    home = mkdtempSync(path.join(tmpdir(), 'vetted-behaviour-real-'));
    vetted = await startVetted({ upstream, home, options: { waitForVerdict: 0, workers: 2 } });
    const started = performance.now();
    for (const { name, version } of PACKAGES) {
      const res = await fetch(`${vetted.url}/${name}/-/${name}-${version}.tgz`);
      await res.body?.cancel();
      assert.equal(res.status, 403, `${name}@${version} was served before any verdict`);
    }
    for (const { name, version } of PACKAGES) {
      records.set(`${name}@${version}`, await waitForStatus(vetted, name, version, 480_000));
    }
    verdictsMs = performance.now() - started;
  });
  after(async () => {
    await vetted?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  for (const pkg of PACKAGES) {
    const verb = pkg.status === 'verified' ? 'verifies' : 'holds';
    it(`${verb} ${pkg.name}@${pkg.version} with a readable report`, (t) => {
      const record = records.get(`${pkg.name}@${pkg.version}`);
      assert.ok(record, 'no record');
      for (const line of report(record, pkg)) t.diagnostic(line);

      // the verdict is the standard policy's, applied to the recorded layers
      assert.equal(record.policy?.preset, 'standard');
      const decision = decide(loadPolicy('standard'), record.layers);
      assert.deepEqual(
        { status: record.status, reasons: record.reasons, warnings: record.warnings },
        { status: decision.status, reasons: decision.reasons, warnings: decision.warnings },
      );
      assert.equal(record.status, pkg.status, record.reasons.join('\n'));
      for (const code of pkg.warnings) {
        assert.ok(
          record.warnings.some((w) => w.startsWith(`${code}: `)),
          `no ${code} in warnings ${JSON.stringify(record.warnings)}`,
        );
      }

      const behaviour = behaviourOf(record);
      const summary = behaviour.summary;
      assert.ok(summary, 'the behaviour layer has no summary');
      assert.equal(summary.dependencies.ok, true, 'dependencies were not installed');
      assert.deepEqual(
        summary.runs.map((r) => [r.step, r.exitCode]),
        pkg.runs,
      );
      assert.equal(summary.totals.decoyReads, 0);
      assert.equal(summary.totals.writesOutside, 0);
      assert.equal(
        behaviour.outcome,
        pkg.findings.some((f) => /NETWORK/.test(f.code)) ? 'fail' : 'warn',
      );

      // above info, exactly the expected findings; each names its step and shows its syscall
      const notable = behaviour.findings.filter((f) => f.severity !== 'info');
      assert.deepEqual(
        notable.map((f) => f.code).sort(),
        pkg.findings.map((f) => f.code).sort(),
        JSON.stringify(notable, null, 1),
      );
      for (const want of pkg.findings) {
        const f = notable.find((x) => x.code === want.code);
        assert.match(f?.message ?? '', want.message);
        if (want.line) assert.match(firstLine(f as Finding) ?? '', want.line);
        if (want.dns) {
          const events = (f?.evidence?.events ?? []) as Array<{ dns?: string[] }>;
          assert.ok(
            events.some((e) => e.dns?.includes(want.dns ?? '')),
            `no DNS query for ${want.dns} in the evidence`,
          );
        }
      }
      if (pkg.status === 'held') {
        for (const want of pkg.findings) {
          assert.ok(
            record.reasons.some((r) => r.startsWith(`${want.code}: `)),
            want.code,
          );
        }
      }
      for (const f of record.layers.flatMap((l) => l.findings)) {
        assert.ok(f.message.length > 10, `${f.code}: "${f.message}"`);
      }
      for (const f of behaviour.findings) {
        assert.ok(['install', 'load', 'prepare'].includes(String(f.evidence?.phase)), f.code);
        assert.equal(typeof f.evidence?.step, 'string', `${f.code} names no step`);
        for (const e of (f.evidence?.events as Array<{ line: string }> | undefined) ?? []) {
          assert.match(e.line, /^[a-z_0-9]+\(/, `${f.code}: not a syscall line`);
        }
      }
    });
  }

  it('reaches all four verdicts in a reasonable time', (t) => {
    t.diagnostic(`all verdicts in ${Math.round(verdictsMs)} ms with 2 workers`);
    assert.ok(verdictsMs < 240_000, `${Math.round(verdictsMs)} ms`);
  });
});
