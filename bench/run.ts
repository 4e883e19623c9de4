/**
 * `npm run bench`: how much serving through vetted costs next to plain Verdaccio 6.8, how fast
 * the verified index answers at 100k records, and how long the behaviour layer takes per
 * version over express@4.18.2's real tree. Steps:
 *   1. an upstream Verdaccio with bench-small, bench-big (1 MB) and bench-held published by npm;
 *   2. plain Verdaccio and vetted, both proxying it, warmed so both serve cached tarballs;
 *   3. wrk on each tarball at c=1 and c=32, and on bench-small's packument (full at c=1 and
 *      c=32, abbreviated at c=32), the two servers alternating, over `rounds` rounds;
 *   4. wrk on bench-held's tarball, which vetted refuses (403; by policy, or an admin deny);
 *   5. the servers stopped, `VerifiedIndex.get()` timed in this process;
 *   6. the behaviour layer over express@4.18.2's tree from the user's registry, one version at
 *      a time, npm cache cold then warm, and express through the whole engine.
 * Prints tables, the targets and a JSON summary (also bench/results/latest.json). Exit 0 when
 * everything ran, targets met or not; 1 when something could not run or a measurement is
 * invalid (wrong statuses, socket errors).
 * Settings come from the environment (settings.ts, bench/README.md).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runBehaviourBench } from './behaviour-bench';
import type { BehaviourBenchResult } from './behaviour-bench';
import { Cleanup } from './cleanup';
import { createUpstream } from './fixtures';
import { runRefusal, runServingCases } from './http-bench';
import type { HttpSettings, RefusalResult, ServingResult } from './http-bench';
import { runIndexLookup } from './index-lookup';
import type { LookupResult } from './index-lookup';
import { describeEnvironment } from './environment';
import { readSettings } from './settings';
import type { Part, Settings } from './settings';
import type { Fixture } from './fixtures';
import type { ServerUnderTest } from './servers';
import { formatReport, rounded, summarise, targets } from './report';
import { denyVersion, startPlain, startVetted, statusOf, verdictOf, warmTarball } from './servers';
import { checkWrk, stopWrk, writeWrkScript } from './wrk';
import { formatRebuild, runRebuildBench } from './rebuild-bench';
import type { RebuildBenchResult } from './rebuild-bench';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const RESULTS_FILE = path.join(REPO_ROOT, 'bench', 'results', 'latest.json');
/** The tree of the behaviour part (issue 3: "median and p90 over the express@4.18.2 tree"). */
const BEHAVIOUR_SPEC = 'express@4.18.2';
/** One version's time limit, as the queue's default `jobTimeout`. */
const VERSION_TIMEOUT_MS = 300_000;
const CORGI_ACCEPT = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';

const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);
const out = (text = '') => process.stdout.write(`${text}\n`);

interface HttpResults {
  serving: ServingResult[];
  refusal: RefusalResult[];
  /** Why vetted refuses bench-held: its policy verdict, or an admin deny when it admitted it. */
  refusedBy: string;
}

/**
 * Gets bench-held refused. Its postinstall script was held by the standard policy when this
 * bench was written; a policy that admits it now is met with an admin deny, since the gate's
 * refusal path costs the same whatever the reason.
 */
async function refuseHeld(vetted: ServerUnderTest, held: Fixture): Promise<string> {
  await statusOf(vetted, held); // queues the verification and waits for it
  const verdict = await verdictOf(vetted, held);
  let refusedBy = `policy: ${verdict.status} (${verdict.reasons[0] ?? 'no reason given'})`;
  if (verdict.status === 'verified' || verdict.status === 'approved') {
    await denyVersion(vetted, held);
    refusedBy = `admin deny (the policy ${verdict.status} it)`;
  }
  const status = await statusOf(vetted, held);
  if (status !== 403) throw new Error(`vetted answers ${status} for ${held.name}, not 403`);
  progress(`setup: ${held.name} refused by ${refusedBy}`);
  return refusedBy;
}

async function runHttp(root: string, settings: Settings, cleanup: Cleanup): Promise<HttpResults> {
  const http: HttpSettings = {
    durationS: settings.durationS,
    warmupS: settings.warmupS,
    rounds: settings.rounds,
    script: writeWrkScript(root),
    progress,
  };
  progress('setup: upstream Verdaccio, publishing bench-small, bench-big, bench-held with npm');
  const { upstream, fixtures } = await createUpstream(root, cleanup);
  const running: ServerUnderTest[] = [];
  try {
    progress('setup: starting plain Verdaccio and vetted');
    const plain = await startPlain(root, upstream.url, cleanup);
    running.push(plain);
    const vetted = await startVetted(root, upstream.url, cleanup, settings.vettedNodeArgs);
    running.push(vetted);

    progress('setup: warming both servers (vetted verifies each version on first request)');
    for (const f of [fixtures.small, fixtures.big]) {
      await warmTarball(plain, f);
      await warmTarball(vetted, f);
      const verdict = await verdictOf(vetted, f);
      if (verdict.status !== 'verified') {
        throw new Error(
          `vetted did not verify ${f.name}: ${verdict.status} ${verdict.reasons.join('; ')}`,
        );
      }
    }
    const refusedBy = await refuseHeld(vetted, fixtures.held);
    // the metadata path: bench-small's packument, full and abbreviated (vetted steers both)
    const packument = { ...fixtures.small, tarballPath: `/${fixtures.small.name}` };
    const corgi = { ...packument, headers: [`Accept: ${CORGI_ACCEPT}`] };

    const serving = await runServingCases(
      { plain, vetted },
      [
        { id: 'small c=1', fixture: fixtures.small, connections: 1 },
        { id: 'small c=32', fixture: fixtures.small, connections: 32 },
        { id: '1 MB c=1', fixture: fixtures.big, connections: 1 },
        { id: '1 MB c=32', fixture: fixtures.big, connections: 32 },
        { id: 'packument c=1', fixture: packument, connections: 1 },
        { id: 'packument c=32', fixture: packument, connections: 32 },
        { id: 'abbreviated c=32', fixture: corgi, connections: 32 },
      ],
      http,
    );
    const refusal = await runRefusal(vetted, fixtures.held, [1, 32], http);
    return { serving, refusal, refusedBy };
  } finally {
    // stopped here, not only at the end, so the index measurement runs on a quiet machine
    await Promise.all([...running.map((s) => s.stop()), upstream.stop()]);
  }
}

