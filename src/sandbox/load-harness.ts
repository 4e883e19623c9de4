/**
 * The script that loads one entry point inside the sandbox, as an application would
 * (`require` or `import()`), and reports on stderr, after a marker line, whether the load
 * returned and which long timers it armed that had not fired by exit: a payload that waits
 * before acting. Its report is untrusted (the package runs in the same process); it only adds
 * detail, the host's own timeout and trace decide. The harness itself is plain CommonJS
 * with no dependencies.
 */
import type { Finding } from '../types';

/** File name of the harness inside the runner directory. */
export const LOAD_HARNESS_FILE = 'load.js';

/** Timers at least this long, armed while loading, count as deferred work. */
export const DEFERRED_TIMER_MS = 3_000;

export const LOAD_HARNESS_SOURCE = `'use strict';
const { createHook } = require('node:async_hooks');
const { pathToFileURL } = require('node:url');
const [mode, target, marker] = process.argv.slice(2);
const pending = new Map();
const armed = [];
const hook = createHook({
  init(id, type, trigger, resource) {
    if (type !== 'Timeout' || !resource) return;
    const ms = resource._idleTimeout;
    if (typeof ms === 'number' && ms >= ${DEFERRED_TIMER_MS} && pending.size < 50) {
      pending.set(id, ms);
      armed.push(ms);
    }
  },
  destroy(id) {
    pending.delete(id);
  },
});
hook.enable();
const started = Date.now();
const say = (what, extra) => {
  const line = JSON.stringify({ what, ms: Date.now() - started, ...extra });
  process.stderr.write('\\n' + marker + ' ' + line + '\\n');
};
process.on('exit', () => say('exit', { pending: [...pending.values()] }));
(async () => {
  try {
    if (mode === 'import') await import(pathToFileURL(target).href);
    else require(target);
    say('loaded', { armed, active: process.getActiveResourcesInfo() });
  } catch (err) {
    say('threw', { error: String((err && err.message) || err).slice(0, 500) });
    process.exitCode = 1;
  }
})();
`;

export interface HarnessReport {
  loaded?: { ms: number; armed: number[]; active: string[] };
  threw?: string;
  /** Long timers armed during load that never fired (the process exited first). */
  pending?: number[];
}

/** The last reports after `marker` in the output, ignoring malformed lines. */
export function readHarnessReport(stderr: string, marker: string): HarnessReport {
  const out: HarnessReport = {};
  for (const line of stderr.split('\n')) {
    if (!line.startsWith(`${marker} `)) continue;
    let value: unknown;
    try {
      value = JSON.parse(line.slice(marker.length + 1));
    } catch {
      continue;
    }
    if (!value || typeof value !== 'object') continue;
    const v = value as Record<string, unknown>;
    const numbers = (x: unknown) =>
      Array.isArray(x) ? x.filter((n): n is number => typeof n === 'number') : [];
    if (v.what === 'loaded') {
      out.loaded = {
        ms: typeof v.ms === 'number' ? v.ms : 0,
        armed: numbers(v.armed),
        active: Array.isArray(v.active) ? v.active.map(String).slice(0, 20) : [],
      };
    } else if (v.what === 'threw') out.threw = String(v.error ?? '');
    else if (v.what === 'exit') out.pending = numbers(v.pending);
  }
  return out;
}

/**
 * Adds what the harness saw to a load's findings: on a timeout, whether the load itself
 * returned and what kept the process alive; otherwise a LOAD_DEFERRED_TIMER finding for long
 * timers armed while loading that never fired (what they would do is not observed).
 */
export function addHarnessFindings(
  findings: Finding[],
  step: string,
  report: HarnessReport,
  run: { killed?: string },
): void {
  if (run.killed === 'time') {
    const timeout = findings.find((f) => f.code === 'LOAD_TIMEOUT' && f.evidence?.step === step);
    if (timeout?.evidence) {
      timeout.evidence.loadReturned = report.loaded !== undefined;
      if (report.loaded) timeout.evidence.keptAliveBy = report.loaded.active;
      if (report.loaded?.armed.length) timeout.evidence.timersMs = report.loaded.armed;
    }
    return;
  }
  const pending = report.pending ?? [];
  if (pending.length === 0) return;
  const timers = pending.map((ms) => `${ms} ms`).join(', ');
  findings.push({
    code: 'LOAD_DEFERRED_TIMER',
    severity: 'medium',
    message: `${step}: armed a timer (${timers}) that had not fired when it exited; what it defers is not observed`,
    evidence: { phase: 'load', step, timersMs: pending, minimumMs: DEFERRED_TIMER_MS },
  });
}
