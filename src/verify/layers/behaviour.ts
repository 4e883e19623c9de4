/**
 * The behaviour layer (DESIGN.md layer 3): the version installed and loaded in a traced
 * sandbox with decoy secrets, and what it did judged against what its purpose explains.
 *
 *   1. prepare   the verified tarball unpacked as `node_modules/<name>`, its dependencies
 *                installed beside it by npm with scripts off (on the host, nothing runs)
 *   2. install   each lifecycle script as npm runs it, in its own sandbox run
 *   3. load      each entry point (main, exports for require and import, bins with --help)
 *
 * Outcome: `fail` when a finding is high or critical (network, decoys, writes outside the
 * package, shells, timeouts), `warn` for anything else seen (expected activity included),
 * `pass` when nothing was, `unavailable` when the sandbox cannot run here. The result carries
 * a `summary` of the runs beside the findings. The codes of a run are listed in
 * ../../sandbox/judge.ts; this layer adds DEPENDENCIES_NOT_INSTALLED, INSTALL_SCRIPT_FAILED
 * (medium: less was observed) and LOAD_DEFERRED_TIMER (medium: a long timer never fired).
 * Depends on ../../sandbox and the layer contract.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import validateName from 'validate-npm-package-name';
import { readTarball, normalise } from '../tarball-contents';
import type { Layer, LayerInput } from '../layer';
import type { Finding, LayerResult } from '../../types';
import { VettedError } from '../../errors';
import {
  checkSandbox,
  createWorkspace,
  interruptedRun,
  entryPoints,
  extractPackage,
  installDependencies,
  installSteps,
  emptyCounts,
  judgeRun,
  linkBins,
  locateToolchain,
  packageBins,
  parseStrace,
  readHarnessReport,
  addHarnessFindings,
  resolveLimits,
  runSandboxed,
  scriptEnv,
  baseEnv,
  LOAD_HARNESS_FILE,
  LOAD_HARNESS_SOURCE,
  STRICT_EXPECTATIONS,
} from '../../sandbox';
import type {
  BehaviourExpectations,
  CheckSandboxOptions,
  LocateToolchainOptions,
  NodeToolchain,
  Phase,
  RunCounts,
  SandboxCheck,
  SandboxLimits,
  SandboxRunner,
  Workspace,
} from '../../sandbox';

export interface BehaviourLayerOptions {
  /** Registry the dependencies are installed from: the upstream. */
  upstream: string;
  /** Lines added to the dependency install's npmrc (credentials for the upstream). */
  npmrc?: string[];
  /** npm cache shared between runs (faster). Default: a fresh cache in every workspace. */
  npmCache?: string;
  /** Parent directory of the per-version workspaces. Default: the OS temp dir. */
  workRoot?: string;
  sandbox?: CheckSandboxOptions;
  toolchain?: LocateToolchainOptions;
  /** Limits of each install step. Default: 120 s wall and CPU, else as DEFAULT_LIMITS. */
  installLimits?: Partial<SandboxLimits>;
  /** Limits of each entry-point load. Default: 10 s wall and CPU. */
  loadLimits?: Partial<SandboxLimits>;
  /** Time the dependency install may take, in ms. Default 120 s. */
  dependencyTimeoutMs?: number;
  /** Entry points loaded at most. Default 12. */
  maxEntryPoints?: number;
  /** What the package's purpose allows; the default is strict (STRICT_EXPECTATIONS). */
  expectations?:
    | Partial<BehaviourExpectations>
    | ((pkg: { name: string; version: string }) => Partial<BehaviourExpectations> | undefined);
  /** Leave the workspace on disk (for debugging). Default false. */
  keepWorkspace?: boolean;
}

export interface BehaviourRun {
  phase: Phase;
  step: string;
  durationMs: number;
  exitCode?: number;
  signal?: string;
  killed?: string;
  cpuMs?: number;
  /** Why loading the entry point threw (a missing peer, a browser-only module). */
  error?: string;
  counts: RunCounts;
}

export interface BehaviourSummary {
  dependencies: { requested: number; ok: boolean; durationMs: number };
  runs: BehaviourRun[];
  totals: RunCounts;
  durationMs: number;
}

export type BehaviourResult = Omit<LayerResult, 'layer' | 'startedAt' | 'durationMs'> & {
  summary?: BehaviourSummary;
};

export interface BehaviourLayer extends Layer {
  run(input: LayerInput): Promise<BehaviourResult>;
}

