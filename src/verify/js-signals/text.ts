/**
 * Text helpers shared by the detectors: positions to line numbers, excerpts capped at 200
 * characters, comparison keys that survive reformatting and minifier renames, and Shannon
 * entropy. Pure functions over strings.
 */

export const MAX_EXCERPT = 200;

/** Offsets at which each line starts; index 0 is line 1. */
export function toLineStarts(text: string): number[] {
  const starts = [0];
  let at = text.indexOf('\n');
  while (at !== -1) {
    starts.push(at + 1);
    at = text.indexOf('\n', at + 1);
  }
  return starts;
}

/** The 1-based line holding `offset`. */
export function lineOf(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/**
 * The line around `offset`, trimmed; on a long (minified) line, a window that starts a little
 * before the offset. Never longer than `MAX_EXCERPT`.
 */
export function excerptAt(text: string, starts: readonly number[], offset: number): string {
  const line = lineOf(starts, offset);
  const begin = starts[line - 1] ?? 0;
  let end = starts[line] ?? text.length;
  if (end > begin && text[end - 1] === '\n') end -= 1;
  if (end - begin <= MAX_EXCERPT) return oneLine(text.slice(begin, end).trim());
  const from = Math.max(begin, offset - 40);
  const to = Math.min(end, from + MAX_EXCERPT - 2);
  const before = from > begin ? '…' : '';
  const after = to < end ? '…' : '';
  return oneLine(`${before}${text.slice(from, to).trim()}${after}`);
}

/** One regular expression matching any of `parts`, so long lists stay readable. */
export function anyOf(parts: readonly RegExp[], flags = ''): RegExp {
  return new RegExp(parts.map((p) => `(?:${p.source})`).join('|'), flags);
}

/** One regular expression matching `parts` one after the other. */
export function inSequence(parts: readonly RegExp[], flags = ''): RegExp {
  return new RegExp(parts.map((p) => p.source).join(''), flags);
}

/** Cuts text to `max` characters on one line, marking the cut. */
export function truncate(text: string, max = MAX_EXCERPT): string {
  const flat = oneLine(text);
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * A key for comparing code across versions: whitespace collapsed, numbers and hex-mangled or
 * one- and two-letter names (what minifiers produce) replaced, so a rebuilt bundle keeps its keys.
 */
export function toKey(code: string): string {
  return code
    .slice(0, 400)
    .replace(/\b_0x[0-9a-f]+\b/gi, '_0x')
    .replace(/(?<![\w$.])[A-Za-z_$][\w$]?(?![\w$])/g, '_')
    .replace(/\b\d[\d_.xXa-fA-F]*\b/g, '0')
    .replace(/\s+/g, '')
    .slice(0, 160);
}

/** Shannon entropy in bits per character. */
export function entropyOf(text: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** Share of characters that are printable ASCII or common whitespace. */
export function printableShare(text: string): number {
  if (text.length === 0) return 0;
  let printable = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 0x20 && c < 0x7f) || c === 0x0a || c === 0x0d || c === 0x09) printable += 1;
  }
  return printable / text.length;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ');
}
