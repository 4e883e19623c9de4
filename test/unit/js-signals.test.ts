import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import pacote from 'pacote';
import {
  analyseFile,
  checkJsSignals,
  markNovelty,
  toResolvedOptions,
} from '../../src/verify/js-signals';
import type {
  JsSignal,
  JsSignalsOptions,
  JsSignalsResult,
  PackageAnalysis,
} from '../../src/verify/js-signals';
import { createJsSignalsLayer, jsSignals } from '../../src/verify/layers/js-signals';
import type { LayerInput } from '../../src/verify/layer';
import { runLayer } from '../../src/verify/layer';
import type { Finding } from '../../src/types';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'js-signals');
const OPTIONS = toResolvedOptions();

type Files = Record<string, string | Buffer>;

/** The files of a fixture package, by path inside the package. */
function fixture(name: string): Files {
  const root = path.join(FIXTURES, name);
  const files: Files = {};
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) visit(full);
      else files[path.relative(root, full).split(path.sep).join('/')] = readFileSync(full);
    }
  };
  visit(root);
  return files;
}

/** A gzip'd ustar archive with every file under `package/`, built in memory. */
function tgz(files: Files): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, body] of Object.entries(files)) {
    const data = typeof body === 'string' ? Buffer.from(body) : body;
    const header = Buffer.alloc(512);
    header.write(`package/${name}`.slice(0, 100), 0);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  return gzipSync(Buffer.concat([...blocks, Buffer.alloc(1024)]));
}

function withPackageJson(files: Files, extra: Record<string, unknown>): Files {
  const pkg = JSON.parse(String(files['package.json'] ?? '{}')) as Record<string, unknown>;
  return { ...files, 'package.json': JSON.stringify({ ...pkg, ...extra }) };
}

function input(tarball: Buffer, previous?: LayerInput['previous']): LayerInput {
  return {
    name: 'fixture',
    version: '1.0.0',
    packument: {},
    manifest: {},
    tarball,
    signal: new AbortController().signal,
    ...(previous ? { previous } : {}),
  };
}

async function check(files: Files, options: JsSignalsOptions = {}): Promise<JsSignalsResult> {
  return checkJsSignals(tgz(files), toResolvedOptions(options));
}

const codesOf = (findings: Finding[]) => findings.map((f) => `${f.code}:${f.severity}`);
const only = (result: JsSignalsResult, code: string) =>
  result.signals.filter((s) => s.code === code);
const inFile = (file: string, code: string) =>
  analyseFile(file, code, OPTIONS, new Set()).signals.map((s) => s.code);

