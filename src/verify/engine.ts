/**
 * Verifying one version, as named steps: read the packument, fetch the tarball against its
 * published integrity, keep the bytes, run the layers, apply the policy. A failed check is a
 * verdict (data); only trouble outside the package (upstream down, store down) throws, so the
 * queue tries again later.
 */
import ssri from 'ssri';
import { runLayer } from './layer';
import type { Layer, LayerInput, PreviousVersion } from './layer';
import { jsSignals } from './layers/js-signals';
import { staticPrecheck } from './layers/static-precheck';
import { decide } from '../policy/policy';
import type { Policy } from '../policy/schema';
import { tarballUrl } from '../registry/upstream';
import type { Upstream } from '../registry/upstream';
import type { PackumentVersion } from '../registry/packument';
import type { TarballStore } from '../store/tarball-store';
import type { GiveUpFn, JobOutcome, ProcessJobFn } from '../queue/job-queue';
import type { Job, LayerResult, VersionRecord } from '../types';
import { VettedError, errorCode, errorMessage } from '../errors';
import { versionKey } from '../index/database';
import { redactText, redactUrl } from '../log/redact';

export interface EngineDeps {
  upstream: Upstream;
  store: TarballStore;
  policy: Policy;
  /** Layers run after the integrity check, in order. Default: static pre-check, JS signals. */
  layers?: Layer[];
  /** The newest admitted version below this one, with its verified bytes. */
  previousOf?: (name: string, version: string) => Promise<PreviousVersion | undefined>;
  /** Every version of the package admitted so far, for the release-line baseline. */
  admittedOf?: (name: string) => Promise<string[]>;
}

export interface Engine {
  process: ProcessJobFn;
  giveUp: GiveUpFn;
}

export function createEngine(deps: EngineDeps): Engine {
  const layers = deps.layers ?? [staticPrecheck, jsSignals];

  async function process(job: Job, signal: AbortSignal): Promise<JobOutcome> {
    const { name, version } = job;
    // 1. the packument, fresh from the upstream
    const packument = await fetchPackument(deps.upstream, name, signal);
    const manifest = packument?.versions?.[version];
    if (!packument || !manifest) return { notFound: true };

    // 2. the tarball, checked against the published integrity
    const expected = expectedIntegrity(manifest);
    const fetched = await checkIntegrity(deps.upstream, name, version, manifest, expected, signal);
    const results: LayerResult[] = [fetched.result];

    // 3. keep the verified bytes, then run the other layers on them
    let stored: { integrity: string; size: number } | undefined;
    if (fetched.tarball) {
      stored = await deps.store.put(versionKey(name, version), fetched.tarball);
      const previous = await deps.previousOf?.(name, version);
      const admitted = await deps.admittedOf?.(name);
      const input: LayerInput = {
        name,
        version,
        packument,
        manifest,
        tarball: fetched.tarball,
        signal,
        ...(previous ? { previous } : {}),
        ...(admitted ? { admitted } : {}),
      };
      for (const layer of layers) results.push(await runLayer(layer, input));
    }

    // 4. the policy's verdict
    const decision = decide(deps.policy, results);
    const now = new Date().toISOString();
    const record: VersionRecord = {
      name,
      version,
      status: decision.status,
      integrity: expected,
      storedIntegrity: stored?.integrity,
      size: stored?.size,
      layers: results,
      reasons: decision.reasons,
      warnings: decision.warnings,
      policy: { preset: deps.policy.preset, digest: deps.policy.digest },
      decidedBy: { kind: 'policy', name: deps.policy.source },
      decidedAt: now,
      verifiedAt: now,
    };
    return {
      record,
      audit: {
        action: 'verdict',
        actor: record.decidedBy,
        name,
        version,
        status: record.status,
        reason: decision.reasons[0] ?? decision.warnings[0],
      },
    };
  }

  function giveUp(job: Job, error: unknown): JobOutcome {
    const reason = `verification could not complete after ${job.attempts + 1} attempts: ${errorMessage(error)}`;
    const now = new Date().toISOString();
    const record: VersionRecord = {
      name: job.name,
      version: job.version,
      status: 'held',
      layers: [],
      reasons: [reason],
      warnings: [],
      policy: { preset: deps.policy.preset, digest: deps.policy.digest },
      decidedBy: { kind: 'policy', name: deps.policy.source },
      decidedAt: now,
    };
    return {
      record,
      audit: {
        action: 'verdict',
        actor: record.decidedBy,
        name: job.name,
        version: job.version,
        status: 'held',
        reason,
      },
    };
  }

  return { process, giveUp };
}

async function fetchPackument(upstream: Upstream, name: string, signal: AbortSignal) {
  try {
    return await upstream.packument(name, signal);
  } catch (err) {
    if (errorCode(err) === 'E404') return undefined;
    throw new VettedError(
      'UPSTREAM_UNAVAILABLE',
      `cannot read ${name} from ${redactUrl(upstream.registry)}: ${redactText(errorMessage(err))}`,
      {
        cause: err,
      },
    );
  }
}

function expectedIntegrity(manifest: PackumentVersion): string | undefined {
  const dist = manifest.dist;
  if (typeof dist?.integrity === 'string' && ssri.parse(dist.integrity).toString() !== '') {
    return dist.integrity;
  }
  if (typeof dist?.shasum === 'string' && /^[0-9a-f]{40}$/i.test(dist.shasum)) {
    return ssri.fromHex(dist.shasum, 'sha1').toString();
  }
  return undefined;
}

/** The integrity layer: the bytes the upstream serves must be the bytes it published. */
async function checkIntegrity(
  upstream: Upstream,
  name: string,
  version: string,
  manifest: PackumentVersion,
  expected: string | undefined,
  signal: AbortSignal,
): Promise<{ result: LayerResult; tarball?: Buffer }> {
  const startedAt = new Date().toISOString();
  const start = performance.now();
  const done = (result: Omit<LayerResult, 'layer' | 'startedAt' | 'durationMs'>) => ({
    layer: 'integrity',
    ...result,
    startedAt,
    durationMs: Math.round(performance.now() - start),
  });
  const resolved =
    typeof manifest.dist?.tarball === 'string'
      ? manifest.dist.tarball
      : tarballUrl(upstream.registry, name, version);
  if (!expected) {
    return {
      result: done({
        outcome: 'fail',
        findings: [
          {
            code: 'INTEGRITY_MISSING',
            severity: 'high',
            message: 'the packument gives no integrity or shasum for this version',
            evidence: { tarball: resolved },
          },
        ],
      }),
    };
  }
  try {
    const tarball = await upstream.tarball(resolved, expected, signal);
    return { result: done({ outcome: 'pass', findings: [] }), tarball };
  } catch (err) {
    if (errorCode(err) !== 'EINTEGRITY') {
      throw new VettedError(
        'UPSTREAM_UNAVAILABLE',
        `cannot fetch ${redactUrl(resolved)}: ${redactText(errorMessage(err))}`,
        { cause: err },
      );
    }
    const found = (err as { found?: unknown }).found;
    return {
      result: done({
        outcome: 'fail',
        findings: [
          {
            code: 'INTEGRITY_MISMATCH',
            severity: 'critical',
            message: `the tarball the upstream serves does not match the published integrity (${expected.slice(0, 20)}…)`,
            evidence: {
              expected,
              found: found === undefined ? undefined : String(found),
              tarball: resolved,
            },
          },
        ],
      }),
    };
  }
}