const INSTALL_DEFAULTS: Partial<SandboxLimits> = { timeMs: 120_000, cpuSeconds: 120 };
const LOAD_DEFAULTS: Partial<SandboxLimits> = { timeMs: 10_000, cpuSeconds: 10 };

/**
 * Builds the layer; options are checked here, the sandbox is probed on first use.
 * @throws VettedError CONFIG_INVALID naming the option.
 * @example
 *   const behaviour = createBehaviourLayer({ upstream: 'https://registry.npmjs.org/' });
 */
export function createBehaviourLayer(options: BehaviourLayerOptions): BehaviourLayer {
  const opts = initOptions(options);
  let sandbox: Promise<SandboxCheck> | undefined;
  let toolchain: Promise<NodeToolchain> | undefined;

  async function prepareTools(): Promise<
    { runner: SandboxRunner; toolchain: NodeToolchain } | string
  > {
    toolchain ??= locateToolchain(options.toolchain);
    const tools = await toolchain.catch((err: unknown) => err as Error);
    if (tools instanceof Error) return `node/npm for the sandbox: ${tools.message}`;
    sandbox ??= checkSandbox({
      ...options.sandbox,
      systemPaths: [...(options.sandbox?.systemPaths ?? []), ...tools.systemPaths],
    });
    const check = await sandbox;
    // a failed probe is checked again next time: the cause may be fixed by then
    if (!check.available) {
      sandbox = undefined;
      if (check.interrupted) throw interrupted(check.reason);
      return check.reason;
    }
    return { runner: check.runner, toolchain: tools };
  }

  return {
    name: 'behaviour',
    async run(input) {
      const started = performance.now();
      const tools = await prepareTools();
      if (typeof tools === 'string') return { outcome: 'unavailable', findings: [], reason: tools };
      const contents = await readTarball(input.tarball);
      const pkg = parsePackageJson(contents.packageJson);
      const names = validateName(input.name);
      if (!pkg || !names.validForOldPackages) {
        return {
          outcome: 'error',
          findings: [],
          reason: !pkg ? 'the tarball has no readable package.json' : `invalid name ${input.name}`,
        };
      }
      const ws = await createWorkspace({
        root: options.workRoot,
        hostUser: tools.runner.hostUser,
      });
      try {
        const files = new Set(contents.entries.map((e) => normalise(e.path)));
        const ctx: Session = {
          input,
          pkg,
          ws,
          runner: tools.runner,
          toolchain: tools.toolchain,
          hasBindingGyp: files.has('binding.gyp'),
          expectations: expectationsFor(input),
          findings: [],
          runs: [],
        };
        const deps = await prepare(ctx);
        await installPhase(ctx);
        await loadPhase(ctx);
        const summary: BehaviourSummary = {
          dependencies: deps,
          runs: ctx.runs,
          totals: sumCounts(ctx.runs),
          durationMs: Math.round(performance.now() - started),
        };
        return { outcome: outcomeOf(ctx.findings), findings: ctx.findings, summary };
      } finally {
        if (!options.keepWorkspace) await ws.dispose();
      }
    },
  };

  function expectationsFor(input: LayerInput): BehaviourExpectations {
    const given =
      typeof options.expectations === 'function'
        ? options.expectations({ name: input.name, version: input.version })
        : options.expectations;
    return { ...STRICT_EXPECTATIONS, ...given };
  }

  /** Phase 1: unpack, install the dependencies (no scripts), link bins. */
  async function prepare(ctx: Session): Promise<BehaviourSummary['dependencies']> {
    const { ws, input } = ctx;
    const bins = packageBins(ctx.pkg, input.name);
    const deps = await installDependencies({
      project: ws.host.project,
      manifest: input.manifest,
      registry: opts.upstream,
      toolchain: ctx.toolchain,
      configDir: ws.host.npm,
      cache: options.npmCache ?? path.join(ws.host.npm, 'cache'),
      npmrc: options.npmrc,
      timeoutMs: opts.dependencyTimeoutMs,
      signal: input.signal,
    });
    throwIfAborted(input.signal);
    if (!deps.ok) {
      ctx.findings.push({
        code: 'DEPENDENCIES_NOT_INSTALLED',
        severity: 'medium',
        message: `its dependencies could not be installed (npm exit ${deps.exitCode ?? 'none'}); loading saw less`,
        evidence: { phase: 'prepare', output: deps.output },
      });
    }
    await extractPackage(input.tarball, packageHostDir(ctx), Object.values(bins));
    await linkBins(ws.host.project, input.name, bins);
    await writeFile(path.join(ws.host.runner, LOAD_HARNESS_FILE), LOAD_HARNESS_SOURCE);
    await ws.handOver();
    return { requested: deps.requested, ok: deps.ok, durationMs: deps.durationMs };
  }

  /** Phase 2: the lifecycle scripts, stopping where npm would (a failed script). */
  async function installPhase(ctx: Session): Promise<void> {
    const { ws } = ctx;
    const dir = packageSandboxDir(ctx);
    const base = baseEnv(identity(ws), ctx.toolchain.node, ws.decoys.env);
    for (const step of installSteps(ctx.pkg, ctx.hasBindingGyp)) {
      const env = scriptEnv(base, step, ctx.pkg, dir, ws.sandbox.project, ctx.toolchain);
      const label = step.implicit ? `${step.event} (node-gyp rebuild)` : step.event;
      const run = await sandboxRun(ctx, 'install', label, {
        argv: ['/bin/sh', '-c', step.script],
        cwd: dir,
        env,
        limits: opts.installLimits,
      });
      if (run.exitCode === 0) continue;
      if (!run.killed) {
        ctx.findings.push({
          code: 'INSTALL_SCRIPT_FAILED',
          severity: 'medium',
          message: `${label}: exited ${run.exitCode ?? run.signal}; npm stops the install here, so what follows was not observed`,
          evidence: {
            phase: 'install',
            step: label,
            exitCode: run.exitCode,
            output: tail(run.stderr),
          },
        });
      }
      break;
    }
  }

  /** Phase 3: every entry point, each in its own run with its own time limit. */
  async function loadPhase(ctx: Session): Promise<void> {
    const { ws } = ctx;
    const dir = packageSandboxDir(ctx);
    const env = baseEnv(identity(ws), ctx.toolchain.node, ws.decoys.env);
    env.PATH = `${ws.sandbox.project}/node_modules/.bin:${env.PATH}`;
    const hostDir = packageHostDir(ctx);
    const exists = (rel: string) =>
      lstatSync(path.join(hostDir, rel), { throwIfNoEntry: false })?.isFile() ?? false;
    const bins = packageBins(ctx.pkg, ctx.input.name);
    for (const entry of entryPoints(ctx.pkg, bins, exists, opts.maxEntryPoints)) {
      const file = path.posix.join(dir, entry.file);
      const marker = `@@vetted-${randomBytes(6).toString('hex')}`;
      const argv =
        entry.kind === 'bin'
          ? [file, '--help']
          : [
              ctx.toolchain.node,
              `${ws.sandbox.runner}/${LOAD_HARNESS_FILE}`,
              entry.kind,
              file,
              marker,
            ];
      const run = await sandboxRun(ctx, 'load', entry.label, {
        argv,
        cwd: ws.sandbox.project,
        env,
        limits: opts.loadLimits,
      });
      if (entry.kind === 'bin') continue;
      const report = readHarnessReport(run.stderr, marker);
      addHarnessFindings(ctx.findings, entry.label, report, run);
      if (report.threw !== undefined) run.summary.error = report.threw.slice(0, 300);
    }
  }

  async function sandboxRun(
    ctx: Session,
    phase: Phase,
    step: string,
    spec: { argv: string[]; cwd: string; env: Record<string, string>; limits: SandboxLimits },
  ) {
    const { ws } = ctx;
    const result = await runSandboxed(ctx.runner, {
      ...spec,
      mounts: ws.mounts,
      tracePath: ws.tracePath(`${phase}-${step}`),
      diskPath: ws.dir,
      signal: ctx.input.signal,
    });
    throwIfAborted(ctx.input.signal);
    // half a watched run is no run: the job is repeated rather than judged on it
    if (interruptedRun(result)) throw interrupted(`${step} died of ${result.signal}`);
    const trace = parseStrace(result.trace, { skipSetup: true, cwd: spec.cwd });
    if (trace.rootPid === undefined && !result.killed) {
      throw new Error(`the sandbox did not start for ${step}: ${result.stderr.trim().slice(-500)}`);
    }
    const judged = judgeRun(trace, result, {
      phase,
      step,
      layout: {
        home: ws.sandbox.home,
        project: ws.sandbox.project,
        packageDir: packageSandboxDir(ctx),
        tmp: ws.sandbox.tmp,
        node: ctx.toolchain.node,
      },
      decoys: ws.decoys,
      expectations: ctx.expectations,
      hasBindingGyp: ctx.hasBindingGyp,
      runnerExecs: 2,
    });
    ctx.findings.push(...judged.findings);
    const run: BehaviourRun = { phase, step, durationMs: result.durationMs, counts: judged.counts };
    if (result.exitCode !== undefined) run.exitCode = result.exitCode;
    if (result.signal !== undefined) run.signal = result.signal;
    if (result.killed !== undefined) run.killed = result.killed;
    if (result.cpuMs !== undefined) run.cpuMs = result.cpuMs;
    ctx.runs.push(run);
    return { ...run, stderr: result.stderr, summary: run };
  }
}

