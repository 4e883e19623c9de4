/**
 * The bench's settings, read once from the environment; see bench/README.md for the variables.
 * A value that is not a valid number fails the run before anything starts.
 */

export interface Settings {
  durationS: number;
  warmupS: number;
  rounds: number;
  records: number;
  lookups: number;
  only: 'http' | 'index' | undefined;
  vettedNodeArgs: string[];
}

/** @throws Error naming the variable and what it must be. */
export function readSettings(env: NodeJS.ProcessEnv): Settings {
  const int = (key: string, fallback: number, min: number): number => {
    const raw = env[key];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`${key} must be an integer >= ${min}, got ${raw}`);
    return n;
  };
  const only = env.BENCH_ONLY || undefined;
  if (only !== undefined && only !== 'http' && only !== 'index') {
    throw new Error(`BENCH_ONLY must be http or index, got ${only}`);
  }
  return {
    durationS: int('BENCH_DURATION', 8, 1),
    warmupS: int('BENCH_WARMUP', 2, 0),
    rounds: int('BENCH_ROUNDS', 2, 1),
    records: int('BENCH_RECORDS', 100_000, 1000),
    lookups: int('BENCH_LOOKUPS', 50_000, 100),
    only,
    vettedNodeArgs: (env.BENCH_VETTED_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  };
}
