import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decide, loadPolicy } from '../../src/policy/policy';
import type { LayerResult, Finding } from '../../src/types';
import { isVettedError } from '../../src/errors';

const layer = (
  name: string,
  outcome: LayerResult['outcome'],
  findings: Finding[] = [],
  reason?: string,
): LayerResult => ({
  layer: name,
  outcome,
  findings,
  startedAt: new Date(0).toISOString(),
  durationMs: 1,
  ...(reason ? { reason } : {}),
});
const finding = (code: string, severity: Finding['severity'] = 'high'): Finding => ({
  code,
  severity,
  message: code.toLowerCase(),
});

describe('decide', () => {
  for (const preset of ['standard', 'strict'] as const) {
    describe(`with the ${preset} preset`, () => {
      const policy = loadPolicy(preset);
      it('verifies a version whose layers all pass', () => {
        assert.equal(
          decide(policy, [
            layer('integrity', 'pass'),
            layer('publisher', 'pass'),
            layer('static', 'pass'),
            layer('js-signals', 'pass'),
            layer('source', 'pass'),
            layer('behaviour', 'pass'),
          ]).status,
          'verified',
        );
      });
      it('rejects an integrity mismatch', () => {
        const d = decide(policy, [
          layer('integrity', 'fail', [finding('INTEGRITY_MISMATCH', 'critical')]),
        ]);
        assert.equal(d.status, 'rejected');
        assert.match(d.reasons[0] ?? '', /INTEGRITY_MISMATCH/);
      });
      it('admits install-time code the behaviour layer watched, with a warning', () => {
        const d = decide(policy, [
          layer('integrity', 'pass'),
          layer('publisher', 'pass'),
          layer('static', 'warn', [finding('INSTALL_SCRIPT')]),
          layer('js-signals', 'pass'),
          layer('source', 'pass'),
          layer('behaviour', 'pass'),
        ]);
        assert.equal(d.status, 'verified');
        assert.match(d.warnings.join(), /INSTALL_SCRIPT/);
      });
      it('holds install-time code the behaviour layer could not watch', () => {
        const d = decide(policy, [
          layer('integrity', 'pass'),
          layer('publisher', 'pass'),
          layer('static', 'warn', [finding('INSTALL_SCRIPT')]),
          layer('js-signals', 'pass'),
          layer('source', 'pass'),
          layer('behaviour', 'unavailable', [], 'bwrap is not installed'),
        ]);
        assert.equal(d.status, 'held');
        assert.match(d.reasons.join(), /not watched \(behaviour layer unavailable: bwrap/);
      });
      it('holds a decoy read alone, rejects one with a network attempt', () => {
        const base = [
          layer('integrity', 'pass'),
          layer('publisher', 'pass'),
          layer('static', 'pass'),
          layer('js-signals', 'pass'),
        ];
        const alone = decide(policy, [
          ...base,
          layer('behaviour', 'fail', [finding('DECOY_READ', 'critical')]),
        ]);
        assert.equal(alone.status, 'held');
        const exfil = decide(policy, [
          ...base,
          layer('behaviour', 'fail', [
            finding('DECOY_READ', 'critical'),
            finding('INSTALL_SCRIPT_NETWORK', 'critical'),
          ]),
        ]);
        assert.equal(exfil.status, 'rejected');
      });
      it('rejects a decoy leak and holds a shell spawned at install time', () => {
        const base = [
          layer('integrity', 'pass'),
          layer('publisher', 'pass'),
          layer('static', 'pass'),
          layer('js-signals', 'pass'),
        ];
        const read = decide(policy, [
          ...base,
          layer('behaviour', 'fail', [finding('DECOY_LEAK', 'critical')]),
        ]);
        assert.equal(read.status, 'rejected');
        const shell = decide(policy, [
          ...base,
          layer('behaviour', 'fail', [finding('SHELL_SPAWN')]),
        ]);
        assert.equal(shell.status, 'held');
      });
      it('holds when a required layer did not run', () => {
        const d = decide(policy, [layer('integrity', 'pass')]);
        assert.equal(d.status, 'held');
        assert.match(d.reasons.join(), /static layer did not run/);
      });
      it('holds a layer that broke', () => {
        assert.equal(
          decide(policy, [layer('integrity', 'pass'), layer('static', 'error', [], 'boom')]).status,
          'held',
        );
      });
    });
  }

  it('admits an unavailable layer with a warning under standard, holds it under strict', () => {
    const results = [
      layer('integrity', 'pass'),
      layer('publisher', 'pass'),
      layer('static', 'pass'),
      layer('js-signals', 'pass'),
      layer('source', 'pass'),
      layer('behaviour', 'pass'),
      layer('source', 'unavailable', [], 'repository unreachable'),
    ];
    const standard = decide(loadPolicy('standard'), results);
    assert.equal(standard.status, 'verified');
    assert.match(standard.warnings.join(), /repository unreachable/);
    assert.equal(decide(loadPolicy('strict'), results).status, 'held');
  });

  it('never turns an info finding into a reason', () => {
    const results = [
      layer('integrity', 'pass'),
      layer('publisher', 'pass'),
      layer('static', 'pass'),
      layer('js-signals', 'fail', [
        finding('JS_DECODED_EXEC', 'critical'),
        finding('JS_COVERAGE', 'info'),
      ]),
      layer('source', 'pass'),
      layer('behaviour', 'pass'),
    ];
    const d = decide(loadPolicy('standard'), results);
    assert.equal(d.status, 'held');
    assert.deepEqual(
      d.reasons.map((r) => r.split(':')[0]),
      ['JS_DECODED_EXEC'],
    );
  });

  it('warns on bundled binaries under standard and holds them under strict', () => {
    const results = [
      layer('integrity', 'pass'),
      layer('publisher', 'pass'),
      layer('static', 'warn', [finding('BUNDLED_BINARY', 'medium')]),
      layer('js-signals', 'pass'),
      layer('source', 'pass'),
      layer('behaviour', 'pass'),
    ];
    assert.equal(decide(loadPolicy('standard'), results).status, 'verified');
    assert.equal(decide(loadPolicy('strict'), results).status, 'held');
  });
});

describe('decide on publisher identity findings', () => {
  const results = (outcome: LayerResult['outcome'], ...found: Finding[]) => [
    layer('integrity', 'pass'),
    layer('publisher', outcome, found),
    layer('static', 'pass'),
    layer('js-signals', 'pass'),
    layer('source', 'pass'),
    layer('behaviour', 'pass'),
  ];
  const TABLE = [
    { code: 'PUBLISHER_NEW_ACCOUNT', standard: 'held', strict: 'held' },
    { code: 'PROVENANCE_DOWNGRADE', standard: 'held', strict: 'held' },
    { code: 'PROVENANCE_INVALID', standard: 'held', strict: 'held' },
    { code: 'TYPOSQUAT', standard: 'held', strict: 'held' },
    { code: 'SIGNATURE_INVALID', standard: 'rejected', strict: 'rejected' },
    { code: 'PUBLISHER_CHANGED', standard: 'verified', strict: 'held' },
    { code: 'IDENTITY_UNAVAILABLE', standard: 'verified', strict: 'held' },
    { code: 'NEW_DEPENDENCY', standard: 'verified', strict: 'verified' },
  ] as const;
  for (const row of TABLE) {
    it(`${row.code}: ${row.standard} under standard, ${row.strict} under strict`, () => {
      const r = results('warn', finding(row.code, 'medium'));
      assert.equal(decide(loadPolicy('standard'), r).status, row.standard);
      assert.equal(decide(loadPolicy('strict'), r).status, row.strict);
    });
  }
  it('holds a version the publisher layer did not run for', () => {
    const r = results('pass').filter((l) => l.layer !== 'publisher');
    assert.match(decide(loadPolicy('standard'), r).reasons.join(), /publisher layer did not run/);
  });
});

describe('decide on the source layer', () => {
  const rest = [
    layer('integrity', 'pass'),
    layer('publisher', 'pass'),
    layer('static', 'pass'),
    layer('js-signals', 'pass'),
    layer('behaviour', 'pass'),
  ];
  it('holds code that differs from the rebuild under both presets', () => {
    const source = layer('source', 'fail', [
      finding('REBUILD_FILE_DIFFERS'),
      finding('SOURCE_LOCATED_BY', 'info'),
    ]);
    for (const preset of ['standard', 'strict']) {
      const d = decide(loadPolicy(preset), [...rest, source]);
      assert.equal(d.status, 'held');
      assert.deepEqual(
        d.reasons.map((r) => r.split(':')[0]),
        ['REBUILD_FILE_DIFFERS'],
      );
    }
  });
  it('warns on a missing tag under standard and holds it under strict', () => {
    const source = layer('source', 'warn', [finding('SOURCE_TAG_MISSING', 'medium')]);
    assert.equal(decide(loadPolicy('standard'), [...rest, source]).status, 'verified');
    assert.equal(decide(loadPolicy('strict'), [...rest, source]).status, 'held');
  });
  it('treats a layer that stopped after info findings as unavailable, not as a pass', () => {
    const source = layer(
      'source',
      'unavailable',
      [finding('SOURCE_LOCATED_BY', 'info')],
      'pack: npm pack exited 1',
    );
    const standard = decide(loadPolicy('standard'), [...rest, source]);
    assert.equal(standard.status, 'verified');
    assert.match(standard.warnings.join(), /source: unavailable \(pack: npm pack exited 1\)/);
    assert.equal(decide(loadPolicy('strict'), [...rest, source]).status, 'held');
  });
});

describe('loadPolicy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vetted-policy-'));
  it('reads a YAML file that extends a preset', () => {
    const file = join(dir, 'p.yaml');
    writeFileSync(file, 'extends: strict\nfindings:\n  INSTALL_SCRIPT: reject\n');
    const policy = loadPolicy(file);
    assert.equal(policy.preset, 'strict');
    assert.equal(policy.findings.INSTALL_SCRIPT, 'reject');
    assert.notEqual(policy.digest, loadPolicy('strict').digest);
  });
  it('reads per-package behaviour expectations, and refuses unknown ones', () => {
    const file = join(dir, 'behaviour.yaml');
    writeFileSync(file, 'behaviour:\n  esbuild:\n    allowSpawn: [esbuild]\n');
    assert.deepEqual(loadPolicy(file).behaviour.esbuild, { allowSpawn: ['esbuild'] });
    writeFileSync(file, 'behaviour:\n  esbuild:\n    allowEverything: true\n');
    assert.throws(() => loadPolicy(file), /POLICY_INVALID|allowEverything|Unrecognized/);
  });
  it('loads the shipped example policy', () => {
    const example = join(__dirname, '..', '..', '..', 'config', 'policy.example.yaml');
    assert.equal(loadPolicy(example).behaviour.esbuild?.allowSpawn?.[0], 'esbuild');
  });
  it('names the field that is wrong', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'unavailable: maybe\n');
    assert.throws(
      () => loadPolicy(file),
      (err) => isVettedError(err, 'POLICY_INVALID') && /unavailable/.test(err.message),
    );
  });
  it('refuses unknown fields', () => {
    const file = join(dir, 'extra.yaml');
    writeFileSync(file, 'holdEverything: true\n');
    assert.throws(() => loadPolicy(file), /POLICY_INVALID|holdEverything|Unrecognized/);
  });
});
