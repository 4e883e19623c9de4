/**
 * Analysing one file: parse it (or fall back to patterns), walk the tree once, hand each node to
 * the checks, then judge what needs the whole file (hex-mangled names, string-array rotation,
 * lists of wallet addresses, `child_process` imported but not called where we could see).
 * Text found inside the file that is code (evaluated literals, decoded payloads) is analysed the
 * same way, reported at the outer position. Never throws for what the file contains.
 */
import { Bindings, toModuleName } from './bindings';
import type { ImportBinding } from './bindings';
import { checkCall, checkImportExpression } from './calls';
import { SignalCollector } from './collector';
import type { SignalCode, JsSignal } from './signal.types';
import { scanWithPatterns } from './fallback';
import type { FileState } from './file-state.types';
import { checkAssignment, checkDeclarator, checkForIn, checkMember } from './globals';
import { checkLayout } from './layout';
import type { ResolvedOptions } from './options';
import type { JsNode, WalkContext } from './parse';
import { asNode, nameOf, nodesOf, parseJs, stringOf, walk } from './parse';
import { checkPattern, checkString } from './strings';

export interface FileAnalysis {
  signals: JsSignal[];
  /** Module specifiers the file loads statically. */
  requires: string[];
  parsed: boolean;
  minified: boolean;
  /** Occurrences not kept because one code passed its per-file cap. */
  dropped: Partial<Record<SignalCode, number>>;
}

const HEX_NAME_RE = /^_0x[0-9a-f]{3,}$/i;
const FUNCTIONS = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

/**
 * Analyses one file's text. Signals carry no role yet (the package step sets it) and network
 * calls are all `JS_NETWORK_API`, with `detail.onLoad` saying whether they run at load.
 * @example analyseFile('index.js', "eval(atob(x))", toResolvedOptions(), new Set())
 */
export function analyseFile(
  file: string,
  text: string,
  options: ResolvedOptions,
  ownHosts: ReadonlySet<string>,
): FileAnalysis {
  const collector = new SignalCollector(file, text);
  const { minified } = checkLayout(file, text, collector, options);
  const state = analyseCode(collector, text, options, ownHosts, /\.mjs$/.test(file));
  return {
    signals: collector.signals,
    requires: [...state.requires],
    parsed: !collector.signals.some((s) => s.code === 'JS_PARSE_FAILED'),
    minified,
    dropped: Object.fromEntries(collector.dropped),
  };
}

function analyseCode(
  collector: SignalCollector,
  text: string,
  options: ResolvedOptions,
  ownHosts: ReadonlySet<string>,
  preferModule: boolean,
): FileState {
  const state: FileState = {
    collector,
    bindings: new Bindings(),
    options,
    requires: new Set(),
    childProcessImports: [],
    childProcessCalls: 0,
    hexNames: new Map(),
    rotations: [],
    parseIntScopes: new Set(),
    strings: {
      collector,
      options,
      ownHosts,
      addresses: new Map(),
      analyseNested: (nested, code) => void analyseCode(nested, code, options, ownHosts, false),
    },
  };
  const ast = parseJs(text, preferModule || /\b(import|export)\b/.test(text.slice(0, 4096)));
  if (ast instanceof Error) {
    scanWithPatterns(text, state, ast.message);
  } else {
    walk(ast, (node, parent, ctx) => visit(node, parent, ctx, state));
  }
  finish(state);
  return state;
}

