/**
 * Parsing with acorn and walking the tree without recursion (minified code nests deeply). The
 * walk tells each visitor which functions enclose a node and whether they all run as soon as the
 * module loads (top level, immediately invoked, or handed to a timer). Syntax errors are returned,
 * never thrown. Depends on acorn (already installed through eslint's espree).
 */
import { parse } from 'acorn';
import type { Options } from 'acorn';

/** An ESTree node, read loosely: package code is untrusted and fields are checked where used. */
export interface JsNode {
  type: string;
  start: number;
  end: number;
  [field: string]: unknown;
}

export interface WalkContext {
  /** Ids of the enclosing functions, outermost first; `0` is the program. */
  scope: readonly number[];
  /** Every enclosing function runs when the module is loaded. */
  onLoad: boolean;
  /** Inside a loop of the nearest enclosing function. */
  inLoop: boolean;
}

export type Visitor = (node: JsNode, parent: JsNode | undefined, ctx: WalkContext) => void;

const BASE_OPTIONS: Options = {
  ecmaVersion: 'latest',
  allowHashBang: true,
  allowReturnOutsideFunction: true,
  allowAwaitOutsideFunction: true,
  allowImportExportEverywhere: true,
  allowReserved: true,
};

const FUNCTIONS = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);
const LOOPS = new Set([
  'ForStatement',
  'ForInStatement',
  'ForOfStatement',
  'WhileStatement',
  'DoWhileStatement',
]);
/** Where each ESTree node keeps its children, in source order; others are searched. */
const CHILD_KEYS: Record<string, readonly string[]> = {
  Program: ['body'],
  ExpressionStatement: ['expression'],
  BlockStatement: ['body'],
  StaticBlock: ['body'],
  ReturnStatement: ['argument'],
  IfStatement: ['test', 'consequent', 'alternate'],
  SwitchStatement: ['discriminant', 'cases'],
  SwitchCase: ['test', 'consequent'],
  ThrowStatement: ['argument'],
  TryStatement: ['block', 'handler', 'finalizer'],
  CatchClause: ['param', 'body'],
  WhileStatement: ['test', 'body'],
  DoWhileStatement: ['body', 'test'],
  ForStatement: ['init', 'test', 'update', 'body'],
  ForInStatement: ['left', 'right', 'body'],
  ForOfStatement: ['left', 'right', 'body'],
  LabeledStatement: ['body'],
  FunctionDeclaration: ['id', 'params', 'body'],
  FunctionExpression: ['id', 'params', 'body'],
  ArrowFunctionExpression: ['params', 'body'],
  VariableDeclaration: ['declarations'],
  VariableDeclarator: ['id', 'init'],
  ArrayExpression: ['elements'],
  ObjectExpression: ['properties'],
  Property: ['key', 'value'],
  UnaryExpression: ['argument'],
  UpdateExpression: ['argument'],
  BinaryExpression: ['left', 'right'],
  LogicalExpression: ['left', 'right'],
  AssignmentExpression: ['left', 'right'],
  MemberExpression: ['object', 'property'],
  ConditionalExpression: ['test', 'consequent', 'alternate'],
  CallExpression: ['callee', 'arguments'],
  NewExpression: ['callee', 'arguments'],
  SequenceExpression: ['expressions'],
  YieldExpression: ['argument'],
  AwaitExpression: ['argument'],
  SpreadElement: ['argument'],
  RestElement: ['argument'],
  TemplateLiteral: ['quasis', 'expressions'],
  TaggedTemplateExpression: ['tag', 'quasi'],
  ObjectPattern: ['properties'],
  ArrayPattern: ['elements'],
  AssignmentPattern: ['left', 'right'],
  ClassDeclaration: ['id', 'superClass', 'body'],
  ClassExpression: ['id', 'superClass', 'body'],
  ClassBody: ['body'],
  MethodDefinition: ['key', 'value'],
  PropertyDefinition: ['key', 'value'],
  ChainExpression: ['expression'],
  ParenthesizedExpression: ['expression'],
  Identifier: [],
  Literal: [],
  ThisExpression: [],
  Super: [],
  TemplateElement: [],
  EmptyStatement: [],
  BreakStatement: [],
  ContinueStatement: [],
  DebuggerStatement: [],
  PrivateIdentifier: [],
};
/** Callbacks these run soon after load, with no caller involved. */
const DEFERRED = new Set([
  'setTimeout',
  'setInterval',
  'setImmediate',
  'nextTick',
  'queueMicrotask',
]);

/** Parses as a module or a script, whichever works first; else the error of the likelier. */
export function parseJs(text: string, preferModule: boolean): JsNode | Error {
  const order = preferModule ? (['module', 'script'] as const) : (['script', 'module'] as const);
  let first: Error | undefined;
  for (const sourceType of order) {
    try {
      return parse(text, { ...BASE_OPTIONS, sourceType }) as unknown as JsNode;
    } catch (err) {
      first ??= err instanceof Error ? err : new Error(String(err));
    }
  }
  return first ?? new Error('unparsable');
}

