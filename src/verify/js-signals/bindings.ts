/**
 * What names stand for, well enough to read intent without running code: which module a name
 * was bound to (`require`, `import`, bundler wrappers such as esbuild's `__toESM`), which
 * function of which module a call reaches, and which literal a name holds (decoding.ts builds
 * on these). Declarations are kept per enclosing function, so minified bundles that reuse
 * one-letter names do not mix them up. Not a type checker: it follows `const`/`let`/`var` and
 * assignments a few steps and gives up.
 */
import type { JsNode } from './parse';
import { asNode, dottedPath, nameOf, nodesOf, propertyName, stringOf, unwrap } from './parse';

/** A name bound by `import`: the whole module, or one export of it. */
export interface ImportBinding extends JsNode {
  type: '#import';
  module: string;
  /** The export's name; undefined for the namespace or default binding. */
  imported?: string;
}

export interface CallTarget {
  module?: string;
  /** The function's name: a module's export, or a global such as `fetch`. Empty for the module. */
  name: string;
}

const MAX_DEPTH = 4;
const REQUIRE_NAMES = new Set(['require', '__require', '__webpack_require__', 'module.require']);
const WRAPPERS = new Set([
  '__toESM',
  '__toCommonJS',
  '__importDefault',
  '__importStar',
  '_interopRequireDefault',
  '_interopRequireWildcard',
  'promisify',
  'util.promisify',
]);

export class Bindings {
  private readonly scopes = new Map<number, Map<string, JsNode[]>>();

  /** Records that `name` was given `value` inside the innermost function of `scope`. */
  declare(scope: readonly number[], name: string, value: JsNode): void {
    const id = scope[scope.length - 1] ?? 0;
    let names = this.scopes.get(id);
    if (!names) this.scopes.set(id, (names = new Map()));
    const values = names.get(name);
    if (values) {
      if (values.length < 8) values.push(value);
    } else {
      names.set(name, [value]);
    }
  }

  /** The values a name may hold at a use site: the nearest enclosing function that binds it. */
  valuesOf(scope: readonly number[], name: string): JsNode[] {
    for (let i = scope.length - 1; i >= 0; i--) {
      const values = this.scopes.get(scope[i]!)?.get(name);
      if (values) return values;
    }
    return [];
  }

  /** The module an expression evaluates to: `cp` after `const cp = require('child_process')`. */
  moduleOf(node: JsNode | undefined, scope: readonly number[], depth = 0): string | undefined {
    const target = unwrap(node);
    if (!target || depth > MAX_DEPTH) return undefined;
    switch (target.type) {
      case '#import':
        return (target as ImportBinding).imported === undefined
          ? (target as ImportBinding).module
          : undefined;
      case 'CallExpression': {
        const literal = this.requiredModule(target, scope);
        if (literal !== undefined) return literal;
        const callee = dottedPath(asNode(target.callee));
        if (callee && WRAPPERS.has(callee)) {
          return this.moduleOf(nodesOf(target.arguments)[0], scope, depth + 1);
        }
        return undefined;
      }
      case 'AwaitExpression':
        return this.moduleOf(asNode(target.argument), scope, depth + 1);
      case 'ImportExpression':
        return toModuleName(stringOf(asNode(target.source)));
      case 'MemberExpression': {
        const property = propertyName(target);
        return property === 'default' || property === 'promises'
          ? this.moduleOf(asNode(target.object), scope, depth + 1)
          : undefined;
      }
      case 'Identifier':
        for (const value of this.valuesOf(scope, nameOf(target)!)) {
          const found = this.moduleOf(value, scope, depth + 1);
          if (found !== undefined) return found;
        }
        return undefined;
      default:
        return undefined;
    }
  }

  /** The function a callee reaches: `cp.exec`, a destructured `exec`, `fetch`, `axios`. */
  targetOf(
    callee: JsNode | undefined,
    scope: readonly number[],
    depth = 0,
  ): CallTarget | undefined {
    const target = unwrap(callee);
    if (!target || depth > MAX_DEPTH) return undefined;
    if (target.type === 'MemberExpression') {
      const name = propertyName(target);
      if (name === undefined) return undefined;
      const module = this.moduleOf(asNode(target.object), scope);
      return { module, name };
    }
    if (target.type === '#import') {
      const binding = target as ImportBinding;
      return { module: binding.module, name: binding.imported ?? '' };
    }
    if (target.type === 'CallExpression') {
      const wrapper = dottedPath(asNode(target.callee));
      if (wrapper && WRAPPERS.has(wrapper)) {
        return this.targetOf(nodesOf(target.arguments)[0], scope, depth + 1);
      }
      const module = this.moduleOf(target, scope);
      return module === undefined ? undefined : { module, name: '' };
    }
    const name = nameOf(target);
    if (name === undefined) return undefined;
    for (const value of this.valuesOf(scope, name)) {
      const found = this.targetOf(value, scope, depth + 1);
      if (found) return found;
    }
    return this.valuesOf(scope, name).length === 0 ? { name } : undefined;
  }

  /** `require('x')`, also through an alias (`var r = require; r('x')`): the module name. */
  requiredModule(call: JsNode, scope: readonly number[]): string | undefined {
    if (call.type !== 'CallExpression' || !this.isRequire(asNode(call.callee), scope)) {
      return undefined;
    }
    return toModuleName(this.literalOf(nodesOf(call.arguments)[0], scope));
  }

  /** `require`, `module.require`, `process.mainModule.require`, or a name bound to one. */
  isRequire(callee: JsNode | undefined, scope: readonly number[]): boolean {
    const path = dottedPath(callee);
    if (path === undefined) return false;
    if (isRequirePath(path)) {
      return path !== 'require' || this.valuesOf(scope, 'require').length === 0;
    }
    if (callee?.type !== 'Identifier') return false;
    return this.valuesOf(scope, path).some((v) => isRequirePath(dottedPath(v)));
  }

  /** A string literal, or a name bound only to one (`const payload = '…'`). */
  literalOf(node: JsNode | undefined, scope: readonly number[]): string | undefined {
    const direct = stringOf(node);
    if (direct !== undefined || node?.type !== 'Identifier') return direct;
    const values = this.valuesOf(scope, nameOf(node)!);
    return values.length === 1 ? stringOf(values[0]) : undefined;
  }
}

function isRequirePath(path: string | undefined): boolean {
  return path !== undefined && (REQUIRE_NAMES.has(path) || path.endsWith('mainModule.require'));
}

export function toModuleName(specifier: string | undefined): string | undefined {
  return specifier?.replace(/^node:/, '');
}
