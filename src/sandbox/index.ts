/**
 * The sandbox: bubblewrap + strace runner, the syscall-log parser, decoys, the workspace and
 * npm's lifecycle, and the judgement of a run. Re-exports only.
 */
export * from './check';
export * from './command';
export * from './decoys';
export * from './expectations';
export * from './install';
export * from './judge';
export * from './lifecycle';
export * from './limits';
export * from './load-harness';
export * from './sandbox';
export * from './strace-parser';
export * from './toolchain';
export * from './trace-events';
export * from './workspace';
