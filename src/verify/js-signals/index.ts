/** Static signals over a package's JavaScript (DESIGN.md, layer 3): the public surface. */
export { checkJsSignals } from './check';
export type { AnalysisCache, JsSignalsResult, PreviousVersion } from './check';
export { analysePackage } from './analyse-package';
export type { PackageAnalysis } from './analyse-package';
export { analyseFile } from './analyse-file';
export type { FileAnalysis } from './analyse-file';
export { markNovelty } from './compare';
export type { Baseline } from './compare';
export { combineSignals } from './combine';
export { severityOf, toFindings, toOutcome } from './report';
export { DEFAULT_OPTIONS, toResolvedOptions } from './options';
export type { JsSignalsOptions, ResolvedOptions } from './options';
export { FAILING_CODES, SIGNALS } from './signal.types';
export type { FileRole, JsSignal, MarkedSignal, Novelty, SignalCode } from './signal.types';
