/**
 * pacote and npm-registry-fetch report through proc-log, which emits `process.emit('log', …)`.
 * This bridge forwards those events to our logger once, at the levels the house style maps,
 * with credentials in URLs removed. `removeProcLogBridge` undoes it (tests).
 *
 * NOTE: the text goes in a field named `detail`: `msg` is pino's message key, and a field of
 * that name replaces the template before Verdaccio fills it (`fetch: @{source}: @{msg}`).
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
    const detail = redactText(
      rest.map((a) => (a instanceof Error ? a.message : String(a))).join(' '),
    );
    logger[target]({ source: String(prefix), detail }, '@{source}: @{detail}');
  };
  process.on('log', installed);
}

export function removeProcLogBridge(): void {
  if (!installed) return;
  process.off('log', installed);
  installed = undefined;
}
