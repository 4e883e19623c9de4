/**
 * Whether an expression is decoded data, without running anything: decoding calls (base64 and
 * hex through `Buffer.from` or `atob`, char codes, escapes, zlib, deciphering, reversed
 * strings), string operations on them, names bound to them, and functions of the file that
 * return them (flatmap-stream's `function e(r) { return Buffer.from(r, 'hex').toString() }`).
 * A literal input is decoded for the report. Follows names through `Bindings`, a few steps.
 */
import type { Bindings } from './bindings';
import type { JsNode } from './parse';
import { asNode, dottedPath, nameOf, nodesOf, propertyName, stringOf, unwrap } from './parse';

export interface Decoding {
  /** How the data is decoded, for the report: `Buffer.from(…, 'base64')`, `atob`, … */
  via: string;
  /** The decoded text, when the encoded input is a literal. */
  text?: string;
  /** The same decoding applied to another input, when it is a plain one (base64, hex). */
  decode?: (input: string) => string | undefined;
}

const MAX_DEPTH = 4;
const FUNCTION_RE = /^(FunctionDeclaration|FunctionExpression|ArrowFunctionExpression)$/;
/** Calls that keep decoded data decoded: the string operations around a decoder. */
const STRING_METHODS = new Set([
  'toString',
  'join',
  'concat',
  'replace',
  'replaceAll',
  'slice',
  'substring',
  'substr',
  'trim',
  'split',
  'reverse',
  'padStart',
  'padEnd',
]);
const ZLIB_DECODERS = new Set([
  'inflateSync',
  'inflateRawSync',
  'gunzipSync',
  'unzipSync',
  'brotliDecompressSync',
]);

/**
 * A call of a function of the file that returns decoded data (`function e(r) { return
 * Buffer.from(r, 'hex').toString() }`, as flatmap-stream had): a decoding too.
 */
function decoderCall(
  bindings: Bindings,
  node: JsNode,
  scope: readonly number[],
  depth: number,
): Decoding | undefined {
  if (node.type !== 'CallExpression' || depth >= MAX_DEPTH) return undefined;
  const name = nameOf(asNode(node.callee));
  if (name === undefined) return undefined;
  for (const fn of bindings.valuesOf(scope, name)) {
    if (!FUNCTION_RE.test(fn.type)) continue;
    const { returns, locals } = toFunctionBody(fn);
    for (const returned of returns) {
      const inner = decodingOf(bindings, returned, scope, depth + 1, locals);
      if (!inner) continue;
      const input = bindings.literalOf(nodesOf(node.arguments)[0], scope);
      const text = input === undefined ? undefined : inner.decode?.(input);
      return { via: `${name}(), which uses ${inner.via}`, text, decode: inner.decode };
    }
  }
  return undefined;
}

/** A decoding call itself, or `.toString()` of one: what a hidden method name is made of. */
export function decodingCallOf(
  bindings: Bindings,
  node: JsNode | undefined,
  scope: readonly number[],
): Decoding | undefined {
  let current = unwrap(node);
  for (let i = 0; i < 4 && current?.type === 'CallExpression'; i++) {
    const found =
      decodeCall(current, (n) => bindings.literalOf(n, scope)) ??
      decoderCall(bindings, current, scope, 0);
    if (found) return found;
    const callee = asNode(current.callee);
    if (callee?.type !== 'MemberExpression' || !STRING_METHODS.has(propertyName(callee) ?? '')) {
      return undefined;
    }
    current = unwrap(asNode(callee.object));
  }
  return undefined;
}

/**
 * Whether an expression's value is decoded data: a decoding call, string operations on one
 * (`.toString()`, `+`, `.join()`), or a name bound to one, followed a few steps. Arguments of
 * other calls are not followed: passing decoded data somewhere does not make the result code.
 */
export function decodingOf(
  bindings: Bindings,
  node: JsNode | undefined,
  scope: readonly number[],
  depth = 0,
  locals?: ReadonlyMap<string, JsNode[]>,
): Decoding | undefined {
  if (!node || depth > MAX_DEPTH) return undefined;
  const stack: JsNode[] = [node];
  let visited = 0;
  while (stack.length > 0 && visited++ < 400) {
    const current = stack.pop()!;
    const push = (...keys: string[]) => {
      for (const key of keys) {
        const value = current[key];
        for (const child of Array.isArray(value) ? nodesOf(value) : [asNode(value)]) {
          if (child) stack.push(child);
        }
      }
    };
    switch (current.type) {
      case 'CallExpression': {
        const found =
          decodeCall(current, (n) => bindings.literalOf(n, scope)) ??
          decoderCall(bindings, current, scope, depth);
        if (found) return found;
        const callee = asNode(current.callee);
        push('callee');
        const method = callee?.type === 'MemberExpression' ? propertyName(callee) : nameOf(callee);
        if (STRING_METHODS.has(method ?? '') || method === 'String') push('arguments');
        break;
      }
      case 'NewExpression': {
        const found = decodeCall(current, (n) => bindings.literalOf(n, scope));
        if (found) return found;
        break;
      }
      case 'Identifier': {
        const name = nameOf(current)!;
        for (const value of locals?.get(name) ?? bindings.valuesOf(scope, name)) {
          const inner = decodingOf(bindings, value, scope, depth + 1, locals);
          if (inner) return inner;
        }
        break;
      }
      case 'MemberExpression':
        push('object');
        break;
      case 'BinaryExpression':
      case 'LogicalExpression':
      case 'AssignmentExpression':
        push('left', 'right');
        break;
      case 'ConditionalExpression':
        push('consequent', 'alternate');
        break;
      case 'SequenceExpression':
      case 'TemplateLiteral':
        push('expressions');
        break;
      case 'ArrayExpression':
        push('elements');
        break;
      case 'AwaitExpression':
      case 'SpreadElement':
        push('argument');
        break;
      case 'ParenthesizedExpression':
      case 'ChainExpression':
        push('expression');
        break;
    }
  }
  return undefined;
}

