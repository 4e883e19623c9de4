/**
 * A unified diff excerpt of two small texts, for a finding's evidence: hunks with two lines
 * of context, at most `maxLines` lines. The line matching is a longest-common-subsequence
 * table, so it is only used on files of at most MAX_LINES lines. Pure; depends on nothing.
 */

const MAX_LINES = 2000;
const CONTEXT = 2;

type Op = { kind: ' ' | '-' | '+'; text: string; a: number; b: number };

/**
 * `---`/`+++` headers and `@@` hunks turning `before` into `after`; undefined when the texts
 * are equal or too long to compare.
 * @example unifiedExcerpt('a\nb\n', 'a\nc\n', 'rebuilt', 'published')
 */
export function unifiedExcerpt(
  before: string,
  after: string,
  beforeName: string,
  afterName: string,
  maxLines = 40,
): string | undefined {
  if (before === after) return undefined;
  const a = splitLines(before);
  const b = splitLines(after);
  if (a.length > MAX_LINES || b.length > MAX_LINES) return undefined;
  const ops = lineOps(a, b);
  const out = [`--- ${beforeName}`, `+++ ${afterName}`];
  let i = 0;
  while (i < ops.length && out.length < maxLines) {
    if (ops[i]?.kind === ' ') {
      i++;
      continue;
    }
    // a hunk: from CONTEXT lines before this change to CONTEXT lines after the last close one
    const start = Math.max(0, i - CONTEXT);
    let end = i;
    while (end < ops.length) {
      let next = end;
      while (next < ops.length && ops[next]?.kind === ' ') next++;
      if (next >= ops.length || next - end > 2 * CONTEXT) break;
      end = next + 1;
    }
    const stop = Math.min(ops.length, end + CONTEXT);
    const hunk = ops.slice(start, stop);
    const first = hunk[0] as Op;
    const aLen = hunk.filter((o) => o.kind !== '+').length;
    const bLen = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${first.a + 1},${aLen} +${first.b + 1},${bLen} @@`);
    for (const op of hunk) out.push(`${op.kind}${clip(op.text)}`);
    i = stop;
  }
  if (out.length > maxLines) return [...out.slice(0, maxLines), '...'].join('\n');
  return out.join('\n');
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function clip(line: string): string {
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

/** The edit script from an LCS table, with each op's line index in both texts. */
function lineOps(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const table = new Uint32Array((n + 1) * (m + 1));
  const at = (i: number, j: number) => table[i * (m + 1) + j] ?? 0;
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i * (m + 1) + j] =
        a[i] === b[j] ? at(i + 1, j + 1) + 1 : Math.max(at(i + 1, j), at(i, j + 1));
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ kind: ' ', text: a[i] ?? '', a: i++, b: j++ });
    } else if (i < n && (j >= m || at(i + 1, j) >= at(i, j + 1))) {
      // removals first, as diff prints them
      ops.push({ kind: '-', text: a[i] ?? '', a: i++, b: j });
    } else {
      ops.push({ kind: '+', text: b[j] ?? '', a: i, b: j++ });
    }
  }
  return ops;
}
