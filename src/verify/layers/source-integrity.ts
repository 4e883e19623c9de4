/**
 * The source integrity layer (DESIGN.md layer 1): the version rebuilt from its git source and
 * compared with the published tarball.
 *
 *   1. locate     repository (+ directory) from package.json, mapped to a mirror; the commit
 *                 from gitHead, else a release tag, else package.json's version in history
 *   2. fetch      a cached bare mirror under `<home>/sources/`, fetched instead of re-cloned
 *   3. signature  the tag (or commit) checked with git when keys are configured for the package
 *   4. rebuild    dependencies installed from the upstream (host, scripts off), then `npm pack`
 *                 with its prepack/prepare build inside the sandbox, no network
 *   5. compare    whole tarball, then file by file; each difference classified
 *   6. history    earlier versions that reproduced make a failure to reproduce stand out
 *
 * Outcome: `fail` for a high finding (code that differs or is extra, source not found, a bad
 * signature, a regression), `warn` for medium and low ones, `pass` when the rebuild matches.
 * `unavailable`, with the reason, whenever a step cannot run: no repository, unreachable host
 * (fast: see ./source/git.ts), clone, checkout, install, build or timeout. Codes:
 * SOURCE_LOCATED_BY (info), SOURCE_TAG_MISSING, SOURCE_GITHEAD_MISSING, SOURCE_NOT_FOUND,
 * SOURCE_COMMIT_UNREACHABLE, SOURCE_TAG_MISMATCH,
 * SOURCE_SIGNED (info), SOURCE_UNSIGNED, SOURCE_SIGNATURE_BAD, REBUILD_FILE_DIFFERS,
 * REBUILD_FILE_EXTRA, REBUILD_FILE_MISSING, REBUILD_NONCODE_DIFFERS, REBUILD_METADATA_ONLY
 * (info), REPRODUCIBILITY_REGRESSION. Depends on ../source, ../../sandbox and the layer contract.
 */
import path from 'node:path';
import ssri from 'ssri';
import type { Layer, LayerInput } from '../layer';
import type { Finding, LayerResult } from '../../types';
import { checkSandbox, locateToolchain } from '../../sandbox';
import type {
  CheckSandboxOptions,
  LocateToolchainOptions,
  NodeToolchain,
  SandboxRunner,
} from '../../sandbox';
import { repositoryOf } from '../source/locate';
import type { SourceRepository } from '../source/locate';
import { hostOf } from '../source/mirrors';
import type { MirrorRule } from '../source/mirrors';
import { ensureMirror, findSource } from '../source/git';
import { HostBreaker } from '../source/host-breaker';
import type { LocatedSource } from '../source/git';
import { checkSignature } from '../source/signature';
import type { SignatureCheck } from '../source/signature';
import { rebuildPackage } from '../source/rebuild';
import type { RebuildTimings } from '../source/rebuild';
import { compareTarballs } from '../source/compare';
import { createHistory } from '../source/history';
import { findingsOf, locatedFindings, notFound, signatureFinding } from '../source/findings';
import { publicReason } from '../../run-bounded';
import { errorMessage } from '../../errors';
import { redactText, redactUrl } from '../../log/redact';

export interface SourceLayerOptions {
  /** Registry the build dependencies are installed from: the upstream. */
  upstream: string;
  /** Where clones, the npm cache and the history live: `<home>/sources`. */
  root: string;
  mirrors?: readonly MirrorRule[];
  /** Key files by package name or `@scope/*`: allowed-signers files or armored GPG keys. */
  trustedKeys?: Readonly<Record<string, readonly string[]>>;
  /** Time a clone or fetch may take, in ms. Default 60 s. */
  cloneTimeoutMs?: number;
  /** Time the dependency install and the build may take together, in ms. Default 150 s. */
  rebuildTimeoutMs?: number;
  /** How long a host that could not be reached is skipped, in ms. Default 5 minutes. */
  hostCooldownMs?: number;
  /** Time a TCP probe of a remote git host may take, in ms. Default 5 s. */
  probeTimeoutMs?: number;
  /** Parent of the rebuild workspaces. Default: the OS temp dir. */
  workRoot?: string;
  sandbox?: CheckSandboxOptions;
  toolchain?: LocateToolchainOptions;
}