/** What a function returns, and the names its body assigns (outside nested functions). */
function toFunctionBody(fn: JsNode): { returns: JsNode[]; locals: Map<string, JsNode[]> } {
  const returns: JsNode[] = [];
  const locals = new Map<string, JsNode[]>();
  const body = asNode(fn.body);
  if (!body) return { returns, locals };
  if (body.type !== 'BlockStatement') return { returns: [body], locals };
  const stack: JsNode[] = [body];
  let visited = 0;
  while (stack.length > 0 && visited++ < 300) {
    const node = stack.pop()!;
    if (FUNCTION_RE.test(node.type)) continue;
    const returned = node.type === 'ReturnStatement' ? asNode(node.argument) : undefined;
    if (returned) returns.push(returned);
    const name =
      node.type === 'VariableDeclarator'
        ? nameOf(asNode(node.id))
        : node.type === 'AssignmentExpression'
          ? nameOf(asNode(node.left))
          : undefined;
    const value = asNode(node.type === 'VariableDeclarator' ? node.init : node.right);
    if (name !== undefined && value) locals.set(name, [...(locals.get(name) ?? []), value]);
    for (const key in node) {
      const child = node[key];
      for (const item of Array.isArray(child) ? nodesOf(child) : [asNode(child)]) {
        if (item) stack.push(item);
      }
    }
  }
  return { returns, locals };
}

/** A call that turns encoded data into bytes or text. */
function decodeCall(
  node: JsNode,
  literalOf: (node: JsNode | undefined) => string | undefined,
): Decoding | undefined {
  if (node.type !== 'CallExpression' && node.type !== 'NewExpression') return undefined;
  const callee = asNode(node.callee);
  const path = dottedPath(callee) ?? '';
  const last = path.slice(path.lastIndexOf('.') + 1);
  const args = nodesOf(node.arguments);
  const first = literalOf(args[0]);
  if (/^Buffer(\.from)?$/.test(path)) {
    const encoding = stringOf(args[1]);
    if (!encoding || !/^(base64|base64url|hex)$/.test(encoding)) return undefined;
    const decode = (input: string) =>
      Buffer.from(input, encoding as BufferEncoding).toString('utf8');
    return {
      via: `Buffer.from(…, '${encoding}')`,
      text: first === undefined ? undefined : decode(first),
      decode,
    };
  }
  if (last === 'atob' && (path === 'atob' || /^(window|self|globalThis|global)\./.test(path))) {
    const decode = (input: string) => Buffer.from(input, 'base64').toString('utf8');
    return { via: 'atob', text: first === undefined ? undefined : decode(first), decode };
  }
  if (path === 'String.fromCharCode' || path === 'String.fromCharCode.apply') {
    const spread = args.some((a) => a.type === 'SpreadElement') || last === 'apply';
    if (!spread && args.length < 4) return undefined;
    const codes = args.map((a) => (a.type === 'Literal' ? a.value : undefined));
    const text = codes.every((c) => typeof c === 'number')
      ? String.fromCharCode(...(codes as number[]))
      : undefined;
    return { via: 'String.fromCharCode', text };
  }
  // only a literal full of escapes hides something; unescape(encodeURIComponent(s)) is UTF-8
  if (
    (path === 'unescape' || path === 'decodeURIComponent') &&
    /(%[0-9a-f]{2}){8}/i.test(first ?? '')
  ) {
    return { via: path, text: first && decodeURIComponentSafe(first) };
  }
  if (ZLIB_DECODERS.has(last)) return { via: `zlib.${last}` };
  if (last === 'createDecipheriv' || last === 'createDecipher') return { via: 'crypto decipher' };
  if (last === 'join' && callee?.type === 'MemberExpression') {
    const reversed = unwrap(asNode(callee.object));
    if (reversed?.type === 'CallExpression') {
      const inner = asNode(reversed.callee);
      if (inner?.type === 'MemberExpression' && propertyName(inner) === 'reverse') {
        return { via: 'reversed string' };
      }
    }
  }
  return undefined;
}

function decodeURIComponentSafe(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
