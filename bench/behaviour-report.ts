/**
 * The behaviour part of the report: the passes over the tree (percentiles, outcomes), the
 * slowest versions with their phases, the engine path, the "under 5 s" targets, and the JSON
 * summary of it all. "Typical" is defined in `behaviourTargets`.
 */
import type { BehaviourBenchResult } from './behaviour-bench';
import { slowest } from './behaviour-pass';
import type { PassResult, VersionTiming } from './behaviour-pass';
import type { Target } from './report';
import { table } from './table';

export const VERIFY_TARGET_MS = 5000;
const SLOWEST = 5;
/** Versions listed by name when they did not pass. */
const MAX_LISTED = 20;

const s = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(2));
const pct = (cores: number | undefined) =>
  cores === undefined ? '-' : `${(cores * 100).toFixed(0)} %`;
const id = (t: { name: string; version: string }) => `${t.name}@${t.version}`;

interface NamedPass {
  key: 'cold' | 'warm';
  label: string;
  pass: PassResult;
}

function passes(r: BehaviourBenchResult): NamedPass[] {
  const list: NamedPass[] = [];
  if (r.cold) list.push({ key: 'cold', label: 'cold (empty npm cache each)', pass: r.cold });
  list.push({ key: 'warm', label: 'warm (shared npm cache)', pass: r.warm });
  return list;
}

export function passTable(r: BehaviourBenchResult): string {
  return table(
    [
      `${r.spec} tree`,
      'versions',
      'median s',
      'p90 s',
      'max s',
      'mean s',
      'total s',
      'pass',
      'warn',
      'fail',
      'unavail.',
      'error',
      'other load',
    ],
    passes(r).map(({ label, pass: p }) => [
      label,
      String(p.stats.count),
      s(p.stats.medianMs),
      s(p.stats.p90Ms),
      s(p.stats.maxMs),
      s(p.stats.meanMs),
      (p.stats.totalMs / 1000).toFixed(1),
      ...(['pass', 'warn', 'fail', 'unavailable', 'error'] as const).map((o) =>
        String(p.outcomes[o]),
      ),
      pct(p.otherCores),
    ]),
  );
}

export function slowestTable(label: string, pass: PassResult): string {
  return table(
    [
      `slowest ${SLOWEST}, ${label}`,
      'wall s',
      'deps s',
      'deps',
      'scripts s',
      'loads s',
      'runs',
      'rest s',
    ],
    slowest(pass.timings, SLOWEST).map((t) => [
      id(t),
      s(t.wallMs),
      s(t.dependenciesMs),
      t.dependencies === undefined ? '-' : String(t.dependencies),
      s(t.scriptsMs),
      s(t.loadsMs),
      t.runs === undefined ? '-' : String(t.runs),
      s(t.otherMs),
    ]),
  );
}

/** The root spec's run in `pass`. */
function rootOf(pass: PassResult | undefined, spec: string): VersionTiming | undefined {
  return pass?.timings.find((t) => id(t) === spec);
}

