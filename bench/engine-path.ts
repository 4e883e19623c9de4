/**
 * One version through the whole verification engine (src/verify/engine.ts), as a queue worker
 * runs it: packument and tarball fetched from the upstream against the published integrity,
 * the bytes kept in a temp tarball store, then the publisher, static pre-check, JS signals and
 * behaviour layers, then the standard policy. The pacote cache starts empty (the fetch is real); the
 * behaviour layer is the caller's, so its npm cache is as warm as the caller left it.
 * Depends on: src/verify, src/registry/upstream.ts, src/store, src/policy.
 */
import path from 'node:path';
import { loadPolicy } from '../src/policy/policy';
import { createUpstream } from '../src/registry/upstream';
import { createTarballStore } from '../src/store/tarball-store';
import type { Job, Outcome, Status } from '../src/types';
import { createEngine } from '../src/verify/engine';
import { jsSignals } from '../src/verify/layers/js-signals';
import { staticPrecheck } from '../src/verify/layers/static-precheck';
import { createPublisherLayerFor } from '../src/verify/layers/publisher-setup';
import type { Layer } from '../src/verify/layer';

export interface EnginePathOptions {
  registry: string;
  name: string;
  version: string;
  behaviour: Layer;
  signal: AbortSignal;
}

export interface EnginePathResult {
  name: string;
  version: string;
  /** Wall time of `engine.process()`, from the packument request to the verdict. */
  wallMs: number;
  status: Status;
  reasons: string[];
  warnings: string[];
  /** Each layer's own timing; the packument fetch and the store write are the remainder. */
  layers: Array<{ layer: string; outcome: Outcome; durationMs: number }>;
}

/** Verifies `name@version` once in `dir` (an empty directory) with the standard policy. */
export async function runEnginePath(
  dir: string,
  options: EnginePathOptions,
): Promise<EnginePathResult> {
  const upstream = createUpstream({ registry: options.registry, cache: path.join(dir, 'pacote') });
  const publisher = createPublisherLayerFor({
    registry: options.registry,
    identity: { typosquat: { enabled: true, allow: [] } },
    packument: (name, signal) => upstream.packument(name, signal),
  });
  const engine = createEngine({
    upstream,
    store: createTarballStore(path.join(dir, 'tarballs')),
    policy: loadPolicy('standard'),
    layers: [publisher, staticPrecheck, jsSignals, options.behaviour],
  });
  const job: Job = {
    name: options.name,
    version: options.version,
    trigger: 'admin',
    enqueuedAt: new Date().toISOString(),
    attempts: 0,
    key: 'bench',
  };
  const started = performance.now();
  const outcome = await engine.process(job, options.signal);
  const wallMs = performance.now() - started;
  if ('notFound' in outcome) {
    throw new Error(`the engine found no ${options.name}@${options.version} upstream`);
  }
  const { record } = outcome;
  return {
    name: options.name,
    version: options.version,
    wallMs,
    status: record.status,
    reasons: record.reasons,
    warnings: record.warnings,
    layers: record.layers.map((l) => ({
      layer: l.layer,
      outcome: l.outcome,
      durationMs: l.durationMs,
    })),
  };
}
