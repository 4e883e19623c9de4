/**
 * Checks on the shape of a file's text rather than its syntax: very long lines in a file that is
 * otherwise hand-written (a payload appended to a normal module), and code pushed far to the right
 * by whitespace so that an editor does not show it. Minified files are recognised and exempt from
 * the long-line check.
 */
import type { SignalCollector } from './collector';
import type { ResolvedOptions } from './options';
import { toKey } from './text';

/** Short lines a file needs to count as hand-written. */
const HAND_WRITTEN_LINES = 20;
/** Long lines beyond this many mean a generated file, not an injected line. */
const MAX_INJECTED_LINES = 3;
/** Calls and statements a long line needs to be code rather than a data table. */
const CODE_PUNCTUATION = 20;
const STRING_RE = /(["'`])(?:\\.|(?!\1)[^\\\n])*\1/g;
const PADDING_RE = /\S([ \t]{150,})(?=[^\s])/g;

export interface Layout {
  /** `.min.js`, or long lines with too few short ones around them. */
  minified: boolean;
}

export function checkLayout(
  file: string,
  text: string,
  collector: SignalCollector,
  options: ResolvedOptions,
): Layout {
  const long: Array<{ start: number; end: number }> = [];
  let short = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const length = end - start;
    if (length > options.longLineChars) {
      if (!text.startsWith('//# sourceMappingURL=', start)) long.push({ start, end });
    } else if (length > 0 && length < 200) {
      short += 1;
    }
    start = end + 1;
  }
  const minified =
    /\.min\.[cm]?js$/.test(file) ||
    (long.length > 0 && (short < HAND_WRITTEN_LINES || long.length > MAX_INJECTED_LINES));
  if (!minified) {
    for (const line of long) {
      const head = text.slice(line.start, Math.min(line.end, line.start + 20_000));
      // a long string (a data table, a blob) is not long code; blobs have their own check
      const code = head.replace(STRING_RE, '""');
      if (code.length < Math.min(options.longLineChars, head.length / 2)) continue;
      // calls and statements; a table of object literals has braces but hardly any of these
      const punctuation = code.match(/[(;]/g)?.length ?? 0;
      if (punctuation < CODE_PUNCTUATION) continue;
      collector.add('JS_LONG_LINE', line.start, {
        key: toKey(head),
        detail: { length: line.end - line.start },
      });
    }
  }
  if (text.length < 50 * 1024 * 1024) {
    for (const match of text.matchAll(PADDING_RE)) {
      const at = (match.index ?? 0) + match[0].length;
      collector.add('JS_PADDED_CODE', at, { detail: { spaces: match[1]?.length ?? 0 } });
    }
  }
  return { minified };
}