/** Visits every node in source order, parents before children. */
export function walk(root: JsNode, visit: Visitor): void {
  const immediate = new WeakSet<JsNode>();
  let nextScope = 1;
  // three parallel stacks: no object per visited node
  const nodes: JsNode[] = [root];
  const parents: Array<JsNode | undefined> = [undefined];
  const contexts: WalkContext[] = [{ scope: [0], onLoad: true, inLoop: false }];
  const kids: JsNode[] = [];
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    const parent = parents.pop();
    const ctx = contexts.pop()!;
    visit(node, parent, ctx);
    if (node.type === 'CallExpression' || node.type === 'NewExpression') {
      markImmediate(node, immediate);
    }
    let inner = ctx;
    if (FUNCTIONS.has(node.type)) {
      inner = {
        scope: [...ctx.scope, nextScope++],
        onLoad: ctx.onLoad && immediate.has(node),
        inLoop: false,
      };
    } else if (LOOPS.has(node.type)) {
      inner = { ...ctx, inLoop: true };
    }
    kids.length = 0;
    childrenOf(node, kids);
    for (let i = kids.length - 1; i >= 0; i--) {
      nodes.push(kids[i]!);
      parents.push(node);
      contexts.push(inner);
    }
  }
}

function markImmediate(call: JsNode, immediate: WeakSet<JsNode>): void {
  let callee = asNode(call.callee);
  // fn.call(…) and fn.apply(…) run fn too
  if (callee?.type === 'MemberExpression' && /^(call|apply)$/.test(propertyName(callee) ?? '')) {
    callee = asNode(callee.object);
  }
  if (callee && FUNCTIONS.has(callee.type)) immediate.add(callee);
  const name =
    callee && (callee.type === 'MemberExpression' ? propertyName(callee) : nameOf(callee));
  if (name && DEFERRED.has(name)) {
    for (const arg of nodesOf(call.arguments)) if (FUNCTIONS.has(arg.type)) immediate.add(arg);
  }
}

function childrenOf(node: JsNode, out: JsNode[]): void {
  const keys = CHILD_KEYS[node.type];
  if (keys) {
    for (const key of keys) pushChild(node[key], out);
    return;
  }
  for (const key in node) pushChild(node[key], out);
}

function pushChild(value: unknown, out: JsNode[]): void {
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) if (isNode(item)) out.push(item);
  } else if (isNode(value)) {
    out.push(value);
  }
}

export function isNode(value: unknown): value is JsNode {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { type?: unknown }).type === 'string' &&
    typeof (value as { start?: unknown }).start === 'number'
  );
}

export function asNode(value: unknown): JsNode | undefined {
  return isNode(value) ? value : undefined;
}

export function nodesOf(value: unknown): JsNode[] {
  return Array.isArray(value) ? value.filter(isNode) : [];
}

/** The name of an Identifier, else undefined. */
export function nameOf(node: JsNode | undefined): string | undefined {
  return node?.type === 'Identifier' && typeof node.name === 'string' ? node.name : undefined;
}

/** The value of a string literal or of a template literal without substitutions. */
export function stringOf(node: JsNode | undefined): string | undefined {
  if (!node) return undefined;
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral' && nodesOf(node.expressions).length === 0) {
    const quasi = nodesOf(node.quasis)[0];
    const cooked = (quasi?.value as { cooked?: unknown } | undefined)?.cooked;
    return typeof cooked === 'string' ? cooked : undefined;
  }
  return undefined;
}

/** `a.b` and `a['b']` both give `b`; other computed members give undefined. */
export function propertyName(member: JsNode): string | undefined {
  const property = asNode(member.property);
  if (!property) return undefined;
  return member.computed === true ? stringOf(property) : nameOf(property);
}

/** `(0, x)` and `(x)` give x: bundlers call imported functions through a comma expression. */
export function unwrap(node: JsNode | undefined): JsNode | undefined {
  let current = node;
  while (current?.type === 'SequenceExpression' || current?.type === 'ParenthesizedExpression') {
    const list = nodesOf(current.expressions);
    current =
      current.type === 'SequenceExpression' ? list[list.length - 1] : asNode(current.expression);
  }
  return current;
}

/** `a.b.c` as a dotted path when every part is a plain name, for matching known globals. */
export function dottedPath(node: JsNode | undefined, depth = 0): string | undefined {
  const target = unwrap(node);
  if (!target || depth > 6) return undefined;
  if (target.type === 'Identifier') return nameOf(target);
  if (target.type === 'ThisExpression') return 'this';
  if (target.type !== 'MemberExpression') return undefined;
  const object = dottedPath(asNode(target.object), depth + 1);
  const property = propertyName(target);
  return object !== undefined && property !== undefined ? `${object}.${property}` : undefined;
}