async function main(): Promise<number> {
  const settings = readSettings(process.env);
  const cleanup = new Cleanup();
  cleanup.add('stopping wrk', stopWrk);
  const interrupt = new AbortController();
  const interrupted = (signal: string) => {
    progress(`${signal}: stopping servers and removing temp dirs`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', () => interrupted('SIGINT'));
  process.once('SIGTERM', () => interrupted('SIGTERM'));

  const started = Date.now();
  const errors: string[] = [];
  let http: HttpResults | undefined;
  let lookup: LookupResult | undefined;
  let behaviour: BehaviourBenchResult | undefined;
  let rebuild: RebuildBenchResult | undefined;
  let wrk: string | undefined;
  const runs = (part: Part) => settings.only === undefined || settings.only === part;
  try {
    const root = await mkdtemp(path.join(os.tmpdir(), 'vetted-bench-'));
    cleanup.add(`removing ${root}`, () => rm(root, { recursive: true, force: true }));
    // runs before the removal: sandboxed runs are killed and their workspaces removed first
    let behaviourRun: Promise<unknown> | undefined;
    cleanup.add('stopping behaviour runs', async () => {
      interrupt.abort(new Error('interrupted'));
      await behaviourRun?.catch(() => undefined);
    });
    if (runs('http')) {
      try {
        wrk = await checkWrk();
        http = await runHttp(root, settings, cleanup);
      } catch (err) {
        errors.push(`http: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
    }
    if (runs('index')) {
      try {
        const dir = path.join(root, 'lookup');
        await mkdir(dir);
        lookup = await runIndexLookup(dir, {
          records: settings.records,
          lookups: settings.lookups,
          hotSet: 10_000,
          cacheMax: 20_000,
          progress,
        });
      } catch (err) {
        errors.push(`index: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
    }
    if (runs('behaviour')) {
      try {
        const dir = path.join(root, 'behaviour');
        await mkdir(dir);
        const running = runBehaviourBench(dir, {
          spec: BEHAVIOUR_SPEC,
          cold: settings.behaviourCold,
          engine: true,
          versionTimeoutMs: VERSION_TIMEOUT_MS,
          signal: interrupt.signal,
          progress,
        });
        behaviourRun = running;
        behaviour = await running;
      } catch (err) {
        errors.push(
          `behaviour: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
      }
    }
    if (runs('rebuild')) {
      try {
        const dir = path.join(root, 'rebuild');
        await mkdir(dir);
        rebuild = await runRebuildBench(dir, { rounds: settings.rebuildRounds, progress });
      } catch (err) {
        errors.push(`rebuild: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
    }
  } finally {
    for (const failure of await cleanup.run()) errors.push(`cleanup: ${failure}`);
  }

  const env = describeEnvironment(settings, wrk);
  const invalid = [
    ...(http?.serving ?? []).flatMap((r) => r.problems.map((p) => `${r.id}: ${p}`)),
    ...(http?.refusal ?? []).flatMap((r) => r.problems.map((p) => `403 c=${r.connections}: ${p}`)),
  ];
  const goals = targets(http?.serving ?? [], lookup, behaviour);

  out(
    formatReport({
      env,
      serving: http?.serving,
      refusal: http?.refusal,
      refusedBy: http?.refusedBy,
      lookup,
      behaviour,
      goals,
      invalid,
      errors,
    }),
  );

  if (rebuild) out(['', ...formatRebuild(rebuild)].join('\n'));

  const summary = {
    environment: env,
    elapsedS: (Date.now() - started) / 1000,
    ...summarise(http?.serving, http?.refusal, lookup, behaviour),
    refusedBy: http?.refusedBy,
    rebuild,
    targets: goals,
    invalid,
    errors,
  };
  out();
  out(JSON.stringify(rounded(summary), null, 2));
  const details = {
    serving: http?.serving,
    refusal: http?.refusal,
    indexLookup: lookup,
    behaviour,
  };
  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, `${JSON.stringify(rounded({ ...summary, details }), null, 2)}\n`);
  progress(
    `wrote ${path.relative(REPO_ROOT, RESULTS_FILE)} after ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  return errors.length > 0 || invalid.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
