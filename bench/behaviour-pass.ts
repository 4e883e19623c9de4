/**
 * One pass of the behaviour layer over a list of versions, one at a time (as one queue worker),
 * timed around `runLayer()`, with the phase split read from the layer's `summary`: npm
 * installing the dependencies (scripts off, outside the sandbox), lifecycle scripts and
 * entry-point loads in the sandbox, and the rest (workspace and decoys, unpacking, trace
 * parsing, removal). Also what else used the CPU meanwhile, from /proc.
 */
import { runLayer } from '../src/verify/layer';
import type { LayerInput } from '../src/verify/layer';
import type { BehaviourLayer, BehaviourSummary } from '../src/verify/layers/behaviour';
import type { Outcome } from '../src/types';
import { sampleCpu } from './cpu';
import type { CpuSample } from './cpu';
import { percentile } from './stats';

/** One version through the layer. Phase times are absent when the layer gave no summary. */
export interface VersionTiming {
  name: string;
  version: string;
  wallMs: number;
  outcome: Outcome;
  reason?: string;
  /** Distinct finding codes. */
  codes: string[];
  /** Dependencies npm installed beside it (0: npm was not run). */
  dependencies?: number;
  dependenciesOk?: boolean;
  /** Phase 1: npm installing the dependencies, scripts off, outside the sandbox. */
  dependenciesMs?: number;
  /** Phase 2: lifecycle scripts in the sandbox. */
  scriptsMs?: number;
  /** Phase 3: entry-point loads in the sandbox, one run each. */
  loadsMs?: number;
  /** Sandboxed runs (scripts plus entry points). */
  runs?: number;
  /** Lifecycle scripts run (implicit `node-gyp rebuild` included). */
  scripts?: number;
  /** Wall time outside the three phases. */
  otherMs?: number;
}

export interface WallStats {
  count: number;
  medianMs: number;
  p90Ms: number;
  maxMs: number;
  meanMs: number;
  totalMs: number;
}

export interface PassResult {
  /** In the order run. */
  timings: VersionTiming[];
  stats: WallStats;
  outcomes: Record<Outcome, number>;
  /** CPU used during the pass by anything but this bench and its children, in cores. */
  otherCores: number | undefined;
}

export interface PassOptions {
  /** Time limit of one version. */
  versionTimeoutMs: number;
  /** Aborted when the bench is interrupted. */
  signal: AbortSignal;
  /** Called after each version with its timing and position. */
  onVersion?: (timing: VersionTiming, done: number, total: number) => void;
}

/** Runs `layer` on each input in turn. */
export async function runPass(
  layer: BehaviourLayer,
  inputs: Array<Omit<LayerInput, 'signal'>>,
  options: PassOptions,
): Promise<PassResult> {
  const timings: VersionTiming[] = [];
  const before = sampleCpu(process.pid);
  for (const input of inputs) {
    const timing = await timeVersion(layer, input, options);
    timings.push(timing);
    options.onVersion?.(timing, timings.length, inputs.length);
  }
  return {
    timings,
    stats: wallStats(timings.map((t) => t.wallMs)),
    outcomes: countOutcomes(timings),
    otherCores: otherCores(before, sampleCpu(process.pid)),
  };
}

/** One version through the layer; `runLayer` turns a throw into outcome `error`. */
export async function timeVersion(
  layer: BehaviourLayer,
  input: Omit<LayerInput, 'signal'>,
  options: Omit<PassOptions, 'onVersion'>,
): Promise<VersionTiming> {
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.versionTimeoutMs)]);
  const started = performance.now();
  const result = await runLayer(layer, { ...input, signal });
  const wallMs = performance.now() - started;
  const timing: VersionTiming = {
    name: input.name,
    version: input.version,
    wallMs,
    outcome: result.outcome,
    codes: [...new Set(result.findings.map((f) => f.code))].sort(),
  };
  if (result.reason !== undefined) timing.reason = result.reason;
  const summary = result.summary as BehaviourSummary | undefined;
  if (summary) {
    const phase = (name: string) =>
      summary.runs.filter((r) => r.phase === name).reduce((ms, r) => ms + r.durationMs, 0);
    timing.dependencies = summary.dependencies.requested;
    timing.dependenciesOk = summary.dependencies.ok;
    timing.dependenciesMs = summary.dependencies.durationMs;
    timing.scriptsMs = phase('install');
    timing.loadsMs = phase('load');
    timing.runs = summary.runs.length;
    timing.scripts = summary.runs.filter((r) => r.phase === 'install').length;
    timing.otherMs = Math.max(
      0,
      wallMs - timing.dependenciesMs - timing.scriptsMs - timing.loadsMs,
    );
  }
  return timing;
}

export function wallStats(wallMs: number[]): WallStats {
  const sorted = [...wallMs].sort((a, b) => a - b);
  const totalMs = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    medianMs: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    maxMs: sorted[sorted.length - 1] ?? 0,
    meanMs: totalMs / sorted.length,
    totalMs,
  };
}

/** The `n` slowest versions, slowest first. */
export function slowest(timings: VersionTiming[], n: number): VersionTiming[] {
  return [...timings].sort((a, b) => b.wallMs - a.wallMs).slice(0, n);
}

function countOutcomes(timings: VersionTiming[]): Record<Outcome, number> {
  const counts: Record<Outcome, number> = { pass: 0, warn: 0, fail: 0, unavailable: 0, error: 0 };
  for (const t of timings) counts[t.outcome]++;
  return counts;
}

/**
 * Cores' worth of CPU that anything but this process and its reaped children (npm, strace and
 * what ran under them) used between two samples; undefined without /proc.
 */
function otherCores(before: CpuSample | undefined, after: CpuSample | undefined) {
  if (!before || !after) return undefined;
  const ours = after.selfMs - before.selfMs + (after.childrenMs - before.childrenMs);
  return Math.max(0, after.busyMs - before.busyMs - ours) / (after.at - before.at);
}

/** One progress line: outcome, wall time and phases in seconds, codes, reason. */
export function describeTiming(t: VersionTiming): string {
  const s = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));
  return (
    `${t.name}@${t.version} ${t.outcome} in ${s(t.wallMs)} s (deps ${s(t.dependenciesMs)}, ` +
    `scripts ${s(t.scriptsMs)}, loads ${s(t.loadsMs)})` +
    (t.codes.length > 0 ? ` ${t.codes.join(',')}` : '') +
    (t.reason ? `: ${t.reason}` : '')
  );
}