/** All the behaviour lines of the report. */
export function formatBehaviour(r: BehaviourBenchResult): string[] {
  const lines = [
    `Behaviour layer over ${r.spec}'s tree: ${r.versions} versions resolved on ${r.registry} ` +
      `(${r.resolveS.toFixed(1)} s), tarballs fetched and integrity-checked first ` +
      `(${r.fetchS.toFixed(1)} s, not in the figures). One version at a time (1 worker); wall ` +
      'time per version around runLayer(), dependency install included.',
    '',
    passTable(r),
    '(cold: each version installs its dependencies with an empty npm cache, so npm fetches ' +
      'them from the registry; warm: one npm cache shared by all, as on a server, filled first ' +
      `by one run of ${r.spec}. "other load" = CPU used by anything but the bench and its ` +
      'children, in % of one core)',
  ];
  for (const { key, pass } of passes(r)) lines.push('', slowestTable(key, pass));
  const withScripts = r.warm.timings.filter((t) => (t.scripts ?? 0) > 0).map(id);
  lines.push(
    `Versions with install scripts: ${withScripts.length === 0 ? 'none' : withScripts.join(', ')}` +
      `; with dependencies: ${r.warm.timings.filter((t) => (t.dependencies ?? 0) > 0).length}.`,
  );
  lines.push(
    '(deps = npm installing the dependencies with scripts off, outside the sandbox; scripts = ' +
      'lifecycle scripts in the sandbox; loads = each entry point loaded in the sandbox; rest = ' +
      'workspace, decoys, unpacking, trace parsing, removal)',
  );
  const flagged = passes(r).flatMap(({ key, pass }) =>
    pass.timings
      .filter((t) => t.outcome !== 'pass')
      .map((t) => `  ${key}: ${id(t)} ${t.outcome} ${t.codes.join(', ')} ${t.reason ?? ''}`),
  );
  if (flagged.length > 0) {
    lines.push('Not passed:', ...flagged.slice(0, MAX_LISTED));
    if (flagged.length > MAX_LISTED) lines.push(`  and ${flagged.length - MAX_LISTED} more`);
  }
  const warmups = r.warmup.map((t) => `${id(t)} ${s(t.wallMs)} s`);
  lines.push(`Warm-up runs, not in the figures: ${warmups.join(', ')}`);
  if (r.engine) {
    const e = r.engine;
    const inLayers = e.layers.reduce((ms, l) => ms + l.durationMs, 0);
    lines.push(
      '',
      `${id(e)} end to end through the engine (packument, integrity fetch with an empty pacote ` +
        `cache, static, js-signals, behaviour with the warm npm cache, standard policy): ` +
        `${e.status} in ${s(e.wallMs)} s`,
      `  ${e.layers.map((l) => `${l.layer} ${s(l.durationMs)} s (${l.outcome})`).join(', ')}, ` +
        `packument and store ${s(Math.max(0, e.wallMs - inLayers))} s`,
    );
  } else if (r.engineError) {
    lines.push('', `${r.spec} through the engine could not be timed: ${r.engineError}`);
  }
  return lines;
}

/**
 * "A typical pure-JS package verifies in under 5 s": the median version of the tree (most of
 * it small packages with few or no dependencies), with the npm cache warm and cold; and
 * express itself, which has the most dependencies of its tree, end to end through every layer,
 * plus its behaviour run on an empty npm cache.
 */
export function behaviourTargets(r: BehaviourBenchResult): Target[] {
  const under = (name: string, ms: number): Target => ({
    name,
    target: `< ${VERIFY_TARGET_MS / 1000} s`,
    value: `${s(ms)} s`,
    met: ms < VERIFY_TARGET_MS,
  });
  const out = [under(`behaviour median, ${r.spec} tree, warm cache`, r.warm.stats.medianMs)];
  if (r.cold) {
    out.push(under(`behaviour median, ${r.spec} tree, cold cache`, r.cold.stats.medianMs));
  }
  const cold = rootOf(r.cold, r.spec);
  if (cold) out.push(under(`${r.spec} behaviour, cold cache`, cold.wallMs));
  if (r.engine) out.push(under(`${r.spec} end to end, all layers`, r.engine.wallMs));
  return out;
}

/** The JSON summary of the behaviour part; per-version timings go to `details`. */
export function summariseBehaviour(r: BehaviourBenchResult) {
  const pass = (p: PassResult) => ({
    ...p.stats,
    outcomes: p.outcomes,
    otherCores: p.otherCores,
    slowest: slowest(p.timings, SLOWEST).map((t) => ({
      version: id(t),
      wallMs: t.wallMs,
      dependencies: t.dependencies,
      dependenciesMs: t.dependenciesMs,
      scriptsMs: t.scriptsMs,
      loadsMs: t.loadsMs,
      runs: t.runs,
      otherMs: t.otherMs,
      outcome: t.outcome,
    })),
  });
  return {
    registry: r.registry,
    spec: r.spec,
    versions: r.versions,
    workers: 1,
    resolveS: r.resolveS,
    fetchS: r.fetchS,
    cold: r.cold && pass(r.cold),
    warm: pass(r.warm),
    rootMs: { cold: rootOf(r.cold, r.spec)?.wallMs, warm: rootOf(r.warm, r.spec)?.wallMs },
    engine: r.engine,
    engineError: r.engineError,
  };
}