interface Session {
  input: LayerInput;
  pkg: Record<string, unknown>;
  ws: Workspace;
  runner: SandboxRunner;
  toolchain: NodeToolchain;
  hasBindingGyp: boolean;
  expectations: BehaviourExpectations;
  findings: Finding[];
  runs: BehaviourRun[];
}

function outcomeOf(findings: Finding[]): BehaviourResult['outcome'] {
  if (findings.some((f) => f.severity === 'critical' || f.severity === 'high')) return 'fail';
  return findings.length > 0 ? 'warn' : 'pass';
}

function sumCounts(runs: BehaviourRun[]): RunCounts {
  const total = emptyCounts();
  for (const run of runs) {
    for (const key of Object.keys(total) as Array<keyof RunCounts>) total[key] += run.counts[key];
  }
  return total;
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-5).join('\n').slice(-800);
}

function identity(ws: Workspace) {
  return { user: ws.user, hostname: ws.hostname, ...ws.sandbox };
}

function packageHostDir(ctx: Session): string {
  return path.join(ctx.ws.host.project, 'node_modules', ...ctx.input.name.split('/'));
}

function packageSandboxDir(ctx: Session): string {
  return path.posix.join(ctx.ws.sandbox.project, 'node_modules', ctx.input.name);
}

function parsePackageJson(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason ?? new Error('aborted');
}

