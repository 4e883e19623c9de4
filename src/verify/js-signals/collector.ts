/**
 * Where the detectors of one file put their signals: turns an offset into a line and an
 * excerpt, derives the comparison key, drops repeats the caller asks to see once, and bounds how
 * many occurrences of one code a file may contribute. A nested collector (code found inside an
 * evaluated or decoded string) reports at the outer position.
 */
import { SIGNALS } from './signal.types';
import type { JsSignal, SignalCode } from './signal.types';
import type { Severity } from '../../types';
import { excerptAt, lineOf, toKey, toLineStarts, truncate } from './text';

/** No file contributes more occurrences of one code than this (the rest are counted only). */
export const MAX_PER_CODE = 200;

export interface AddOptions {
  severity?: Severity;
  /** Comparison key; default: the normalised source from the offset. */
  key?: string;
  /** End of the source the key is made from. */
  end?: number;
  detail?: Record<string, unknown>;
  scope?: readonly number[];
  /** Keep only the first signal with this code and key (and scope) in the file. */
  once?: boolean;
}

interface Origin {
  parent: SignalCollector;
  at: number;
  via: string;
}

export class SignalCollector {
  readonly signals: JsSignal[] = [];
  /** Occurrences beyond `MAX_PER_CODE`, by code. */
  readonly dropped = new Map<SignalCode, number>();
  private readonly seen = new Set<string>();
  private readonly perCode = new Map<SignalCode, number>();
  private starts?: number[];

  constructor(
    readonly file: string,
    readonly text: string,
    /** Nesting depth: 0 for a file, 1 for a string found in it, and so on. */
    readonly depth = 0,
    private readonly origin?: Origin,
  ) {}

  /** A collector for code found inside this file's string at `at` (evaluated or decoded). */
  nested(text: string, at: number, via: string): SignalCollector {
    return new SignalCollector(this.file, text, this.depth + 1, { parent: this, at, via });
  }

  add(code: SignalCode, at: number, options: AddOptions = {}): void {
    const key =
      options.key ?? toKey(this.text.slice(at, Math.min(options.end ?? at + 160, at + 400)));
    if (options.once) {
      const id = `${code}\0${key}\0${options.scope?.join('.') ?? ''}`;
      if (this.seen.has(id)) return;
      this.seen.add(id);
    }
    if (this.origin) {
      const excerpt = truncate(`[${this.origin.via}] ${this.excerpt(at)}`);
      this.origin.parent.add(code, this.origin.at, {
        ...options,
        key: `${this.origin.via}:${key}`,
        detail: { ...options.detail, via: this.origin.via, inner: excerpt },
      });
      return;
    }
    const count = (this.perCode.get(code) ?? 0) + 1;
    this.perCode.set(code, count);
    if (count > MAX_PER_CODE) {
      this.dropped.set(code, (this.dropped.get(code) ?? 0) + 1);
      return;
    }
    const signal: JsSignal = {
      code,
      severity: options.severity ?? SIGNALS[code].severity,
      file: this.file,
      line: this.lineAt(at),
      excerpt: this.excerpt(at),
      key,
    };
    if (options.detail) signal.detail = options.detail;
    if (options.scope) signal.scope = options.scope;
    this.signals.push(signal);
  }

  lineAt(at: number): number {
    this.starts ??= toLineStarts(this.text);
    return lineOf(this.starts, at);
  }

  excerpt(at: number): string {
    this.starts ??= toLineStarts(this.text);
    return excerptAt(this.text, this.starts, at);
  }
}
