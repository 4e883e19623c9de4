import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';

const BRIDGE = path.resolve(__dirname, '..', '..', 'src', 'log', 'proc-log-bridge.js');

/**
 * Runs Verdaccio's own logger (the one `vetted serve` is handed) in a child process with the
 * bridge installed, emits a proc-log line as npm-registry-fetch does, and returns stdout.
 */
function bridgedOutput(format: 'pretty' | 'json'): string {
  const script = `
    const { setup } = require('@verdaccio/logger');
    const { installProcLogBridge } = require(${JSON.stringify(BRIDGE)});
    const logger = setup({ type: 'stdout', format: ${JSON.stringify(format)}, level: 'http' });
    installProcLogBridge(logger);
    process.emit('log', 'http', 'fetch', 'GET 200 https://user:secret@registry.example/ms 12ms');
    logger.flush?.();
    setTimeout(() => {}, 300);
  `;
  return execFileSync(process.execPath, ['-e', script], {
    cwd: path.resolve(__dirname, '..', '..', '..'),
    env: { ...process.env, NODE_ENV: 'development', FORCE_COLOR: '0', NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('proc-log bridge', () => {
  describe('when Verdaccio prints a bridged line', () => {
    it('fills the template in the pretty format', () => {
      const out = bridgedOutput('pretty');
      assert.match(out, /fetch: GET 200 https:\/\/\*\*\*@registry\.example\/ms 12ms/);
      assert.doesNotMatch(out, /@\{/);
      assert.doesNotMatch(out, /secret/);
    });

    it('writes one message key in the JSON format', () => {
      const line = bridgedOutput('json').trim().split('\n').pop() ?? '';
      assert.equal(line.match(/"msg":/g)?.length, 1, line);
      const parsed = JSON.parse(line) as Record<string, unknown>;
      assert.equal(parsed.msg, 'fetch: GET 200 https://***@registry.example/ms 12ms');
      assert.equal(parsed.source, 'fetch');
    });
  });
});