/** Checks and fills the options once. */
function initOptions(options: BehaviourLayerOptions) {
  const fail = (where: string, what: string) =>
    new VettedError('CONFIG_INVALID', `behaviour.${where} ${what}`);
  let upstream: URL;
  try {
    upstream = new URL(options.upstream);
  } catch {
    throw fail('upstream', `must be a registry URL, got ${String(options.upstream)}`);
  }
  if (!/^https?:$/.test(upstream.protocol)) throw fail('upstream', 'must be http or https');
  const maxEntryPoints = options.maxEntryPoints ?? 12;
  if (!Number.isInteger(maxEntryPoints) || maxEntryPoints < 0 || maxEntryPoints > 100) {
    throw fail('maxEntryPoints', `must be an integer from 0 to 100, got ${maxEntryPoints}`);
  }
  const dependencyTimeoutMs = options.dependencyTimeoutMs ?? 120_000;
  if (!Number.isInteger(dependencyTimeoutMs) || dependencyTimeoutMs < 1000) {
    throw fail(
      'dependencyTimeoutMs',
      `must be an integer of at least 1000, got ${dependencyTimeoutMs}`,
    );
  }
  const e = options.expectations;
  if (e && typeof e === 'object') {
    for (const key of ['allowSpawn', 'allowWrite'] as const) {
      const list = e[key];
      if (list !== undefined && (!Array.isArray(list) || list.some((x) => typeof x !== 'string'))) {
        throw fail(`expectations.${key}`, 'must be a list of strings');
      }
    }
  }
  if (!upstream.pathname.endsWith('/')) upstream.pathname += '/';
  return Object.freeze({
    upstream: upstream.href,
    maxEntryPoints,
    dependencyTimeoutMs,
    installLimits: resolveLimits(
      { ...INSTALL_DEFAULTS, ...options.installLimits },
      'behaviour.installLimits',
    ),
    loadLimits: resolveLimits({ ...LOAD_DEFAULTS, ...options.loadLimits }, 'behaviour.loadLimits'),
  });
}

function interrupted(what: string): VettedError {
  return new VettedError(
    'LAYER_INTERRUPTED',
    `the sandbox was killed from outside (${what}); verification runs again`,
  );
}
