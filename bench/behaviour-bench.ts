/**
 * What the behaviour layer (src/verify/layers/behaviour.ts) costs per version on a real tree:
 * every version npm resolves for `express@4.18.2` on the user's registry, run through the
 * layer one at a time, as one queue worker would. Steps:
 *   1. resolve the tree (dependency-tree.ts), then fetch each packument and tarball with
 *      pacote, checked against the lockfile's integrity (src/registry/upstream.ts);
 *   2. warm-up: one version without dependencies, so the sandbox probe and the first start of
 *      node and strace are not in the figures;
 *   3. the cold pass: each version's dependencies installed with an empty npm cache of its own
 *      (the layer's default), so npm fetches every packument and tarball from the registry;
 *   4. warm-up of a layer with one shared npm cache, as `<home>/cache/behaviour-npm` is on a
 *      server: the root spec once, which puts nearly the whole tree in that cache;
 *   5. the warm pass over every version with that layer;
 *   6. optionally, the root spec through the whole engine with the warm layer (engine-path.ts).
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createUpstream } from '../src/registry/upstream';
import type { LayerInput } from '../src/verify/layer';
import { createBehaviourLayer } from '../src/verify/layers/behaviour';
import { runPass, timeVersion, describeTiming } from './behaviour-pass';
import type { PassResult, VersionTiming } from './behaviour-pass';
import { resolveTree, userRegistry } from './dependency-tree';
import { runEnginePath } from './engine-path';
import type { EnginePathResult } from './engine-path';

export interface BehaviourSettings {
  /** The root of the tree, `name@version`. */
  spec: string;
  /** Run the cold pass (each version on an empty npm cache) before the warm one. */
  cold: boolean;
  /** Also time the root spec through the whole engine (all layers). */
  engine: boolean;
  /** Time limit of one version. */
  versionTimeoutMs: number;
  /** Aborted when the bench is interrupted. */
  signal: AbortSignal;
  progress: (line: string) => void;
}

export interface BehaviourBenchResult {
  registry: string;
  spec: string;
  versions: number;
  resolveS: number;
  /** Packuments and tarballs of the whole tree, 8 at a time. */
  fetchS: number;
  /** Runs before the passes, not in their figures. */
  warmup: VersionTiming[];
  cold?: PassResult;
  warm: PassResult;
  engine?: EnginePathResult;
  /** Why the engine path could not be timed. */
  engineError?: string;
}

const FETCH_CONCURRENCY = 8;

/** Runs the behaviour part in `dir` (an empty temp dir). */
export async function runBehaviourBench(
  dir: string,
  settings: BehaviourSettings,
): Promise<BehaviourBenchResult> {
  const { progress, signal } = settings;
  splitSpec(settings.spec); // a bad spec fails before the network is used
  const registry = await userRegistry();
  let started = performance.now();
  const tree = await resolveTree(settings.spec, registry, path.join(dir, 'tree'));
  const resolveS = (performance.now() - started) / 1000;
  progress(`behaviour: ${settings.spec} resolves to ${tree.length} versions on ${registry}`);

  // 1. every tarball, checked as pacote checks it
  started = performance.now();
  const upstream = createUpstream({ registry, cache: path.join(dir, 'pacote') });
  const inputs = await mapLimit(tree, FETCH_CONCURRENCY, async (entry) => {
    const packument = await upstream.packument(entry.name, signal);
    const manifest = packument.versions?.[entry.version];
    if (!manifest) throw new Error(`${registry} has no ${entry.name}@${entry.version}`);
    const tarball = await upstream.tarball(entry.resolved, entry.integrity, signal);
    const input: Omit<LayerInput, 'signal'> = {
      name: entry.name,
      version: entry.version,
      packument,
      manifest,
      tarball,
    };
    return input;
  });
  const fetchS = (performance.now() - started) / 1000;
  progress(`behaviour: fetched and checked ${inputs.length} tarballs in ${fetchS.toFixed(1)} s`);

  // when this runs as root the sandbox runs as an unprivileged host user, which must reach its
  // workspace through every parent directory: so not under `dir` (its parents may be 0700)
  const workRoot = await mkdtemp(path.join(tmpdir(), 'vetted-bench-behaviour-'));
  try {
    await chmod(workRoot, 0o711);
    return await runPasses(dir, workRoot, settings, { registry, resolveS, fetchS, inputs });
  } finally {
    await rm(workRoot, { recursive: true, force: true });
  }
}