function visit(node: JsNode, parent: JsNode | undefined, ctx: WalkContext, state: FileState): void {
  const { bindings } = state;
  switch (node.type) {
    case 'CallExpression':
    case 'NewExpression': {
      const module = bindings.requiredModule(node, ctx.scope);
      if (module !== undefined) noteModule(module, node.start, state);
      checkCall(node, ctx, state);
      break;
    }
    case 'ImportExpression':
      checkImportExpression(node, ctx, state);
      break;
    case 'ImportDeclaration':
      declareImports(node, ctx, state);
      break;
    case 'ExportNamedDeclaration':
    case 'ExportAllDeclaration': {
      const source = stringOf(asNode(node.source));
      if (source !== undefined) state.requires.add(source);
      break;
    }
    case 'VariableDeclarator':
      declareVariable(node, ctx, state);
      checkDeclarator(node, ctx, state);
      break;
    case 'AssignmentExpression': {
      const left = nameOf(asNode(node.left));
      const right = asNode(node.right);
      if (left !== undefined && right && node.operator === '=') {
        bindings.declare(ctx.scope, left, right);
      }
      checkAssignment(node, ctx, state);
      break;
    }
    case 'FunctionDeclaration': {
      // the name belongs to the enclosing function; the walk gives us the outer context here
      const name = nameOf(asNode(node.id));
      if (name !== undefined) bindings.declare(ctx.scope, name, node);
      break;
    }
    case 'Identifier': {
      const name = node.name as string;
      if (parent && FUNCTIONS.has(parent.type) && nodesOf(parent.params).includes(node)) {
        bindings.declare(ctx.scope, name, { type: '#param', start: node.start, end: node.end });
      }
      if (HEX_NAME_RE.test(name) && !state.hexNames.has(name)) state.hexNames.set(name, node.start);
      break;
    }
    case 'MemberExpression':
      checkMember(node, ctx, state);
      break;
    case 'ForInStatement':
      checkForIn(node, ctx, state);
      break;
    case 'Literal': {
      state.strings.scope = ctx.scope;
      if (typeof node.value === 'string') {
        checkString(node.value, node.start, node.end, state.strings);
      } else if (node.regex) {
        checkPattern((node.regex as { pattern: string }).pattern, node.start, state.strings);
      }
      break;
    }
    case 'TemplateElement': {
      const cooked = (node.value as { cooked?: unknown } | undefined)?.cooked;
      state.strings.scope = ctx.scope;
      if (typeof cooked === 'string') checkString(cooked, node.start, node.end, state.strings);
      break;
    }
  }
}

function declareVariable(node: JsNode, ctx: WalkContext, state: FileState): void {
  const id = asNode(node.id);
  const init = asNode(node.init);
  if (!id || !init) return;
  if (id.type === 'Identifier') {
    state.bindings.declare(ctx.scope, id.name as string, init);
    return;
  }
  if (id.type !== 'ObjectPattern') return;
  // const { exec } = require('child_process') reads as exec = require('child_process').exec
  for (const property of nodesOf(id.properties)) {
    const key = asNode(property.key);
    const value = asNode(property.value);
    const name = nameOf(value);
    if (!key || name === undefined) continue;
    const member: JsNode = {
      type: 'MemberExpression',
      start: property.start,
      end: property.end,
      object: init,
      property: key,
      computed: property.computed === true,
    };
    state.bindings.declare(ctx.scope, name, member);
  }
}

function declareImports(node: JsNode, ctx: WalkContext, state: FileState): void {
  const module = toModuleName(stringOf(asNode(node.source)));
  if (module === undefined) return;
  state.requires.add(module);
  noteModule(module, node.start, state);
  for (const specifier of nodesOf(node.specifiers)) {
    const local = nameOf(asNode(specifier.local));
    if (local === undefined) continue;
    const binding: ImportBinding = {
      type: '#import',
      start: specifier.start,
      end: specifier.end,
      module,
    };
    if (specifier.type === 'ImportSpecifier') {
      const imported = asNode(specifier.imported);
      binding.imported = nameOf(imported) ?? stringOf(imported);
      if (binding.imported === 'default') delete binding.imported;
    }
    state.bindings.declare(ctx.scope, local, binding);
  }
}

function noteModule(module: string, at: number, state: FileState): void {
  state.requires.add(module);
  if (module === 'child_process') state.childProcessImports.push(at);
}

/** What can only be judged once the whole file has been read. */
function finish(state: FileState): void {
  const { collector, options } = state;
  if (state.hexNames.size >= options.hexIdentifiers) {
    collector.add('JS_HEX_IDENTIFIERS', firstOf(state.hexNames), {
      key: 'hex-identifiers',
      detail: { count: state.hexNames.size },
    });
  }
  for (const rotation of state.rotations) {
    const fn = rotation.scope[rotation.scope.length - 1] ?? 0;
    if (state.parseIntScopes.has(fn) || state.hexNames.size >= 5) {
      collector.add('JS_STRING_ARRAY_ROTATION', rotation.at, {
        key: 'rotation',
        scope: rotation.scope,
        once: true,
      });
    }
  }
  const addresses = state.strings.addresses;
  if (addresses.size >= options.walletAddresses) {
    collector.add('JS_WALLET_ADDRESSES', firstOf(addresses), {
      key: 'wallet-addresses',
      detail: { count: addresses.size, sample: [...addresses.keys()].slice(0, 3) },
    });
  }
  if (state.childProcessCalls === 0) {
    for (const at of state.childProcessImports.slice(0, 1)) {
      collector.add('JS_CHILD_PROCESS', at, { detail: { method: 'unknown' } });
    }
  }
}

/** The smallest offset (no spread: an obfuscated file can hold 100,000 names). */
function firstOf(offsets: ReadonlyMap<string, number>): number {
  let first = Infinity;
  for (const at of offsets.values()) if (at < first) first = at;
  return first === Infinity ? 0 : first;
}
