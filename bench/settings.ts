/**
 * The bench's settings, read once from the environment; see bench/README.md for the variables.
 * A value that is not a valid number fails the run before anything starts.
 */

/** The parts of the bench, in the order a full run runs them. */
export const PARTS = ['http', 'index', 'behaviour', 'rebuild'] as const;
export type Part = (typeof PARTS)[number];

export interface Settings {
  durationS: number;
  warmupS: number;
  rounds: number;
  records: number;
  lookups: number;
  only: Part | undefined;
  /** Run the behaviour part's cold pass (every version on an empty npm cache). */
  behaviourCold: boolean;
  vettedNodeArgs: string[];
  /** Runs of the source layer per fixture in the rebuild part. */
  rebuildRounds: number;
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
  if (only !== undefined && !(PARTS as readonly string[]).includes(only)) {
    throw new Error(`BENCH_ONLY must be one of ${PARTS.join(', ')}, got ${only}`);
  }
  const cold = env.BENCH_BEHAVIOUR_COLD || '1';
  if (cold !== '0' && cold !== '1') {
    throw new Error(`BENCH_BEHAVIOUR_COLD must be 0 or 1, got ${cold}`);
  }
  return {
    durationS: int('BENCH_DURATION', 8, 1),
    warmupS: int('BENCH_WARMUP', 2, 0),
    rounds: int('BENCH_ROUNDS', 2, 1),
    records: int('BENCH_RECORDS', 100_000, 1000),
    lookups: int('BENCH_LOOKUPS', 50_000, 100),
    only: only as Part | undefined,
    behaviourCold: cold === '1',
    vettedNodeArgs: (env.BENCH_VETTED_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
    rebuildRounds: int('BENCH_REBUILD_ROUNDS', 6, 2),
  };
}
