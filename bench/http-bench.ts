/**
 * The HTTP measurements: each serving case (tarball size × connections) on plain Verdaccio and
 * on vetted, alternating which goes first, over one or more rounds; and vetted's 403 path.
 * Every measurement is preceded by a short wrk warm-up at the same concurrency.
 */
import { cpuShare, sampleCpu } from './cpu';
import type { CpuShare } from './cpu';
import type { Fixture } from './fixtures';
import type { ServerLabel, ServerUnderTest } from './servers';
import { mean } from './stats';
import { runWrk } from './wrk';
import type { WrkResult } from './wrk';

export interface HttpSettings {
  durationS: number;
  warmupS: number;
  rounds: number;
  script: string;
  progress: (line: string) => void;
}

/** One wrk run with the CPU it cost (undefined without /proc). */
export interface Measurement extends WrkResult {
  cpu: CpuShare | undefined;
}

export interface ServingCase {
  id: string;
  fixture: Fixture;
  connections: number;
}

/** Means over the rounds; per-round values stay in `rounds`. */
export interface ServerSummary {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  rpsMin: number;
  rpsMax: number;
  /** Server CPU per request (user + system), mean over rounds. */
  cpuMsPerReq: number | undefined;
}

export interface ServingResult {
  id: string;
  tarball: string;
  connections: number;
  rounds: Array<{ round: number; order: ServerLabel[]; plain: Measurement; vetted: Measurement }>;
  plain: ServerSummary;
  vetted: ServerSummary;
  /** vetted rps / plain rps. */
  ratio: number;
  addedP50Ms: number;
  addedP99Ms: number;
  /** vetted CPU per request / plain CPU per request. */
  cpuRatio: number | undefined;
  /** The most CPU anything but wrk and the server used during one of the runs, in cores. */
  maxOtherCores: number | undefined;
  /** Wrong statuses or socket errors: the numbers are not a valid measurement. */
  problems: string[];
}

export interface RefusalResult {
  connections: number;
  result: Measurement;
  problems: string[];
}

/** Runs every case on both servers, round by round, swapping the order from case to case. */
export async function runServingCases(
  servers: Record<ServerLabel, ServerUnderTest>,
  cases: ServingCase[],
  settings: HttpSettings,
): Promise<ServingResult[]> {
  const runs = new Map<string, ServingResult['rounds']>(cases.map((c) => [c.id, []]));
  for (let round = 1; round <= settings.rounds; round++) {
    for (const [i, c] of cases.entries()) {
      const order: ServerLabel[] =
        (i + round) % 2 === 1 ? ['plain', 'vetted'] : ['vetted', 'plain'];
      const got: Partial<Record<ServerLabel, Measurement>> = {};
      for (const label of order) {
        got[label] = await measure(
          servers[label],
          c.fixture,
          c.connections,
          settings,
          `round ${round} ${c.id} ${label}`,
        );
      }
      runs.get(c.id)?.push({
        round,
        order,
        plain: got.plain as Measurement,
        vetted: got.vetted as Measurement,
      });
    }
  }
  return cases.map((c) => summariseCase(c, runs.get(c.id) ?? []));
}

/** wrk on a tarball vetted refuses; every response must be a non-2xx status. */
export async function runRefusal(
  vetted: ServerUnderTest,
  fixture: Fixture,
  connections: number[],
  settings: HttpSettings,
): Promise<RefusalResult[]> {
  const out: RefusalResult[] = [];
  for (const c of connections) {
    const result = await measure(vetted, fixture, c, settings, `403 c=${c}`);
    const problems: string[] = [];
    if (result.non2xx !== result.requests) {
      problems.push(
        `${result.requests - result.non2xx} of ${result.requests} responses were 2xx/3xx, not 403`,
      );
    }
    if (result.socketErrors > 0) problems.push(`${result.socketErrors} socket errors or timeouts`);
    out.push({ connections: c, result, problems });
  }
  return out;
}

async function measure(
  server: ServerUnderTest,
  fixture: Fixture,
  connections: number,
  settings: HttpSettings,
  what: string,
): Promise<Measurement> {
  const url = server.base + fixture.tarballPath;
  if (settings.warmupS > 0) {
    await runWrk({
      url,
      connections,
      durationS: settings.warmupS,
      script: settings.script,
      headers: fixture.headers,
    });
  }
  const before = sampleCpu(server.pid);
  const r = await runWrk({
    url,
    connections,
    durationS: settings.durationS,
    script: settings.script,
    headers: fixture.headers,
  });
  const cpu = cpuShare(before, sampleCpu(server.pid), r.requests);
  const cpuText = cpu
    ? `  cpu ${cpu.serverMsPerReq.toFixed(3)} ms/req, other ${(cpu.otherCores * 100).toFixed(0)} %`
    : '';
  settings.progress(
    `${what.padEnd(24)} ${r.rps.toFixed(0).padStart(6)} rps  p50 ${r.latencyMs.p50.toFixed(2)} ms` +
      `  p99 ${r.latencyMs.p99.toFixed(2)} ms${cpuText}`,
  );
  return { ...r, cpu };
}

function summariseCase(c: ServingCase, rounds: ServingResult['rounds']): ServingResult {
  const problems: string[] = [];
  for (const r of rounds) {
    for (const label of ['plain', 'vetted'] as const) {
      const w = r[label];
      if (w.non2xx > 0) problems.push(`round ${r.round} ${label}: ${w.non2xx} non-2xx responses`);
      if (w.socketErrors > 0)
        problems.push(`round ${r.round} ${label}: ${w.socketErrors} socket errors`);
    }
  }
  const plain = summariseServer(rounds.map((r) => r.plain));
  const vetted = summariseServer(rounds.map((r) => r.vetted));
  const others = rounds.flatMap((r) => [r.plain.cpu?.otherCores, r.vetted.cpu?.otherCores]);
  return {
    id: c.id,
    tarball: `${c.fixture.name}@${c.fixture.version}`,
    connections: c.connections,
    rounds,
    plain,
    vetted,
    ratio: vetted.rps / plain.rps,
    addedP50Ms: vetted.p50Ms - plain.p50Ms,
    addedP99Ms: vetted.p99Ms - plain.p99Ms,
    cpuRatio:
      vetted.cpuMsPerReq !== undefined && plain.cpuMsPerReq !== undefined
        ? vetted.cpuMsPerReq / plain.cpuMsPerReq
        : undefined,
    maxOtherCores: others.every((o) => o !== undefined)
      ? Math.max(...(others as number[]))
      : undefined,
    problems,
  };
}

function summariseServer(results: Measurement[]): ServerSummary {
  const rps = results.map((r) => r.rps);
  const cpu = results.map((r) => r.cpu?.serverMsPerReq);
  return {
    rps: mean(rps),
    p50Ms: mean(results.map((r) => r.latencyMs.p50)),
    p99Ms: mean(results.map((r) => r.latencyMs.p99)),
    rpsMin: Math.min(...rps),
    rpsMax: Math.max(...rps),
    cpuMsPerReq: cpu.every((c) => c !== undefined) ? mean(cpu as number[]) : undefined,
  };
}
