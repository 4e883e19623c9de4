/**
 * Checks on calls and `new`: code evaluated from strings (`eval`, `Function`, timers given a
 * string, `vm`, `module._compile`), decoded data evaluated or required, `child_process`,
 * network APIs and the string-array rotation of javascript-obfuscator; calls on `process.env`
 * are handed to the globals checks. Reports into the file's collector; network calls are
 * reported as `JS_NETWORK_API` and re-coded once the file's role is known.
 */
import type { CallTarget } from './bindings';
import { decodingCallOf, decodingOf } from './decoding';
import { checkEnvCall } from './globals';
import type { FileState } from './file-state.types';
import type { JsNode, WalkContext } from './parse';
import { asNode, dottedPath, nameOf, nodesOf, propertyName, stringOf, unwrap } from './parse';
import { truncate } from './text';

export const CHILD_PROCESS_METHODS = new Set([
  'exec',
  'execSync',
  'execFile',
  'execFileSync',
  'spawn',
  'spawnSync',
  'fork',
]);

/** Node's network modules and the functions of each that open a connection or look up a name. */
const NETWORK_MODULES: Record<string, ReadonlySet<string>> = {
  http: new Set(['request', 'get']),
  https: new Set(['request', 'get']),
  http2: new Set(['connect']),
  net: new Set(['connect', 'createConnection', 'Socket']),
  tls: new Set(['connect']),
  dgram: new Set(['createSocket']),
  dns: new Set(['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveTxt']),
  'dns/promises': new Set(['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveTxt']),
};
/** HTTP clients from the registry: any call on them is a request. */
const HTTP_CLIENTS = new Set([
  'axios',
  'node-fetch',
  'got',
  'request',
  'undici',
  'superagent',
  'needle',
  'cross-fetch',
  'ws',
]);
const BROWSER_NETWORK = new Set(['fetch', 'XMLHttpRequest', 'WebSocket', 'EventSource']);
const GLOBAL_OBJECTS = /^(window|self|global|globalThis)\./;
const VM_FUNCTIONS = new Set([
  'runInThisContext',
  'runInNewContext',
  'runInContext',
  'compileFunction',
  'Script',
  'SourceTextModule',
]);
const SHELL_RE = /\b(curl|wget|powershell|bash\s+-c|sh\s+-c|nc\s+-e)\b|\|\s*(ba)?sh\b/;

type Sink = 'eval' | 'Function' | 'timer' | 'vm' | 'compile' | 'require' | 'import';

export function checkCall(node: JsNode, ctx: WalkContext, state: FileState): void {
  const callee = asNode(node.callee);
  const args = nodesOf(node.arguments);
  const scope = ctx.scope;
  const path = dottedPath(callee);
  if (path === 'parseInt') state.parseIntScopes.add(scope[scope.length - 1] ?? 0);

  const sink = sinkOf(node, callee, path, state, scope);
  if (sink) checkSink(node, sink, sink === 'Function' ? args : args.slice(0, 1), ctx, state);

  checkDecodedName(node, callee, ctx, state);
  const target = state.bindings.targetOf(callee, scope);
  if (target) {
    checkChildProcess(node, target, args, scope, state);
    checkNetwork(node, target, path, ctx, state);
  }
  checkEnvCall(node, path, args, scope, state);
  checkRotation(node, callee, args, ctx, state);
  if (
    path === 'Object.defineProperty' &&
    /^(window|globalThis|self)$/.test(dottedPath(args[0]) ?? '')
  ) {
    const name = stringOf(args[1]);
    if (name && /^(ethereum|solana|phantom|web3|tronWeb)$/.test(name)) {
      state.collector.add('JS_WALLET_HOOK', node.start, { key: `define:${name}`, once: true });
    }
  }
}

/** `import(x)`: only a decoded specifier matters. */
export function checkImportExpression(node: JsNode, ctx: WalkContext, state: FileState): void {
  const source = asNode(node.source);
  const literal = stringOf(source);
  if (literal !== undefined) state.requires.add(literal);
  else if (source) checkSink(node, 'import', [source], ctx, state);
}

