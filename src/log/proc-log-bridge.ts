/**
 * pacote and npm-registry-fetch report through proc-log, which emits `process.emit('log', …)`.
 * This bridge forwards those events to our logger once, at the levels the house style maps,
 * with credentials in URLs removed. `removeProcLogBridge` undoes it (tests).
 */
import type { Logger } from './logger';
import { redactText } from './redact';

type Level = 'error' | 'warn' | 'info' | 'http' | 'debug';

const LEVELS: Record<string, Level> = {
  error: 'error',
  warn: 'warn',
  notice: 'info',
  info: 'info',
  http: 'http',
  verbose: 'debug',
  silly: 'debug',
  timing: 'debug',
};

let installed: ((level: string, ...args: unknown[]) => void) | undefined;

export function installProcLogBridge(logger: Logger): void {
  if (installed) return;
  installed = (level: string, ...args: unknown[]) => {
    const target = LEVELS[level];
    if (!target) return;
    const [prefix, ...rest] = args;
    const msg = redactText(rest.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
    logger[target]({ source: String(prefix), msg }, '@{source}: @{msg}');
  };
  process.on('log', installed);
}

export function removeProcLogBridge(): void {
  if (!installed) return;
  process.off('log', installed);
  installed = undefined;
}
