/**
 * Checks on reads and writes of well-known globals: secret-looking names read from
 * `process.env`, the whole environment serialised or enumerated, browser wallet objects
 * (`window.ethereum`, `solana`, `web3`), and code that replaces `fetch` or `XMLHttpRequest` to
 * see or rewrite requests.
 */
import type { FileState } from './file-state.types';
import type { JsNode, WalkContext } from './parse';
import { asNode, dottedPath, nodesOf, propertyName, stringOf, unwrap } from './parse';
import { SECRET_NAME_RE, TOKEN_NAMES } from './strings';
import { anyOf } from './text';

const WALLET_PATHS: RegExp[] = [
  /^(window|globalThis|self|global)\.(ethereum|solana|phantom|web3|tronWeb|BinanceChain)$/,
  /(^|\.)ethereum\.(request|send|sendAsync|enable)$/,
  /(^|\.)solana\.(signTransaction|signAllTransactions|signAndSendTransaction|signMessage)$/,
  /(^|\.)web3\.eth$/,
];
/** Last parts of the wallet paths, checked before building the dotted path. */
const WALLET_NAMES = new Set([
  'ethereum',
  'solana',
  'phantom',
  'web3',
  'tronWeb',
  'BinanceChain',
  'request',
  'send',
  'sendAsync',
  'enable',
  'signTransaction',
  'signAllTransactions',
  'signAndSendTransaction',
  'signMessage',
  'eth',
]);
const INTERCEPT_RE = anyOf([
  /^(window|globalThis|self|global)\.(fetch|XMLHttpRequest|WebSocket)$/,
  /^(window\.)?XMLHttpRequest\.prototype\.(open|send|setRequestHeader)$/,
  /^(window\.)?WebSocket\.prototype\.send$/,
]);

/** `process.env.NPM_TOKEN`, `process.env['AWS_SECRET_ACCESS_KEY']`, wallet objects. */
export function checkMember(node: JsNode, ctx: WalkContext, state: FileState): void {
  const name = propertyName(node);
  if (name === undefined) return;
  const object = asNode(node.object);
  if (object?.type === 'MemberExpression' && dottedPath(object) === 'process.env') {
    checkEnvName(name, node, ctx, state);
    return;
  }
  if (!WALLET_NAMES.has(name)) return;
  const path = dottedPath(node);
  if (path === undefined) return;
  for (const re of WALLET_PATHS) {
    const match = re.exec(path);
    if (match) {
      const key = match[0].replace(/^\./, '');
      state.collector.add('JS_WALLET_HOOK', node.start, {
        key,
        once: true,
        detail: { member: key },
      });
      return;
    }
  }
}

/** `const { NPM_TOKEN } = process.env`. */
export function checkDeclarator(node: JsNode, ctx: WalkContext, state: FileState): void {
  const id = asNode(node.id);
  if (id?.type !== 'ObjectPattern' || dottedPath(asNode(node.init)) !== 'process.env') return;
  for (const property of nodesOf(id.properties)) {
    const key = asNode(property.key);
    const name = key && (key.type === 'Identifier' ? (key.name as string) : stringOf(key));
    if (name !== undefined) checkEnvName(name, property, ctx, state);
  }
}

/** `window.fetch = …`, `XMLHttpRequest.prototype.open = …`. */
export function checkAssignment(node: JsNode, ctx: WalkContext, state: FileState): void {
  const path = dottedPath(asNode(node.left));
  if (path !== undefined && INTERCEPT_RE.test(path)) {
    state.collector.add('JS_REQUEST_INTERCEPT', node.start, {
      key: path,
      scope: ctx.scope,
      once: true,
      detail: { target: path },
    });
  }
}

/** `for (const k in process.env)`. */
export function checkForIn(node: JsNode, ctx: WalkContext, state: FileState): void {
  if (dottedPath(asNode(node.right)) === 'process.env') {
    state.collector.add('JS_ENV_ENUMERATION', node.start, {
      end: asNode(node.body)?.start,
      scope: ctx.scope,
    });
  }
}

/** `JSON.stringify(process.env)` and `Object.keys(process.env)`. */
export function checkEnvCall(
  node: JsNode,
  path: string | undefined,
  args: JsNode[],
  scope: readonly number[],
  state: FileState,
): void {
  if (path === 'JSON.stringify' && mentionsEnv(args[0])) {
    state.collector.add('JS_ENV_DUMP', node.start, { end: node.end, scope });
  } else if (/^Object\.(keys|entries|values|getOwnPropertyNames)$/.test(path ?? '')) {
    if (dottedPath(args[0]) === 'process.env') {
      state.collector.add('JS_ENV_ENUMERATION', node.start, { end: node.end, scope });
    }
  }
}

/** `process.env` itself, or an object literal with it as a value. */
function mentionsEnv(node: JsNode | undefined): boolean {
  const target = unwrap(node);
  if (dottedPath(target) === 'process.env') return true;
  if (target?.type !== 'ObjectExpression') return false;
  return nodesOf(target.properties).some(
    (p) =>
      dottedPath(asNode(p.value)) === 'process.env' ||
      dottedPath(asNode(p.argument)) === 'process.env',
  );
}

function checkEnvName(name: string, node: JsNode, ctx: WalkContext, state: FileState): void {
  const known = TOKEN_NAMES.has(name);
  if (!known && !SECRET_NAME_RE.test(name)) return;
  state.collector.add('JS_TOKEN_NAME', node.start, {
    key: name,
    scope: ctx.scope,
    once: true,
    detail: { name, ...(known ? {} : { generic: true }) },
  });
}
