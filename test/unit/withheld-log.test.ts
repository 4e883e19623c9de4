import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createStreamLogger } from '../../src/log/logger';
import { createWithheldLog } from '../../src/metadata/withheld-log';
import type { Restriction } from '../../src/metadata/steer';

function capture() {
  const stream = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n').filter(Boolean)) lines.push(JSON.parse(line));
  });
  return { logger: createStreamLogger(stream, 'debug'), lines };
}

const r = (status: Restriction['status'], reason: string): Restriction => ({
  status,
  reason,
  manifest: {},
});
const report = (v: string) => `http://vetted.test/-/vetted/api/versions/pkg/${v}`;

describe('createWithheldLog', () => {
  describe('when a document with withheld versions is served', () => {
    it('logs one warn line per status, newest version first', async () => {
      const { logger, lines } = capture();
      const note = createWithheldLog(logger);
      note(
        'pkg',
        {
          '1.2.0': r('held', 'SHELL_SPAWN: postinstall ran sh'),
          '2.1.0': r('denied', 'admin: known bad release'),
          '2.0.0': r('held', 'INSTALL_SCRIPT_NETWORK: looked up evil.test'),
        },
        report,
      );
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        lines.map((l) => [l.level, l.msg]),
        [
          [
            'warn',
            'withheld pkg@2.1.0 (denied): admin: known bad release; report: http://vetted.test/-/vetted/api/versions/pkg/2.1.0',
          ],
          [
            'warn',
            'withheld pkg@2.0.0,1.2.0 (held): INSTALL_SCRIPT_NETWORK: looked up evil.test; report: http://vetted.test/-/vetted/api/versions/pkg/2.0.0',
          ],
        ],
      );
      assert.equal(lines[1]?.pkg, 'pkg');
      assert.equal(lines[1]?.verdict, 'held');
    });
  });

  describe('when the same set is served again', () => {
    it('stays quiet for the interval, then logs again', async () => {
      let clock = 1_000_000;
      const { logger, lines } = capture();
      const note = createWithheldLog(logger, { intervalMs: 60_000, now: () => clock });
      const set = { '1.0.0': r('revoked', 'admin: compromised') };
      note('pkg', set, report);
      note('pkg', { ...set }, report);
      note('other', set, report);
      clock += 59_000;
      note('pkg', set, report);
      clock += 2_000;
      note('pkg', set, report);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        lines.map((l) => l.pkg),
        ['pkg', 'other', 'pkg'],
      );
    });
  });

  describe('when the withheld set changes', () => {
    it('logs at once', async () => {
      const { logger, lines } = capture();
      const note = createWithheldLog(logger);
      note('pkg', { '1.0.0': r('held', 'SHELL_SPAWN') }, report);
      note('pkg', { '1.0.0': r('held', 'SHELL_SPAWN'), '1.1.0': r('held', 'SHELL_SPAWN') }, report);
      note('pkg', { '1.0.0': r('denied', 'admin: no') }, report);
      note('pkg', {}, report);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        lines.map((l) => `${l.versions} ${l.verdict}`),
        ['1.0.0 held', '1.1.0,1.0.0 held', '1.0.0 denied'],
      );
    });
  });

  it('refuses an interval that is not positive', () => {
    assert.throws(() => createWithheldLog(capture().logger, { intervalMs: 0 }), /intervalMs/);
  });
});
