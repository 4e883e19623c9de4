/**
 * The syntax of strace's output lines (`strace -f -tt -y -s N --decode-pids=pidns`): the line
 * prefix, calls split across `<unfinished ...>` and `<... resumed>`, and a small recursive
 * reader for argument values (strings, structs, arrays, calls such as `htons(53)`, atoms with
 * `<path>` annotations). The text is untrusted: it echoes what sandboxed code passed to the
 * kernel, so strings are decoded as strings and never searched as syntax. Depends on nothing.
 */

export type Value =
  | { t: 'str'; bytes: Buffer; truncated: boolean }
  | { t: 'struct'; fields: Array<{ key?: string; value: Value }> }
  | { t: 'array'; items: Value[] }
  | { t: 'call'; name: string; args: Value[] }
  | { t: 'atom'; text: string; annotation?: string };

export type LineBody =
  | { kind: 'call'; name: string; args: string; ret: string }
  | { kind: 'unfinished'; name: string; head: string }
  | { kind: 'resumed'; name: string; rest: string }
  | { kind: 'exit'; code?: number; signal?: string }
  | { kind: 'other'; text: string };

export interface TraceLine {
  pid: number;
  time?: string;
  body: LineBody;
}

export interface ReturnValue {
  /** The number returned, when there is one (`?` has none). */
  value?: number;
  /** `ENOENT`, `EROFS`, ... when the call failed. */
  errno?: string;
  /** The `-y` annotation of a returned descriptor: the path the kernel resolved. */
  path?: string;
  /** With `--decode-pids=pidns`: a pid returned from inside a pid namespace, as strace sees it. */
  hostPid?: number;
}

const PREFIX = /^(\d+)\s+(?:(\d\d:\d\d:\d\d(?:\.\d+)?)\s+)?(.*)$/s;
const UNFINISHED = ' <unfinished ...>';

/** Splits one line into pid, time and what it says; `undefined` for lines that are not strace's. */
export function readLine(line: string): TraceLine | undefined {
  const m = PREFIX.exec(line);
  if (!m) return undefined;
  const pid = Number(m[1]);
  const time = m[2];
  const text = m[3] ?? '';
  return { pid, time, body: readBody(text) };
}

function readBody(text: string): LineBody {
  const exited = /^\+\+\+ exited with (\d+) \+\+\+$/.exec(text);
  if (exited) return { kind: 'exit', code: Number(exited[1]) };
  const killed = /^\+\+\+ killed by (SIG\w+)(?: \(core dumped\))? \+\+\+$/.exec(text);
  if (killed) return { kind: 'exit', signal: killed[1] };
  const resumed = /^<\.\.\. (\w+) resumed>(.*)$/s.exec(text);
  if (resumed) return { kind: 'resumed', name: resumed[1] ?? '', rest: resumed[2] ?? '' };
  const call = /^(\w+)\(/.exec(text);
  if (!call) return { kind: 'other', text };
  const name = call[1] ?? '';
  if (text.endsWith(UNFINISHED) && closingParen(text, name.length) < 0) {
    return { kind: 'unfinished', name, head: text.slice(0, -UNFINISHED.length) };
  }
  return splitCall(text, name) ?? { kind: 'other', text };
}

/** Joins an unfinished head and its resumed rest, then splits the whole call. */
export function joinResumed(head: string, rest: string, name: string): LineBody {
  return splitCall(head + rest, name) ?? { kind: 'other', text: head + rest };
}

function splitCall(text: string, name: string): LineBody | undefined {
  const close = closingParen(text, name.length);
  if (close < 0) return undefined;
  const args = text.slice(name.length + 1, close);
  const ret = text.slice(close + 1).trim();
  return { kind: 'call', name, args, ret: ret.startsWith('=') ? ret.slice(1).trim() : ret };
}

/** Index of the parenthesis closing the one at `open`, skipping strings and annotations. */
function closingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"') i = endOfString(text, i) - 1;
    else if (c === '<') i = endOfAnnotation(text, i) - 1;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return c === ')' ? i : -1;
    }
  }
  return -1;
}

/** Index just past the closing quote of the string starting at `start`. */
function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return text.length;
}

/** strace escapes `<` and `>` inside annotations, so the first `>` closes it. */
function endOfAnnotation(text: string, start: number): number {
  const end = text.indexOf('>', start + 1);
  return end < 0 ? text.length : end + 1;
}

/** Parses the return part: `0`, `-1 ENOENT (...)`, `3</path>`, `4 /* 99 in strace's PID NS *\/`. */
export function readReturn(ret: string): ReturnValue {
  const out: ReturnValue = {};
  const m = /^(-?\d+|0x[0-9a-f]+|\?)(<(?:[^>\\]|\\.)*>)?/.exec(ret);
  if (!m) return out;
  if (m[1] !== '?') out.value = Number(m[1]);
  if (m[2]) out.path = decodeText(m[2].slice(1, -1));
  const errno = /^-1 (E[A-Z0-9]+)\b/.exec(ret);
  if (errno) out.errno = errno[1];
  const host = /\/\* (\d+) in strace's PID NS \*\//.exec(ret);
  if (host) out.hostPid = Number(host[1]);
  return out;
}

/** Reads the comma-separated argument list of a call. */
export function readArgs(args: string): Value[] {
  const reader = new Reader(args);
  const out: Value[] = [];
  reader.skipSpace();
  while (!reader.done()) {
    out.push(reader.value());
    reader.skipSpace();
    if (!reader.eat(',')) break;
    reader.skipSpace();
  }
  return out;
}

class Reader {
  i = 0;
  constructor(private readonly s: string) {}