describe('jsSignals', () => {
  describe('when the package is plain library code', () => {
    it('passes with nothing above info', async () => {
      const result = await check(fixture('benign'));
      assert.equal(result.outcome, 'pass');
      assert.deepEqual(codesOf(result.findings), ['JS_COVERAGE:info']);
    });
  });

  describe('when the code is obfuscated', () => {
    it('reports hex-mangled names and the string-array rotation', async () => {
      const result = await check(fixture('obfuscated'));
      assert.equal(result.outcome, 'warn');
      assert.deepEqual(codesOf(result.findings).slice(0, 2), [
        'JS_STRING_ARRAY_ROTATION:high',
        'JS_HEX_IDENTIFIERS:medium',
      ]);
      assert.ok((only(result, 'JS_HEX_IDENTIFIERS')[0]?.detail?.count as number) >= 10);
    });
    it('fails when an install script runs it', async () => {
      const files = withPackageJson(fixture('obfuscated'), {
        scripts: { postinstall: 'node index.js' },
      });
      const result = await check(files);
      assert.equal(result.outcome, 'fail');
      assert.equal(result.findings[0]?.code, 'JS_OBFUSCATED_INSTALL');
    });
    it('reports a long line and off-screen code in a hand-written file, not in bundles', async () => {
      const result = await check(fixture('long-line'));
      const long = only(result, 'JS_LONG_LINE');
      assert.deepEqual(
        long.map((s) => s.file),
        ['lib/index.js'],
      );
      assert.ok((long[0]?.detail?.length as number) > 5000);
      assert.ok(long[0]!.excerpt.length <= 200);
      assert.deepEqual(
        only(result, 'JS_PADDED_CODE').map((s) => `${s.file}:${s.line}`),
        ['lib/index.js:42'],
      );
    });
    it('scores random strings, not alphabets, digests or prose', () => {
      const random = 'q8Zr2Vx0LmT4bN7yKc1Pw9Hs3Jd6Gf5Ae2Xu8Rt0Yi4Oo7Ep1Sa3Dk9Fl6Zx2Cv5Bn';
      assert.deepEqual(inFile('a.js', `const k = '${random}';`), ['JS_HIGH_ENTROPY_STRING']);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      assert.deepEqual(inFile('a.js', `const a = '${alphabet}';`), []);
      assert.deepEqual(inFile('a.js', `const d = '${'9f86d081884c7d659a2f'.repeat(3)}';`), []);
      assert.deepEqual(inFile('a.js', `const t = '${'ജനുവരി_ഫെബ്രുവരി_മാർച്ച്_'.repeat(3)}';`), []);
    });
  });

  describe('when code is evaluated', () => {
    it('reports eval, Function, setTimeout and vm of built strings, not of literals', async () => {
      const result = await check(fixture('dynamic-code'));
      assert.equal(result.outcome, 'warn');
      assert.deepEqual(
        only(result, 'JS_DYNAMIC_CODE').map((s) => `${s.line}:${String(s.detail?.sink)}`),
        ['7:eval', '10:Function', '13:setTimeout(string)', '16:vm'],
      );
    });
    it('fails on decoded data that is evaluated, showing what it decodes to', async () => {
      const result = await check(fixture('decoded-exec'));
      assert.equal(result.outcome, 'fail');
      const decoded = only(result, 'JS_DECODED_EXEC');
      assert.deepEqual(
        decoded.map((s) => [s.line, s.detail?.decoder]),
        [
          [5, "Buffer.from(…, 'base64')"],
          [8, 'atob'],
        ],
      );
      assert.match(String(decoded[0]?.detail?.decoded), /this would be the payload/);
      assert.equal(result.findings[0]?.severity, 'critical');
    });
    it('follows decoder functions and aliased require, as in flatmap-stream', async () => {
      const result = await check(fixture('decoder-function'));
      assert.equal(result.outcome, 'fail');
      assert.deepEqual(
        only(result, 'JS_DECODED_EXEC').map((s) => s.detail?.sink),
        ['require', 'method named by decoded data', 'require', 'method named by decoded data'],
      );
      assert.equal(only(result, 'JS_DECODED_EXEC')[0]?.detail?.decoded, './test/data');
    });
    it('reads an evaluated literal and a decoded require as code', () => {
      const literal = analyseFile(
        'a.js',
        `eval("require('child_process').exec('id')")`,
        OPTIONS,
        new Set(),
      );
      assert.deepEqual(
        literal.signals.map((s) => [s.code, s.detail?.via]),
        [['JS_CHILD_PROCESS', 'eval string']],
      );
      const hidden = `require(Buffer.from('Y2hpbGRfcHJvY2Vzcw==', 'base64').toString()).exec('id')`;
      const decoded = analyseFile('a.js', hidden, OPTIONS, new Set()).signals;
      assert.deepEqual(
        decoded.map((s) => [s.code, s.detail?.sink, s.detail?.decoded]),
        [['JS_DECODED_EXEC', 'require', 'child_process']],
      );
    });
  });

  describe('when the package spawns processes', () => {
    it('reports each call, raised in install-time code', async () => {
      const result = await check(fixture('child-process'));
      assert.deepEqual(
        only(result, 'JS_CHILD_PROCESS').map((s) => [s.file, s.role, s.detail?.method]),
        [
          ['lib/run.js', 'load', 'spawn'],
          ['scripts/setup.js', 'install', 'execSync'],
        ],
      );
      assert.deepEqual(codesOf(result.findings).slice(0, 2), [
        'JS_CHILD_PROCESS:medium',
        'JS_CHILD_PROCESS:low',
      ]);
      assert.equal(result.findings[0]?.evidence?.file, 'scripts/setup.js');
    });
  });

  describe('when strings hold encoded data', () => {
    it('classes blobs by what they decode to and reads decoded script', async () => {
      const result = await check(fixture('blob'));
      const blobs = only(result, 'JS_ENCODED_BLOB');
      assert.deepEqual(
        blobs.map((s) => [s.line, s.detail?.kind, s.severity]),
        [
          [2, 'executable', 'high'],
          [3, 'wasm', 'info'],
          [4, 'media', 'info'],
          [5, 'script', 'medium'],
          [6, 'binary', 'low'],
        ],
      );
      const nested = only(result, 'JS_CHILD_PROCESS')[0];
      assert.equal(nested?.detail?.via, 'decoded blob');
      assert.equal(nested?.detail?.shell, true);
    });
  });

  describe('when code names hosts', () => {
    it('reports IPs, unknown hosts and exfiltration hosts, not docs or the homepage', async () => {
      const result = await check(fixture('hosts'));
      const hosts = result.signals
        .filter((s) => /HOST|_IP|_URL/.test(s.code))
        .map((s) => [s.code, s.detail?.host, s.severity]);
      assert.deepEqual(hosts, [
        ['JS_HARDCODED_IP', '45.142.212.61', 'medium'],
        ['JS_HARDCODED_IP', '192.168.10.20', 'low'],
        ['JS_EXFIL_HOST', 'discord.com', 'high'],
        ['JS_HARDCODED_URL', 'collector.metrics-relay.io', 'low'],
      ]);
    });
  });

  describe('when code reads credentials', () => {
    it('reports token names, credential paths and environment dumps', async () => {
      const result = await check(fixture('credentials'));
      assert.equal(result.outcome, 'warn');
      assert.deepEqual(
        only(result, 'JS_TOKEN_NAME').map((s) => s.key),
        ['NPM_TOKEN', 'GITHUB_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'DEPLOY_PASSWORD'],
      );
      assert.deepEqual(
        only(result, 'JS_CREDENTIAL_PATH').map((s) => s.key),
        ['.npmrc', '.ssh', 'ssh private key'],
      );
      assert.equal(only(result, 'JS_ENV_DUMP').length, 1);
      assert.equal(only(result, 'JS_ENV_ENUMERATION').length, 1);
    });
    it('fails when install-time code sends them out', async () => {
      const result = await check(fixture('exfil'));
      assert.equal(result.outcome, 'fail');
      assert.deepEqual(codesOf(result.findings).slice(0, 2), [
        'JS_CREDENTIAL_EXFIL:critical',
        'JS_INSTALL_NETWORK:high',
      ]);
      const parts = result.findings[0]?.evidence?.occurrences as Array<{ parts: unknown[] }>;
      assert.equal(parts[0]?.parts.length, 2);
    });
  });

  describe('when code touches browser wallets', () => {
    it('fails on hooks with address swapping and request interception', async () => {
      const result = await check(fixture('wallet-drainer'));
      assert.equal(result.outcome, 'fail');
      assert.equal(result.findings[0]?.code, 'JS_WALLET_DRAINER');
      for (const code of [
        'JS_WALLET_ADDRESSES',
        'JS_WALLET_ADDRESS_PATTERN',
        'JS_REQUEST_INTERCEPT',
      ]) {
        assert.ok(only(result, code).length > 0, code);
      }
    });
    it('only warns for a dapp that asks the wallet for accounts', async () => {
      const result = await check(fixture('wallet-dapp'));
      assert.equal(result.outcome, 'warn');
      assert.ok(!result.signals.some((s) => s.code === 'JS_WALLET_DRAINER'));
    });
  });

  describe('when code uses the network', () => {
    it('separates calls that run on load from calls inside functions', async () => {
      const result = await check(fixture('network'));
      const network = result.signals
        .filter((s) => /NETWORK/.test(s.code))
        .map((s) => [s.code, s.file, s.key]);
      assert.deepEqual(network, [
        ['JS_LOAD_NETWORK', 'index.js', 'https.get'],
        ['JS_NETWORK_API', 'index.js', 'fetch'],
        ['JS_LOAD_NETWORK', 'lib/helpers.js', 'dns.lookup'],
        ['JS_NETWORK_API', 'lib/unused.js', 'http.get'],
      ]);
      assert.equal(result.outcome, 'warn');
    });
  });

  describe('when the signals are in tests', () => {
    it('keeps them at info and passes', async () => {
      const result = await check(fixture('tests-only'));
      assert.equal(result.outcome, 'pass');
      assert.ok(result.findings.every((f) => f.severity === 'info'));
      assert.ok(result.signals.some((s) => s.code === 'JS_DECODED_EXEC' && s.role === 'test'));
    });
  });

  describe('when the previous version is given', () => {
    const previous = { version: '1.0.0', tarball: tgz(fixture('versions/1.0.0')) };
    const current = tgz(fixture('versions/1.1.0'));

    it('marks what was there as old and info, and raises what is new', async () => {
      const result = await checkJsSignals(current, OPTIONS, { previous });
      const marks = result.signals
        .filter((s) => s.code !== 'JS_NETWORK_API')
        .map((s) => [s.code, s.file, s.novelty, s.line]);
      assert.deepEqual(marks, [
        ['JS_CHILD_PROCESS', 'lib/index.js', 'old', 10],
        ['JS_DYNAMIC_CODE', 'lib/index.js', 'old', 13],
        ['JS_HARDCODED_URL', 'lib/index.js', 'old', 15],
        ['JS_CHILD_PROCESS', 'lib/index.js', 'new', 19],
        ['JS_HARDCODED_URL', 'lib/index.js', 'new', 19],
        ['JS_DYNAMIC_CODE', 'dist/chunk-9c1b.js', 'old', 1],
      ]);
      const shell = result.findings.find((f) => f.code === 'JS_CHILD_PROCESS' && f.evidence?.new);
      assert.equal(shell?.severity, 'high');
      assert.equal(shell?.evidence?.since, '1.0.0');
      assert.match(shell?.message ?? '', /new since 1\.0\.0/);
      assert.ok(
        result.findings
          .filter((f) => f.evidence?.new === false)
          .every((f) => f.severity === 'info'),
      );
    });
    it('marks nothing new or old without one', async () => {
      const result = await checkJsSignals(current, OPTIONS);
      assert.ok(result.signals.every((s) => s.novelty === 'unknown'));
      assert.ok(result.findings.every((f) => f.evidence?.new === undefined));
    });
    it('compares without a baseline when the previous tarball is unreadable', async () => {
      const broken = { version: '1.0.0', tarball: Buffer.from('not a tarball') };
      const result = await checkJsSignals(current, OPTIONS, { previous: broken });
      assert.ok(result.findings.some((f) => f.code === 'JS_BASELINE_UNREADABLE'));
      assert.ok(result.signals.every((s) => s.novelty === 'unknown'));
    });
    it('analyses each tarball once when given a cache', async () => {
      const cache = new Map<string, PackageAnalysis>();
      let hits = 0;
      const counting = {
        get: (key: string) => {
          const found = cache.get(key);
          if (found) hits += 1;
          return found;
        },
        set: (key: string, value: PackageAnalysis) => cache.set(key, value),
      };
      await checkJsSignals(previous.tarball, OPTIONS, { cache: counting });
      const result = await checkJsSignals(current, OPTIONS, { previous, cache: counting });
      assert.equal(hits, 1);
      assert.equal(cache.size, 2);
      assert.ok(result.signals.some((s) => s.novelty === 'old'));
    });
    it('runs through the layer with input.previous', async () => {
      const result = await runLayer(jsSignals, input(current, previous));
      assert.equal(result.layer, 'js-signals');
      assert.equal(result.outcome, 'warn');
      assert.match(result.findings.at(-1)?.message ?? '', /compared with 1\.0\.0/);
    });
  });

  describe('markNovelty', () => {
    const signal = (file: string, key: string, line = 1): JsSignal => ({
      code: 'JS_DYNAMIC_CODE',
      severity: 'low',
      file,
      line,
      excerpt: key,
      key,
    });
    it('counts copies: a second identical call is new', () => {
      const marked = markNovelty([signal('a.js', 'eval(_)', 5), signal('a.js', 'eval(_)', 9)], {
        signals: [signal('a.js', 'eval(_)', 1)],
        files: ['a.js'],
      });
      assert.deepEqual(
        marked.map((s) => s.novelty),
        ['old', 'new'],
      );
    });
    it('matches other files only for a file the previous version did not have', () => {
      const baseline = { signals: [signal('a.js', 'eval(_)')], files: ['a.js', 'b.js'] };
      assert.equal(markNovelty([signal('b.js', 'eval(_)')], baseline)[0]?.novelty, 'new');
      assert.equal(markNovelty([signal('c.js', 'eval(_)')], baseline)[0]?.novelty, 'old');
    });
  });

  describe('when choosing what to read', () => {
    it('reads bin files without an extension and install-script files as code', async () => {
      const result = await check({
        'package.json': JSON.stringify({
          bin: { tool: 'bin/tool' },
          scripts: { preinstall: 'node -e "require(\'./setup/prep\')"' },
        }),
        'bin/tool': '#!/usr/bin/env node\neval(process.argv[2]);',
        'setup/prep.js': "require('https').get('https://prep.invalid/x');",
      });
      assert.deepEqual(
        result.signals.map((s) => [s.code, s.file, s.role]),
        [
          ['JS_DYNAMIC_CODE', 'bin/tool', 'load'],
          ['JS_INSTALL_NETWORK', 'setup/prep.js', 'install'],
        ],
      );
    });
    it('reports a file shipped twice under each of its paths', async () => {
      const code = 'module.exports = (s) => eval(s);';
      const result = await check({ 'package.json': '{}', 'cjs/a.js': code, 'esm/a.js': code });
      assert.deepEqual(
        only(result, 'JS_DYNAMIC_CODE').map((s) => s.file),
        ['cjs/a.js', 'esm/a.js'],
      );
    });
  });

  describe('when files are hostile to the analysis', () => {
    it('reads a file acorn cannot parse with patterns', async () => {
      const jsx = `export const App = () => <div onClick={() => eval(code)}>{fetch(url)}</div>;`;
      const result = await check({ 'package.json': '{"main":"app.js"}', 'app.js': jsx });
      assert.deepEqual(
        result.signals.map((s) => [s.code, s.detail?.parsed]),
        [
          ['JS_PARSE_FAILED', undefined],
          ['JS_DYNAMIC_CODE', false],
          ['JS_NETWORK_API', false],
        ],
      );
      assert.equal(result.outcome, 'warn');
    });
    it('survives nesting too deep for the parser', async () => {
      const deep = `module.exports = ${'['.repeat(100_000)}${']'.repeat(100_000)};\neval(x);`;
      const result = await check({ 'package.json': '{}', 'index.js': deep });
      assert.deepEqual(
        result.signals.map((s) => s.code),
        ['JS_PARSE_FAILED', 'JS_DYNAMIC_CODE'],
      );
    });
    it('skips files over the size limit and says so', async () => {
      const huge = Buffer.alloc(5 * 1024 * 1024 + 1, 'x;\n');
      const start = performance.now();
      const result = await check({
        'package.json': '{}',
        'index.js': 'module.exports = 1;',
        'big.js': huge,
      });
      assert.ok(performance.now() - start < 5000);
      assert.deepEqual(
        result.signals.map((s) => [s.code, s.file, s.detail?.reason]),
        [['JS_FILE_SKIPPED', 'big.js', 'too large']],
      );
      assert.equal(result.findings.at(-1)?.evidence?.files, 1);
    });
    it('stops at the file count and total size limits, entry points first', async () => {
      const files: Files = { 'package.json': '{"main":"z.js"}', 'z.js': 'eval(a)' };
      for (let i = 0; i < 5; i++) files[`lib/f${i}.js`] = `module.exports = ${i};`;
      const byCount = await check(files, { maxFiles: 2 });
      assert.deepEqual(
        byCount.findings.find((f) => f.code === 'JS_DYNAMIC_CODE')?.evidence?.file,
        'z.js',
      );
      assert.equal(only(byCount, 'JS_FILE_SKIPPED').length, 4);
      const bySize = await check(files, { maxTotalBytes: 30 });
      assert.ok(
        only(bySize, 'JS_FILE_SKIPPED').every((s) => s.detail?.reason === 'total size limit'),
      );
    });
    it('turns an unreadable tarball into an error outcome', async () => {
      const result = await runLayer(jsSignals, input(Buffer.from('garbage')));
      assert.equal(result.outcome, 'error');
      assert.ok(result.reason);
    });
    it('stops when aborted', async () => {
      const controller = new AbortController();
      controller.abort(new Error('shutting down'));
      const aborted = { ...input(tgz(fixture('benign'))), signal: controller.signal };
      await assert.rejects(runLayer(jsSignals, aborted), /shutting down/);
    });
  });

  describe('createJsSignalsLayer', () => {
    it('rejects a limit that is not a positive integer, naming it', () => {
      assert.throws(() => createJsSignalsLayer({ maxFiles: 0 }), {
        name: 'TypeError',
        message: 'maxFiles must be a positive integer',
      });
      assert.throws(() => createJsSignalsLayer({ entropyBits: 9 }), /entropyBits/);
    });
  });
});

/** Real packages from the registry: what fires, how long it takes; none may fail. */
describe('jsSignals on real packages', { timeout: 180_000 }, () => {
  const PACKAGES: Array<[string, string]> = [
    ['express@4.18.2', '4.18.1'],
    ['lodash@4.17.21', '4.17.20'],
    ['react-dom@18.3.1', '18.2.0'],
    ['axios@1.7.7', '1.7.6'],
    ['esbuild@0.24.0', '0.23.1'],
  ];

  async function fetchTarball(t: TestContext, spec: string): Promise<Buffer | undefined> {
    try {
      // fail fast when offline: the case is skipped, not the whole run held up
      return await pacote.tarball(spec, { fetchRetries: 1, fetchTimeout: 30_000 });
    } catch (err) {
      t.skip(`registry unreachable: ${(err as Error).message}`);
      return undefined;
    }
  }

  for (const [spec, before] of PACKAGES) {
    it(`does not fail ${spec}, alone or against ${before}`, async (t) => {
      const tarball = await fetchTarball(t, spec);
      const previousTarball = await fetchTarball(t, spec.replace(/@[^@]+$/, `@${before}`));
      if (!tarball || !previousTarball) return;
      const times: number[] = [];
      let alone: JsSignalsResult | undefined;
      for (let run = 0; run < 3; run++) {
        const start = performance.now();
        alone = await checkJsSignals(tarball, OPTIONS);
        times.push(performance.now() - start);
      }
      const start = performance.now();
      const compared = await checkJsSignals(tarball, OPTIONS, {
        previous: { version: before, tarball: previousTarball },
      });
      const withPrevious = performance.now() - start;

      const describeFindings = (result: JsSignalsResult) =>
        result.findings
          .filter((f) => f.code !== 'JS_COVERAGE')
          .map((f) => `${f.code}:${f.severity}×${String(f.evidence?.count)}`)
          .join(', ') || '-';
      const coverage = alone!.findings.at(-1)?.evidence ?? {};
      const [first, ...warm] = times;
      t.diagnostic(
        `${spec}: ${alone!.outcome} [${describeFindings(alone!)}]; vs ${before}: ` +
          `${compared.outcome} [${describeFindings(compared)}]; ${String(coverage.files)} files, ` +
          `${String(coverage.bytes)} bytes; first ${Math.round(first!)} ms, warm ` +
          `${warm.map(Math.round).join('/')} ms, with previous ${Math.round(withPrevious)} ms`,
      );
      assert.notEqual(alone!.outcome, 'fail');
      assert.notEqual(compared.outcome, 'fail');
      assert.equal(compared.outcome, 'pass', describeFindings(compared));
    });
  }
});
