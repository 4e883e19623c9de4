/**
 * What a package's purpose explains, as the policy can set it per package: programs it may
 * spawn, whether it may reach the network, paths outside its directory it may write, and
 * whether install may run a native toolchain. The default is strict. Types and defaults only.
 */

export type Phase = 'install' | 'load';

export interface BehaviourExpectations {
  /** Programs (base names) the package may spawn; reported at `info`. Default none. */
  allowSpawn: string[];
  /** Network attempts reported at `info` instead of failing. Default false. */
  allowNetwork: boolean;
  /** Paths outside the package that may be written (`~/` is HOME). Default none. */
  allowWrite: string[];
  /**
   * Whether install steps may run a C/C++ toolchain (make, compilers, python3 for gyp).
   * `auto` (default): when the package has binding.gyp or a step runs node-gyp.
   */
  nativeBuild: 'auto' | boolean;
}

export const STRICT_EXPECTATIONS: Readonly<BehaviourExpectations> = Object.freeze({
  allowSpawn: [],
  allowNetwork: false,
  allowWrite: [],
  nativeBuild: 'auto',
});