function sinkOf(
  node: JsNode,
  callee: JsNode | undefined,
  path: string | undefined,
  state: FileState,
  scope: readonly number[],
): Sink | undefined {
  const bare = path?.replace(GLOBAL_OBJECTS, '');
  if (bare === 'eval') {
    // a local function called eval is not the global one
    return path !== 'eval' || state.bindings.valuesOf(scope, 'eval').length === 0
      ? 'eval'
      : undefined;
  }
  if (bare === 'Function') return 'Function';
  if (bare === 'setTimeout' || bare === 'setInterval') return 'timer';
  if (state.bindings.isRequire(callee, scope)) return 'require';
  const target = unwrap(callee);
  if (target?.type === 'MemberExpression') {
    const name = propertyName(target);
    if (name === '_compile') return 'compile';
    const object = unwrap(asNode(target.object));
    if (name === 'constructor' && object?.type === 'MemberExpression') {
      if (propertyName(object) === 'constructor') return 'Function';
    }
  }
  const resolved = state.bindings.targetOf(callee, scope);
  if (resolved?.module === 'vm' && VM_FUNCTIONS.has(resolved.name)) return 'vm';
  return node.type === 'NewExpression' && bare === 'vm.Script' ? 'vm' : undefined;
}

function checkSink(
  node: JsNode,
  sink: Sink,
  codeArgs: JsNode[],
  ctx: WalkContext,
  state: FileState,
): void {
  if (codeArgs.length === 0) return;
  const { collector, bindings } = state;
  const scope = ctx.scope;
  const literals = codeArgs.map((a) => stringOf(a));
  if (literals.every((l) => l !== undefined)) {
    if (sink === 'require') state.requires.add(literals[0]!);
    // a literal is trivial code, but read it as code all the same
    const body = literals[literals.length - 1]!;
    if ((sink === 'eval' || sink === 'Function' || sink === 'vm') && body.length >= 16) {
      if (collector.depth < 2) {
        const nested = collector.nested(body, node.start, `${sink} string`);
        state.strings.analyseNested(nested, body);
      }
    }
    return;
  }
  for (const arg of codeArgs) {
    const decoding = decodingOf(bindings, arg, scope);
    if (decoding) {
      collector.add('JS_DECODED_EXEC', node.start, {
        end: node.end,
        scope,
        detail: {
          sink: sinkName(sink),
          decoder: decoding.via,
          ...(decoding.text === undefined ? {} : { decoded: truncate(decoding.text, 200) }),
        },
      });
      // a decoded module name is not code; a decoded program is
      if (decoding.text && collector.depth < 2 && sink !== 'require' && sink !== 'import') {
        const nested = collector.nested(decoding.text, node.start, 'decoded');
        state.strings.analyseNested(nested, decoding.text);
      }
      return;
    }
  }
  if (sink === 'require' || sink === 'import') return;
  if (sink === 'timer' && !isStringish(codeArgs[0], state, scope)) return;
  collector.add('JS_DYNAMIC_CODE', node.start, {
    end: node.end,
    scope,
    detail: { sink: sinkName(sink) },
  });
}

/** `f[decode('…')](…)`: a method whose name is hidden (flatmap-stream called `_compile` so). */
function checkDecodedName(
  node: JsNode,
  callee: JsNode | undefined,
  ctx: WalkContext,
  state: FileState,
): void {
  const target = unwrap(callee);
  if (target?.type !== 'MemberExpression' || target.computed !== true) return;
  const property = asNode(target.property);
  if (!property || property.type === 'Literal' || property.type === 'Identifier') return;
  const decoding = decodingCallOf(state.bindings, property, ctx.scope);
  if (!decoding) return;
  state.collector.add('JS_DECODED_EXEC', node.start, {
    end: node.end,
    scope: ctx.scope,
    detail: {
      sink: 'method named by decoded data',
      decoder: decoding.via,
      ...(decoding.text === undefined ? {} : { decoded: truncate(decoding.text, 200) }),
    },
  });
}

