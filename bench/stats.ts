/**
 * Small numeric helpers shared by the benchmarks: percentiles of a sample, means, rounding.
 * Pure functions; no I/O.
 */

/** Latency percentiles of one sample, in milliseconds. */
export interface LatencySummary {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/**
 * The `p`-th percentile (0–100) of an ascending sample, nearest-rank method.
 * @throws RangeError when the sample is empty.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty sample');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** Summarises durations given in milliseconds (the array is sorted in place). */
export function summarise(durationsMs: Float64Array): LatencySummary {
  durationsMs.sort();
  let total = 0;
  for (const d of durationsMs) total += d;
  return {
    p50: percentile(durationsMs, 50),
    p99: percentile(durationsMs, 99),
    p999: percentile(durationsMs, 99.9),
    max: durationsMs[durationsMs.length - 1] as number,
    mean: total / durationsMs.length,
  };
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('mean of an empty list');
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Rounds to `digits` significant decimals after the point, for readable JSON. */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
