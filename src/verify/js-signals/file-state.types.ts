/**
 * What the detectors of one file share while the tree is walked: the collector, the bindings,
 * the string context and the facts that are only judged once the whole file has been seen.
 */
import type { Bindings } from './bindings';
import type { SignalCollector } from './collector';
import type { ResolvedOptions } from './options';
import type { StringContext } from './strings';

export interface FileState {
  collector: SignalCollector;
  bindings: Bindings;
  options: ResolvedOptions;
  strings: StringContext;
  /** Static module specifiers (`require('x')`, `import … from 'x'`), for the package's graph. */
  requires: Set<string>;
  /** Where `child_process` was required or imported, when no call of it was recognised. */
  childProcessImports: number[];
  childProcessCalls: number;
  /** `_0x…` names and the offset of the first. */
  hexNames: Map<string, number>;
  /** `a.push(a.shift())` inside a loop: offset and enclosing functions. */
  rotations: Array<{ at: number; scope: readonly number[] }>;
  /** Functions (innermost scope ids) that call `parseInt`. */
  parseIntScopes: Set<number>;
}