function sinkName(sink: Sink): string {
  return sink === 'timer' ? 'setTimeout(string)' : sink === 'compile' ? 'module._compile' : sink;
}

/** Strings built at run time: templates with substitutions, `+` with a string, `.join()`. */
function isStringish(
  node: JsNode | undefined,
  state: FileState,
  scope: readonly number[],
  depth = 0,
): boolean {
  const target = unwrap(node);
  if (!target || depth > 3) return false;
  switch (target.type) {
    case 'Literal':
      return typeof target.value === 'string';
    case 'TemplateLiteral':
      return true;
    case 'BinaryExpression':
      return (
        target.operator === '+' &&
        (isStringish(asNode(target.left), state, scope, depth + 1) ||
          isStringish(asNode(target.right), state, scope, depth + 1))
      );
    case 'CallExpression': {
      const callee = asNode(target.callee);
      const name = callee?.type === 'MemberExpression' ? propertyName(callee) : nameOf(callee);
      return /^(join|concat|replace|toString|String|fromCharCode|atob|decodeURIComponent)$/.test(
        name ?? '',
      );
    }
    case 'Identifier':
      return state.bindings
        .valuesOf(scope, nameOf(target)!)
        .some((v) => isStringish(v, state, scope, depth + 1));
    default:
      return false;
  }
}

function checkChildProcess(
  node: JsNode,
  target: CallTarget,
  args: JsNode[],
  scope: readonly number[],
  state: FileState,
): void {
  if (target.module !== 'child_process' || !CHILD_PROCESS_METHODS.has(target.name)) return;
  state.childProcessCalls += 1;
  const command = stringOf(args[0]);
  const parts = [command, ...nodesOf(args[1]?.elements).map((e) => stringOf(e))];
  const line = parts.filter((p) => p !== undefined).join(' ');
  const shell = SHELL_RE.test(line);
  const detail: Record<string, unknown> = { method: target.name };
  if (line !== '') detail.command = truncate(line, 200);
  if (shell) detail.shell = true;
  state.collector.add('JS_CHILD_PROCESS', node.start, {
    end: node.end,
    scope,
    severity: shell ? 'medium' : undefined,
    detail,
  });
}

function checkNetwork(
  node: JsNode,
  target: CallTarget,
  path: string | undefined,
  ctx: WalkContext,
  state: FileState,
): void {
  let api: string | undefined;
  // `cache.fetch()` is not the global fetch: a global is called bare or on a global object
  const global = path === target.name || path?.replace(GLOBAL_OBJECTS, '') === target.name;
  if (target.module !== undefined) {
    const known = NETWORK_MODULES[target.module];
    if (known?.has(target.name)) api = `${target.module}.${target.name}`;
    else if (HTTP_CLIENTS.has(target.module)) api = target.module;
  } else if (BROWSER_NETWORK.has(target.name) && (global || nameOf(unwrap(asNode(node.callee))))) {
    api = target.name;
  } else if (path === 'navigator.sendBeacon') {
    api = 'navigator.sendBeacon';
  }
  if (api === undefined) return;
  state.collector.add('JS_NETWORK_API', node.start, {
    key: api,
    scope: ctx.scope,
    detail: { api, onLoad: ctx.onLoad },
  });
}

/** javascript-obfuscator shuffles its string table with `arr.push(arr.shift())` in a loop. */
function checkRotation(
  node: JsNode,
  callee: JsNode | undefined,
  args: JsNode[],
  ctx: WalkContext,
  state: FileState,
): void {
  if (!ctx.inLoop || callee?.type !== 'MemberExpression' || propertyName(callee) !== 'push') return;
  const inner = unwrap(args[0]);
  const innerCallee = asNode(inner?.callee);
  if (inner?.type !== 'CallExpression' || innerCallee?.type !== 'MemberExpression') return;
  if (propertyName(innerCallee) !== 'shift') return;
  const array = dottedPath(asNode(callee.object));
  if (array !== undefined && array === dottedPath(asNode(innerCallee.object))) {
    state.rotations.push({ at: node.start, scope: ctx.scope });
  }
}