  done(): boolean {
    return this.i >= this.s.length;
  }

  skipSpace(): void {
    while (this.s[this.i] === ' ') this.i++;
  }

  eat(c: string): boolean {
    if (this.s.startsWith(c, this.i)) {
      this.i += c.length;
      return true;
    }
    return false;
  }

  value(): Value {
    this.skipSpace();
    let v = this.single();
    this.skipSpace();
    // clone3 and friends print what the kernel changed: `{...} => {...}`; keep the result
    if (this.eat('=>')) v = this.value();
    return v;
  }

  private single(): Value {
    const c = this.s[this.i];
    if (c === '"') return this.string();
    if (c === '{') return { t: 'struct', fields: this.list('}', true) as StructFields };
    if (c === '[') return { t: 'array', items: this.list(']', false) as Value[] };
    if (c === '@' && this.s[this.i + 1] === '"') {
      this.i++;
      const v = this.string();
      return v.t === 'str' ? { ...v, bytes: Buffer.concat([Buffer.from('@'), v.bytes]) } : v;
    }
    const call = /^([A-Za-z_]\w*)\(/.exec(this.s.slice(this.i, this.i + 64));
    if (call) {
      this.i += call[0].length;
      const args: Value[] = [];
      this.skipSpace();
      while (!this.done() && !this.eat(')')) {
        args.push(this.value());
        this.skipSpace();
        this.eat(',');
        this.skipSpace();
      }
      return { t: 'call', name: call[1] ?? '', args };
    }
    return this.atom();
  }

  private string(): Extract<Value, { t: 'str' }> {
    const end = endOfString(this.s, this.i);
    const bytes = decodeString(this.s.slice(this.i + 1, end - 1));
    this.i = end;
    const truncated = this.eat('...');
    return { t: 'str', bytes, truncated };
  }

  private list(close: string, keyed: boolean): StructFields | Value[] {
    this.i++;
    const fields: StructFields = [];
    const items: Value[] = [];
    this.skipSpace();
    while (!this.done() && !this.eat(close)) {
      const key = keyed ? /^([A-Za-z_]\w*)=(?!=)/.exec(this.s.slice(this.i, this.i + 64)) : null;
      if (key) this.i += key[0].length;
      const value = this.value();
      if (keyed) fields.push(key ? { key: key[1], value } : { value });
      else items.push(value);
      this.skipSpace();
      if (!this.eat(',') && !this.s.startsWith(close, this.i)) {
        // something this reader does not know: skip to the closing bracket
        const next = this.s.indexOf(close, this.i);
        this.i = next < 0 ? this.s.length : next;
      }
      this.skipSpace();
    }
    return keyed ? fields : items;
  }

  private atom(): Value {
    let text = '';
    let annotation: string | undefined;
    while (!this.done()) {
      const c = this.s[this.i] ?? '';
      if (c === ',' || c === '}' || c === ']' || c === ')') break;
      if (c === '<') {
        const end = endOfAnnotation(this.s, this.i);
        annotation = decodeText(this.s.slice(this.i + 1, end - 1));
        this.i = end;
        continue;
      }
      if (c === '/' && this.s[this.i + 1] === '*') {
        const end = this.s.indexOf('*/', this.i + 2);
        this.i = end < 0 ? this.s.length : end + 2;
        continue;
      }
      if (c === '=' && this.s[this.i + 1] === '>') break;
      text += c;
      this.i++;
    }
    return annotation === undefined
      ? { t: 'atom', text: text.trim() }
      : { t: 'atom', text: text.trim(), annotation };
  }
}

type StructFields = Array<{ key?: string; value: Value }>;

const SIMPLE_ESCAPES: Record<string, number> = {
  n: 10,
  t: 9,
  r: 13,
  v: 11,
  f: 12,
  a: 7,
  b: 8,
  '"': 34,
  '\\': 92,
  "'": 39,
  '?': 63,
};

/** Decodes the body of a C string as strace prints it (`\n`, `\303\261`, `\x41`) into bytes. */
export function decodeString(body: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c !== 92) {
      if (c < 0x80) out.push(c);
      else out.push(...Buffer.from(body[i] ?? ''));
      continue;
    }
    const next = body[i + 1] ?? '';
    const oct = /^[0-7]{1,3}/.exec(body.slice(i + 1, i + 4));
    if (oct) {
      out.push(parseInt(oct[0], 8) & 0xff);
      i += oct[0].length;
    } else if (next === 'x' && /^[0-9a-fA-F]{2}/.test(body.slice(i + 2, i + 4))) {
      out.push(parseInt(body.slice(i + 2, i + 4), 16));
      i += 3;
    } else {
      out.push(SIMPLE_ESCAPES[next] ?? next.charCodeAt(0));
      i++;
    }
  }
  return Buffer.from(out);
}

/** Decodes an escaped annotation or string body to text (invalid UTF-8 becomes U+FFFD). */
export function decodeText(body: string): string {
  return decodeString(body).toString('utf8');
}

/** The text of a string value, or of an atom's annotation when it has one. */
export function textOf(value: Value | undefined): string | undefined {
  if (!value) return undefined;
  if (value.t === 'str') return value.bytes.toString('utf8');
  return undefined;
}

/** A struct's field by key. */
export function field(value: Value | undefined, key: string): Value | undefined {
  if (value?.t !== 'struct') return undefined;
  return value.fields.find((f) => f.key === key)?.value;
}

export function atomText(value: Value | undefined): string | undefined {
  return value?.t === 'atom' ? value.text : undefined;
}

export function annotationOf(value: Value | undefined): string | undefined {
  return value?.t === 'atom' ? value.annotation : undefined;
}
