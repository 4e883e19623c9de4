/**
 * Look-alike names: a requested name that is not a high-impact package but is one edit (or one
 * swap of neighbouring letters) away from one, the same name with its separators changed
 * (`crossenv` / `cross-env`), or the same package under a look-alike scope (`@bable/core`).
 * The list of high-impact packages is npm-high-impact's, ranked by impact; nothing is
 * hand-written here. Needs only the name: no network.
 */
import { distance } from 'fastest-levenshtein';
import type { Finding } from '../../types';

export interface TyposquatOptions {
  /** Names never flagged (a package of your own that resembles a popular one). */
  allow?: readonly string[];
  /**
   * How many of the most used packages edit distance is measured against. Separator and scope
   * games are checked against the whole list. Default 5000.
   */
  editTargets?: number;
}

export type TyposquatCheck = (name: string) => Finding | undefined;

type Kind = 'separator' | 'scope' | 'edit';

/**
 * Loads npm-high-impact (an ES module) with a real dynamic `import()`, which tsc keeps as is
 * in CommonJS output under `module: node16`.
 */
export async function loadHighImpact(): Promise<string[]> {
  const mod = await import('npm-high-impact');
  return [...mod.npmHighImpact];
}

/**
 * Builds the check over a ranked list (most used first).
 * @example const check = createTyposquatCheck(await loadHighImpact()); check('crossenv')
 */
export function createTyposquatCheck(
  ranked: readonly string[],
  options: TyposquatOptions = {},
): TyposquatCheck {
  const known = new Set(ranked);
  const allowed = new Set(options.allow ?? []);
  const bySkeleton = new Map<string, string>();
  const scopesByBase = new Map<string, string[]>();
  for (const name of ranked) {
    if (!bySkeleton.has(skeleton(name))) bySkeleton.set(skeleton(name), name);
    const scoped = splitScope(name);
    if (scoped) scopesByBase.set(scoped.base, [...(scopesByBase.get(scoped.base) ?? []), name]);
  }
  const targets = ranked.slice(0, options.editTargets ?? 5000);

  return (requested: string) => {
    const name = requested.toLowerCase();
    if (known.has(name) || allowed.has(requested) || allowed.has(name)) return undefined;
    const twin = bySkeleton.get(skeleton(name));
    if (twin) return finding(requested, twin, 'separator', distance(name, twin));
    const scoped = splitScope(name);
    for (const other of scoped ? (scopesByBase.get(scoped.base) ?? []) : []) {
      const otherScope = splitScope(other)?.scope ?? '';
      if (isNear(scoped!.scope, otherScope, 3)) return finding(requested, other, 'scope', 0);
    }
    let best: { name: string; d: number } | undefined;
    for (const target of targets) {
      if (Math.abs(target.length - name.length) > 2 || target.length < 5) continue;
      const d = nearness(name, target);
      if (d !== undefined && (!best || d < best.d)) best = { name: target, d };
      if (best?.d === 1) break;
    }
    return best ? finding(requested, best.name, 'edit', best.d) : undefined;
  };
}

/** Edit distance when it counts as a look-alike of `target`, else undefined. */
function nearness(name: string, target: string): number | undefined {
  if (isTransposition(name, target)) return 1;
  const d = distance(name, target);
  if (d === 1) return 1;
  if (d === 2 && target.length >= 9) return 2;
  return undefined;
}

function isNear(a: string, b: string, minLength: number): boolean {
  if (a === b || b.length < minLength) return false;
  return isTransposition(a, b) || distance(a, b) === 1 || skeleton(a) === skeleton(b);
}

/** Same letters with exactly one pair of neighbours swapped (`loadsh` / `lodash`). */
function isTransposition(a: string, b: string): boolean {
  if (a.length !== b.length || a === b) return false;
  let i = 0;
  while (a[i] === b[i]) i++;
  return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
}

/** The name without separators: `cross-env`, `cross_env` and `crossenv` share one. */
function skeleton(name: string): string {
  return name.toLowerCase().replace(/[-_.]/g, '');
}

function splitScope(name: string): { scope: string; base: string } | undefined {
  const m = /^@([^/]+)\/(.+)$/.exec(name);
  return m ? { scope: m[1]!, base: m[2]! } : undefined;
}

const HOW: Record<Kind, string> = {
  separator: 'with its separators changed',
  scope: 'under a look-alike scope',
  edit: 'spelled differently',
};

function finding(name: string, suggestion: string, kind: Kind, d: number): Finding {
  return {
    code: 'TYPOSQUAT',
    severity: 'high',
    message: `${name} looks like the widely used package ${suggestion} ${HOW[kind]}; did you mean "${suggestion}"?`,
    evidence: { name, suggestion, kind, distance: d },
  };
}
