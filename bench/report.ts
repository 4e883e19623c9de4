/**
 * Turning results into what `npm run bench` prints: aligned text tables, the targets with
 * whether each was met, and the JSON summary also written to bench/results/latest.json.
 */
import type { BehaviourBenchResult } from './behaviour-bench';
import { behaviourTargets, formatBehaviour, summariseBehaviour } from './behaviour-report';
import type { Environment } from './environment';
import type { RefusalResult, ServingResult } from './http-bench';
import type { LookupResult } from './index-lookup';
import { round } from './stats';
import { table } from './table';

export const THROUGHPUT_TARGET = 0.95;
export const LOOKUP_P99_TARGET_MS = 1;
/** Cores' worth of outside CPU use above which a run is flagged as disturbed. */
export const OTHER_LOAD_WARNING = 0.15;

export interface Target {
  name: string;
  target: string;
  value: string;
  met: boolean;
}

const ms = (v: number) => v.toFixed(2);
const signedMs = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;

export function servingTable(results: ServingResult[]): string {
  const rows = results.map((r) => [
    r.id,
    r.plain.rps.toFixed(0),
    r.vetted.rps.toFixed(0),
    r.ratio.toFixed(2),
    r.rounds.map((x) => (x.vetted.rps / x.plain.rps).toFixed(2)).join(' '),
    ms(r.plain.p50Ms),
    ms(r.vetted.p50Ms),
    signedMs(r.addedP50Ms),
    ms(r.plain.p99Ms),
    ms(r.vetted.p99Ms),
    signedMs(r.addedP99Ms),
  ]);
  return table(
    [
      'case',
      'plain rps',
      'vetted rps',
      'ratio',
      'per round',
      'p50 plain',
      'vetted',
      'added',
      'p99 plain',
      'vetted',
      'added',
    ],
    rows,
  );
}

const pct = (cores: number | undefined) =>
  cores === undefined ? '-' : `${(cores * 100).toFixed(0)} %`;
const cpuMs = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(3));

/** Server CPU per request: steadier than rps when something else shares the cores. */
export function cpuTable(results: ServingResult[]): string {
  const rows = results.map((r) => [
    r.id,
    cpuMs(r.plain.cpuMsPerReq),
    cpuMs(r.vetted.cpuMsPerReq),
    r.cpuRatio === undefined ? '-' : r.cpuRatio.toFixed(2),
    r.plain.cpuMsPerReq === undefined || r.vetted.cpuMsPerReq === undefined
      ? '-'
      : `${r.vetted.cpuMsPerReq >= r.plain.cpuMsPerReq ? '+' : ''}${(r.vetted.cpuMsPerReq - r.plain.cpuMsPerReq).toFixed(3)}`,
    pct(r.maxOtherCores),
  ]);
  return table(
    ['server CPU per request', 'plain ms', 'vetted ms', 'ratio', 'added ms', 'other load (max)'],
    rows,
  );
}

export function refusalTable(results: RefusalResult[]): string {
  return table(
    ['403 held version', 'rps', 'p50 ms', 'p99 ms', 'max ms', 'CPU ms/req', 'other load'],
    results.map((r) => [
      `c=${r.connections}`,
      r.result.rps.toFixed(0),
      ms(r.result.latencyMs.p50),
      ms(r.result.latencyMs.p99),
      ms(r.result.latencyMs.max),
      cpuMs(r.result.cpu?.serverMsPerReq),
      pct(r.result.cpu?.otherCores),
    ]),
  );
}

export function lookupTable(result: LookupResult): string {
  const us = (v: number) => (v * 1000).toFixed(1);
  const row = (label: string, s: LookupResult['cold']) => [
    label,
    us(s.p50),
    us(s.p99),
    us(s.p999),
    us(s.max),
    s.opsPerS.toFixed(0),
  ];
  return table(
    [`get(), ${result.records} records`, 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs', 'ops/s'],
    [row('cold (LevelDB + Ed25519 verify)', result.cold), row('warm (LRU hit)', result.warm)],
  );
}

export function targets(
  serving: ServingResult[],
  lookup: LookupResult | undefined,
  behaviour: BehaviourBenchResult | undefined,
): Target[] {
  const out: Target[] = serving.map((r) => ({
    name: `throughput ${r.id}`,
    target: `vetted >= ${THROUGHPUT_TARGET} x plain`,
    value: `${r.ratio.toFixed(2)} x`,
    met: r.ratio >= THROUGHPUT_TARGET,
  }));
  if (lookup) {
    for (const [label, s] of [
      ['cold', lookup.cold],
      ['warm', lookup.warm],
    ] as const) {
      out.push({
        name: `index get() p99 ${label}`,
        target: `< ${LOOKUP_P99_TARGET_MS} ms`,
        value: `${s.p99.toFixed(3)} ms`,
        met: s.p99 < LOOKUP_P99_TARGET_MS,
      });
    }
  }
  if (behaviour) out.push(...behaviourTargets(behaviour));
  return out;
}

export function targetsTable(list: Target[]): string {
  return table(
    ['target', 'wanted', 'measured', 'met'],
    list.map((t) => [t.name, t.target, t.value, t.met ? 'yes' : 'NO']),
  );
}

/** Rounds every number in a JSON-able value, for a readable summary. */
export function rounded(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? value : round(value, 3);
  if (Array.isArray(value)) return value.map(rounded);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rounded(v)]));
  }
  return value;
}