interface FetchedTree {
  registry: string;
  resolveS: number;
  fetchS: number;
  inputs: Array<Omit<LayerInput, 'signal'>>;
}

/** Steps 2 to 6, with the workspaces under `workRoot`. */
async function runPasses(
  dir: string,
  workRoot: string,
  settings: BehaviourSettings,
  { registry, resolveS, fetchS, inputs }: FetchedTree,
): Promise<BehaviourBenchResult> {
  const { progress, signal } = settings;
  const [name, version] = splitSpec(settings.spec);
  const root = inputs.find((i) => i.name === name && i.version === version);
  if (!root) throw new Error(`${settings.spec} is not in its own tree`);
  const leaf = inputs.find((i) => Object.keys(i.manifest.dependencies ?? {}).length === 0);
  const coldLayer = createBehaviourLayer({ upstream: registry, workRoot });
  const warmLayer = createBehaviourLayer({
    upstream: registry,
    npmCache: path.join(dir, 'npm-cache'),
    workRoot,
  });
  const passOptions = { versionTimeoutMs: settings.versionTimeoutMs, signal };
  const warmup: VersionTiming[] = [];
  const warmUp = async (layer: typeof coldLayer, input: Omit<LayerInput, 'signal'>) => {
    const timing = await timeVersion(layer, input, passOptions);
    progress(`behaviour: warm-up ${describeTiming(timing)}`);
    // every later figure would time the same failure
    if (timing.outcome === 'unavailable' || timing.outcome === 'error') {
      throw new Error(
        `the behaviour layer cannot run here (${timing.outcome} on ${input.name}@` +
          `${input.version}): ${timing.reason ?? 'no reason given'}`,
      );
    }
    warmup.push(timing);
  };
  const onVersion = (pass: string) => (t: VersionTiming, done: number, total: number) =>
    progress(`behaviour: ${pass} ${done}/${total} ${describeTiming(t)}`);

  // 2-3. the sandbox probed, then every version on an empty npm cache
  if (leaf) await warmUp(coldLayer, leaf);
  let cold: PassResult | undefined;
  if (settings.cold) {
    cold = await runPass(coldLayer, inputs, { ...passOptions, onVersion: onVersion('cold') });
  }
  // 4-5. the shared cache filled by the root spec, then every version on it
  await warmUp(warmLayer, root);
  const warm = await runPass(warmLayer, inputs, { ...passOptions, onVersion: onVersion('warm') });

  const result: BehaviourBenchResult = {
    registry,
    spec: settings.spec,
    versions: inputs.length,
    resolveS,
    fetchS,
    warmup,
    warm,
  };
  if (cold) result.cold = cold;
  // 6. the root spec through every layer
  if (settings.engine) {
    try {
      const engineDir = path.join(dir, 'engine');
      await mkdir(engineDir);
      const opts = { registry, name, version, behaviour: warmLayer, signal };
      result.engine = await runEnginePath(engineDir, opts);
      progress(
        `behaviour: engine ${settings.spec} ${result.engine.status} in ` +
          `${(result.engine.wallMs / 1000).toFixed(1)} s`,
      );
    } catch (err) {
      if (signal.aborted) throw err;
      result.engineError = err instanceof Error ? err.message : String(err);
    }
  }
  return result;
}

function splitSpec(spec: string): [string, string] {
  const at = spec.lastIndexOf('@');
  if (at <= 0) throw new Error(`the tree's root must be name@version, got ${spec}`);
  return [spec.slice(0, at), spec.slice(at + 1)];
}

/** Runs `fn` over `items`, at most `limit` at once; results in input order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>) {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
