/**
 * What every layer shares: the input it is given and a helper that times it and turns a thrown
 * error into an `error` outcome, so a layer never throws for a finding.
 */
import type { Packument, PackumentVersion } from '../registry/packument';
import type { Finding, LayerResult, Outcome } from '../types';
import { errorCode, errorMessage } from '../errors';

export interface PreviousVersion {
  version: string;
  tarball: Buffer;
}

export interface LayerInput {
  name: string;
  version: string;
  packument: Packument;
  manifest: PackumentVersion;
  /** The tarball bytes, already checked against the packument's integrity. */
  tarball: Buffer;
  /**
   * The newest admitted version of the same package below this one (by semver), with its
   * verified bytes: what is new since then matters most. Undefined when there is none.
   */
  previous?: PreviousVersion;
  /**
   * Every version of the package admitted so far (verified or approved), whatever its line:
   * the baseline a release line is compared with. Undefined when the engine was not told.
   */
  admitted?: readonly string[];
  signal: AbortSignal;
}

export interface Layer {
  readonly name: string;
  run(input: LayerInput): Promise<Omit<LayerResult, 'layer' | 'startedAt' | 'durationMs'>>;
}

/**
 * Runs a layer, timing it; an unexpected throw becomes outcome `error` with the reason. A layer
 * interrupted from outside (`LAYER_INTERRUPTED`: its sandbox killed by something other than
 * itself) throws on, so the queue runs the job again rather than decide on half a run.
 */
export async function runLayer(layer: Layer, input: LayerInput): Promise<LayerResult> {
  const startedAt = new Date();
  const start = performance.now();
  try {
    const result = await layer.run(input);
    return {
      layer: layer.name,
      ...result,
      startedAt: startedAt.toISOString(),
      durationMs: since(start),
    };
  } catch (err) {
    if (input.signal.aborted || errorCode(err) === 'LAYER_INTERRUPTED') throw err;
    return {
      layer: layer.name,
      outcome: 'error',
      findings: [],
      reason: errorMessage(err),
      startedAt: startedAt.toISOString(),
      durationMs: since(start),
    };
  }
}

/**
 * The outcome implied by findings: the worst one wins. A layer that could not check what it is
 * for (`unavailable`) still fails on a failing finding; otherwise it is `unavailable`.
 */
export function outcomeOf(
  findings: Finding[],
  failing: ReadonlySet<string>,
  unavailable = false,
): Outcome {
  if (findings.some((f) => failing.has(f.code))) return 'fail';
  if (unavailable) return 'unavailable';
  return findings.some((f) => f.severity !== 'info') ? 'warn' : 'pass';
}

function since(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}