export interface ReportInput {
  env: Environment;
  serving: ServingResult[] | undefined;
  refusal: RefusalResult[] | undefined;
  /** Why vetted refuses the version of the 403 measurements. */
  refusedBy: string | undefined;
  lookup: LookupResult | undefined;
  behaviour: BehaviourBenchResult | undefined;
  goals: Target[];
  invalid: string[];
  errors: string[];
}

/** The human-readable report: header, tables, targets, then what went wrong. */
export function formatReport(r: ReportInput): string {
  const { env } = r;
  const { settings } = env;
  const lines: string[] = [
    `vetted bench, ${env.date}, commit ${env.commit ?? '?'}` +
      (env.uncommittedChanges ? ' (+ uncommitted changes)' : ''),
    `node ${env.node}, ${env.wrk ?? 'wrk not run'}, ${env.cpus} CPUs (${env.cpuModel ?? '?'})`,
  ];
  if (r.serving && r.refusal) {
    lines.push(
      `NOTE: wrk (-t1) and the server under test share these ${env.cpus} cores on loopback, so ` +
        'throughput moves by up to ~20 % between runs; read ratios near 1 as "no measurable difference".',
      `Each figure: wrk -t1 for ${settings.durationS} s after a ${settings.warmupS} s warm-up, ` +
        `mean of ${settings.rounds} round(s), plain and vetted alternating. Latency in ms.`,
    );
    if (settings.vettedNodeArgs.length > 0) {
      lines.push(`vetted ran with extra node flags: ${settings.vettedNodeArgs.join(' ')}`);
    }
    lines.push('', servingTable(r.serving), '', cpuTable(r.serving));
    lines.push(
      '(server CPU = user + system time of the server process, all threads, per request; "other ' +
        'load" = CPU used by anything but wrk, the server and the bench, interrupts excluded, ' +
        'in % of one core)',
    );
    lines.push('', refusalTable(r.refusal));
    if (r.refusedBy) lines.push(`(bench-held@1.0.0 refused by ${r.refusedBy})`);
    const busiest = Math.max(
      0,
      ...r.serving.map((s) => s.maxOtherCores ?? 0),
      ...r.refusal.map((s) => s.result.cpu?.otherCores ?? 0),
    );
    if (busiest > OTHER_LOAD_WARNING) {
      lines.push(
        `WARNING: other processes or kernel threads used up to ${(busiest * 100).toFixed(0)} % of ` +
          'a core during a measurement; rps and latency from this run are unreliable (CPU per ' +
          'request less so). Rerun on a quiet machine.',
      );
    }
  }
  if (r.lookup) {
    const l = r.lookup;
    lines.push('', lookupTable(l));
    lines.push(
      `(${l.lookups} random lookups each; ${l.records} records of ~${Math.round(l.recordBytes)} B ` +
        `loaded in ${l.loadS.toFixed(1)} s; reopening took ${l.openMs.toFixed(0)} ms in ` +
        'VerifiedIndex.open(), which reads the whole audit log and every record)',
    );
  }
  if (r.behaviour) {
    lines.push('', ...formatBehaviour(r.behaviour));
    const { cold, warm } = r.behaviour;
    const busiest = Math.max(cold?.otherCores ?? 0, warm.otherCores ?? 0);
    if (busiest > OTHER_LOAD_WARNING) {
      lines.push(
        `WARNING: other processes used ${(busiest * 100).toFixed(0)} % of a core during a ` +
          'behaviour pass; its times are longer than on a quiet machine. Rerun on a quiet machine.',
      );
    }
  }
  const met = r.goals.filter((g) => g.met).length;
  lines.push('', targetsTable(r.goals));
  lines.push(`${met} of ${r.goals.length} targets met. Targets are reported, not enforced.`);
  for (const line of r.invalid) lines.push(`INVALID MEASUREMENT: ${line}`);
  for (const line of r.errors) lines.push(`ERROR: ${line}`);
  return lines.join('\n');
}

/**
 * The JSON summary: means per case and server, the 403 path, the index and the behaviour
 * layer, without the per-round wrk results and per-version timings (those go to the results
 * file as `details`).
 */
export function summarise(
  serving: ServingResult[] | undefined,
  refusal: RefusalResult[] | undefined,
  lookup: LookupResult | undefined,
  behaviour: BehaviourBenchResult | undefined,
) {
  return {
    serving: serving?.map((r) => ({
      case: r.id,
      tarball: r.tarball,
      connections: r.connections,
      plain: r.plain,
      vetted: r.vetted,
      ratio: r.ratio,
      perRoundRatio: r.rounds.map((x) => x.vetted.rps / x.plain.rps),
      addedP50Ms: r.addedP50Ms,
      addedP99Ms: r.addedP99Ms,
      cpuRatio: r.cpuRatio,
      maxOtherCores: r.maxOtherCores,
    })),
    refusal: refusal?.map((r) => ({
      connections: r.connections,
      rps: r.result.rps,
      p50Ms: r.result.latencyMs.p50,
      p99Ms: r.result.latencyMs.p99,
      cpuMsPerReq: r.result.cpu?.serverMsPerReq,
      otherCores: r.result.cpu?.otherCores,
    })),
    indexLookup: lookup && {
      records: lookup.records,
      lookups: lookup.lookups,
      openMs: lookup.openMs,
      coldMs: lookup.cold,
      warmMs: lookup.warm,
    },
    behaviour: behaviour && summariseBehaviour(behaviour),
  };
}