export interface SourceSummary {
  repository?: { declared: string; url: string; directory: string };
  commit?: string;
  locatedBy?: LocatedSource['method'];
  tag?: string;
  signature?: SignatureCheck;
  publishedIntegrity?: string;
  rebuiltIntegrity?: string;
  identical?: boolean;
  files?: { same: number; differing: number };
  toolchain?: { node: string; npm: string; declared: { node?: string; packageManager?: string } };
  timings: { fetchMs?: number; compareMs?: number } & Partial<RebuildTimings>;
}

export type SourceResult = Omit<LayerResult, 'layer' | 'startedAt' | 'durationMs'> & {
  summary?: SourceSummary;
};

export interface SourceLayer extends Layer {
  run(input: LayerInput): Promise<SourceResult>;
}

/**
 * @example
 *   const source = createSourceLayer({ upstream, root: path.join(home, 'sources'),
 *     mirrors: [{ from: 'https://github.com/', to: 'https://git.corp/github/' }] });
 */
export function createSourceLayer(options: SourceLayerOptions): SourceLayer {
  const cloneTimeoutMs = options.cloneTimeoutMs ?? 60_000;
  const rebuildTimeoutMs = options.rebuildTimeoutMs ?? 150_000;
  const breaker = new HostBreaker(
    options.hostCooldownMs ?? 300_000,
    options.probeTimeoutMs ?? 5_000,
  );
  const history = createHistory(path.join(options.root, 'history'));
  const locks = new Map<string, Promise<unknown>>();
  let tools: Promise<{ runner: SandboxRunner; toolchain: NodeToolchain } | string> | undefined;

  async function prepareTools() {
    tools ??= (async () => {
      const toolchain = await locateToolchain(options.toolchain).catch(
        (err: unknown) => err as Error,
      );
      if (toolchain instanceof Error) return `node/npm for the sandbox: ${toolchain.message}`;
      const check = await checkSandbox({
        ...options.sandbox,
        systemPaths: [...(options.sandbox?.systemPaths ?? []), ...toolchain.systemPaths],
      });
      return check.available ? { runner: check.runner, toolchain } : check.reason;
    })();
    const got = await tools;
    // a failed probe is tried again next time: the cause may be fixed by then
    if (typeof got === 'string') tools = undefined;
    return got;
  }

  /** One job at a time per repository: clones and fetches of one mirror never overlap. */
  function exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = locks.get(key) ?? Promise.resolve();
    const next = before.then(fn, fn);
    const settled = next.catch(() => undefined);
    locks.set(key, settled);
    // the last job of a repository removes its entry, so the map does not grow forever
    void settled.then(() => locks.get(key) === settled && locks.delete(key));
    return next;
  }

  return {
    name: 'source',
    async run(input) {
      const summary: SourceSummary = { timings: {} };
      const findings: Finding[] = [];
      // a mirror URL may carry credentials, npm's output the server's paths: never into the
      // world-readable record
      const unavailable = (reason: string): SourceResult => ({
        outcome: 'unavailable',
        findings,
        reason: redactText(publicReason(reason, path.dirname(options.root))),
        summary,
      });
      // 1. locate
      const repo = repositoryOf(input.manifest, options.mirrors ?? []);
      if (typeof repo === 'string') return unavailable(repo);
      const cloneUrl = repo.clone;
      summary.repository = {
        declared: repo.declared,
        url: redactUrl(cloneUrl),
        directory: repo.directory,
      };
      const ready = await prepareTools();
      if (typeof ready === 'string') return unavailable(ready);
      const gitHead =
        typeof input.manifest.gitHead === 'string' ? input.manifest.gitHead : undefined;

      // 2. fetch and find the commit
      const started = performance.now();
      const gitOpts = { timeoutMs: cloneTimeoutMs, signal: input.signal };
      const found = await exclusive(cloneUrl, () =>
        fetchAndFind(cloneUrl, repo, { name: input.name, version: input.version, gitHead }),
      );
      summary.timings.fetchMs = Math.round(performance.now() - started);
      if (typeof found === 'string') return unavailable(found);
      const { gitDir, located } = found;
      if (!located) {
        findings.push(notFound(input, repo, gitHead));
        return { outcome: 'fail', findings, summary };
      }
      summary.commit = located.commit;
      summary.locatedBy = located.method;
      if (located.tag) summary.tag = located.tag;
      findings.push(...locatedFindings(input, located));
      // a commit only a pull request's ref (or nothing) holds is not the repository's source
      if (located.unreachable) return { outcome: 'fail', findings, summary };

      // 3. signature, when keys are configured for the package
      const keys = keysFor(input.name, options.trustedKeys ?? {});
      if (keys.length > 0) {
        const sig = await checkSignature(gitDir, located, keys, gitOpts).catch((err: unknown) =>
          errorMessage(err),
        );
        if (typeof sig === 'string') return unavailable(`checking the signature: ${sig}`);
        summary.signature = sig;
        findings.push(signatureFinding(sig));
      }

      // 4. rebuild
      const rebuilt = await rebuildPackage({
        gitDir,
        commit: located.commit,
        directory: repo.directory,
        upstream: options.upstream,
        runner: ready.runner,
        toolchain: ready.toolchain,
        workRoot: options.workRoot,
        npmCache: path.join(options.root, 'npm-cache'),
        timeoutMs: rebuildTimeoutMs,
        signal: input.signal,
      });
      Object.assign(summary.timings, rebuilt.timings);
      if (!rebuilt.ok) return unavailable(`${rebuilt.step}: ${rebuilt.reason}`);
      summary.toolchain = {
        node: ready.toolchain.nodeVersion,
        npm: ready.toolchain.npmVersion,
        declared: rebuilt.declared,
      };

      // 5. compare
      const compareStart = performance.now();
      const comparison = await compareTarballs(input.tarball, rebuilt.tarball, (p) =>
        rebuilt.tree.has(p),
      );
      summary.timings.compareMs = Math.round(performance.now() - compareStart);
      summary.publishedIntegrity = ssri
        .fromData(input.tarball, { algorithms: ['sha512'] })
        .toString();
      summary.rebuiltIntegrity = ssri
        .fromData(rebuilt.tarball, { algorithms: ['sha512'] })
        .toString();
      summary.identical = comparison.identical;
      summary.files = { same: comparison.same, differing: comparison.differences.length };
      const compared = findingsOf(comparison);
      findings.push(...compared.findings);

      // 6. history
      const before = await history.reproducedBefore(input.name, input.version);
      if (!compared.reproduced && before.length > 0) {
        findings.push({
          code: 'REPRODUCIBILITY_REGRESSION',
          severity: 'high',
          message: `earlier versions (${before.slice(0, 5).join(', ')}) reproduced from source; ${input.version} does not`,
          evidence: { reproducedBefore: before.slice(0, 20), commit: located.commit },
        });
      }
      await history.record(input.name, input.version, {
        reproduced: compared.reproduced,
        commit: located.commit,
        at: new Date().toISOString(),
      });
      return { outcome: outcomeOf(findings), findings, summary };
    },
  };

  async function fetchAndFind(
    url: string,
    repo: SourceRepository,
    want: { name: string; version: string; gitHead?: string },
  ): Promise<{ gitDir: string; located?: LocatedSource } | string> {
    const gitOpts = { timeoutMs: cloneTimeoutMs };
    const first = await ensureMirror(options.root, url, false, breaker, gitOpts);
    if (typeof first === 'string') return first;
    const wanted = { ...want, directory: repo.directory };
    let located = await findSource(first.gitDir, wanted, gitOpts);
    // a fresh clone is current; a cached one may miss the new commit or tag
    const settled = located?.method === 'gitHead' && !located.unreachable && !located.tagMismatch;
    if (!first.updated && !settled) {
      const again = await ensureMirror(options.root, url, true, breaker, gitOpts);
      if (typeof again === 'string') return again;
      if (again.updated) located = await findSource(first.gitDir, wanted, gitOpts);
      else if (!located) {
        const why = breaker.openReason(hostOf(url));
        if (why) return `the cached clone has no commit for ${want.version} and ${why}`;
      }
    }
    return { gitDir: first.gitDir, ...(located ? { located } : {}) };
  }
}

/** Key files configured for `name`: its own entry and its scope's `@scope/*`. */
export function keysFor(
  name: string,
  trusted: Readonly<Record<string, readonly string[]>>,
): string[] {
  const scope = name.startsWith('@') ? `${name.split('/')[0]}/*` : undefined;
  return [...(trusted[name] ?? []), ...(scope ? (trusted[scope] ?? []) : [])];
}

function outcomeOf(findings: Finding[]): SourceResult['outcome'] {
  if (findings.some((f) => f.severity === 'high' || f.severity === 'critical')) return 'fail';
  return findings.some((f) => f.severity !== 'info') ? 'warn' : 'pass';
}
