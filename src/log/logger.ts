/**
 * The logger shape vetted uses everywhere: Verdaccio's pino logger, `(fields, template)` with
 * `@{field}` placeholders. Inside Verdaccio we are handed its logger; the CLI and tests build a
 * small one here. Owns no transport: it writes JSON lines to a stream.
 */

export type LogFn = (fields: Record<string, unknown> | string, template?: string) => void;

export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  http: LogFn;
  debug: LogFn;
  trace: LogFn;
  child?: (bindings: Record<string, unknown>) => Logger;
}

const LEVELS = { error: 50, warn: 40, info: 30, http: 25, debug: 20, trace: 10 } as const;
type Level = keyof typeof LEVELS;

/** Fills `@{a.b}` placeholders from the fields, as Verdaccio's logger does. */
export function formatTemplate(template: string, fields: Record<string, unknown>): string {
  return template.replace(/@\{!?([\w.]+)\}/g, (_, path: string) => {
    let value: unknown = fields;
    for (const part of path.split('.')) {
      value =
        value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
    }
    return value === undefined ? '' : String(value);
  });
}

/** A JSON-lines logger for processes that are not inside Verdaccio. */
export function createStreamLogger(
  stream: NodeJS.WritableStream,
  level: Level = 'info',
  bindings: Record<string, unknown> = {},
): Logger {
  const min = LEVELS[level];
  const make =
    (name: Level): LogFn =>
    (fields, template) => {
      if (LEVELS[name] < min) return;
      const data = typeof fields === 'string' ? {} : fields;
      const msg = typeof fields === 'string' ? fields : formatTemplate(template ?? '', data);
      stream.write(
        JSON.stringify({ level: name, time: new Date().toISOString(), ...bindings, ...data, msg }) +
          '\n',
      );
    };
  return {
    error: make('error'),
    warn: make('warn'),
    info: make('info'),
    http: make('http'),
    debug: make('debug'),
    trace: make('trace'),
    child: (more) => createStreamLogger(stream, level, { ...bindings, ...more }),
  };
}

export const silentLogger: Logger = {
  error: () => {},
  warn: () => {},
  info: () => {},
  http: () => {},
  debug: () => {},
  trace: () => {},
};

export function childLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  return logger.child ? logger.child(bindings) : logger;
}
