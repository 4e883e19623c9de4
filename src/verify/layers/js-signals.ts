/**
 * The JavaScript signals layer: static signals over a version's JavaScript (obfuscation,
 * evaluated or decoded code, child processes, blobs, hosts, credentials, wallet hooks, network
 * use by when it runs), each marked new or old against the previous admitted version when the
 * engine supplies it. Warns for signals; fails only for the combined evidence named in
 * `js-signals/combine.ts` and for decoded data that is executed.
 */
import { LRUCache } from 'lru-cache';
import { checkJsSignals, toResolvedOptions } from '../js-signals';
import type { JsSignalsOptions, PackageAnalysis } from '../js-signals';
import type { Layer, LayerInput } from '../layer';

/**
 * Builds the layer.
 * @throws TypeError naming the option, for a limit that is not a positive integer.
 * @example const layer = createJsSignalsLayer({ maxFileBytes: 2 * 1024 * 1024 });
 */
export function createJsSignalsLayer(options: JsSignalsOptions = {}): Layer {
  const resolved = toResolvedOptions(options);
  const cache = new LRUCache<string, PackageAnalysis>({ max: resolved.cachedAnalyses });
  return {
    name: 'js-signals',
    async run(input: LayerInput) {
      const { outcome, findings } = await checkJsSignals(input.tarball, resolved, {
        previous: input.previous,
        signal: input.signal,
        cache,
      });
      return { outcome, findings };
    },
  };
}

/** The layer with the default limits. */
export const jsSignals: Layer = createJsSignalsLayer();
