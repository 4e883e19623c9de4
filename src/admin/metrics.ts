/**
 * Prometheus metrics for `/-/vetted/metrics`, on a prom-client registry of our own (never the
 * global one, so two engines in one process do not collide). Gauges are read when scraped;
 * counters and the layer-duration histogram are fed by the engine's `settled` events and by the
 * plugin's gate.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { VerifiedIndex } from '../index/verified-index';
import type { JobQueue } from '../queue/job-queue';
import type { TarballStore } from '../store/tarball-store';
import type { VersionRecord } from '../types';
import { STATUSES } from '../types';

/** How the gate answered a tarball request. */
export type GateResult = 'served' | 'refused' | 'unavailable' | 'other';

export interface VettedMetrics {
  registry: Registry;
  /** Counts a verdict and observes its layers' durations. */
  recordVerdict(record: VersionRecord): void;
  recordGate(result: GateResult): void;
}

export function createMetrics(deps: {
  index: VerifiedIndex;
  queue: JobQueue;
  store: TarballStore;
}): VettedMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vetted_process_' });

  new Gauge({
    name: 'vetted_versions',
    help: 'Versions in the verified index, by status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      const counts = deps.index.countByStatus();
      for (const status of STATUSES) this.set({ status }, counts[status] ?? 0);
    },
  });
  new Gauge({
    name: 'vetted_queue_depth',
    help: 'Verification jobs waiting (queued) and being worked on (running)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const depth = deps.queue.depth();
      this.set({ state: 'queued' }, depth.queued);
      this.set({ state: 'running' }, depth.running);
    },
  });
  new Gauge({
    name: 'vetted_store_cache_hit_ratio',
    help: 'Share of verified-tarball reads answered from memory since start (absent before any read)',
    registers: [registry],
    collect() {
      const { hits, misses } = deps.store.cacheStats();
      // no reads is no measurement, not a ratio of 0: the series stays absent until one
      if (hits + misses === 0) return this.remove();
      this.set(hits / (hits + misses));
    },
  });
  // the store keeps running totals; the counter catches up with them at each scrape
  let seen = { hits: 0, misses: 0 };
  new Counter({
    name: 'vetted_store_reads_total',
    help: 'Verified-tarball reads, by where they were answered from (memory hit or disk miss)',
    labelNames: ['cache'],
    registers: [registry],
    collect() {
      const now = deps.store.cacheStats();
      this.inc({ cache: 'hit' }, now.hits - seen.hits);
      this.inc({ cache: 'miss' }, now.misses - seen.misses);
      seen = now;
    },
  });
  const verdicts = new Counter({
    name: 'vetted_verdicts_total',
    help: 'Verdicts reached since start, by status',
    labelNames: ['status'],
    registers: [registry],
  });
  const layerSeconds = new Histogram({
    name: 'vetted_layer_duration_seconds',
    help: 'Time each verification layer took, by layer and outcome',
    labelNames: ['layer', 'outcome'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  const gate = new Counter({
    name: 'vetted_gate_decisions_total',
    help: 'Tarball requests answered by the gate: served, refused (403), unavailable (503), other',
    labelNames: ['result'],
    registers: [registry],
  });

  return {
    registry,
    recordVerdict(record) {
      verdicts.inc({ status: record.status });
      for (const layer of record.layers) {
        layerSeconds.observe(
          { layer: layer.layer, outcome: layer.outcome },
          layer.durationMs / 1000,
        );
      }
    },
    recordGate(result) {
      gate.inc({ result });
    },
  };
}
