/**
 * The publisher identity layer (DESIGN.md layer 2, with typosquat detection): who published a
 * version and how, against the earlier versions of its release line; registry signatures;
 * Sigstore provenance; new dependencies; look-alike names. Each part says whether it could
 * check anything. When none of publishers, signatures and provenance could (a registry that
 * strips those fields), that is an IDENTITY_UNAVAILABLE finding and the layer is `unavailable`,
 * unless another part found something that fails it. Parts live in `verify/identity/`; this
 * file only runs them and sums up.
 */
import type { Finding } from '../../types';
import type { Layer, LayerInput } from '../layer';
import { outcomeOf } from '../layer';
import type { KeySource } from '../identity/signatures';
import { checkSignatures } from '../identity/signatures';
import type { ProvenanceFacts, ProvenanceVerifier } from '../identity/provenance';
import { checkReleaseLine, hasAttestations } from '../identity/release-line';
import type { DependencyLookup } from '../identity/dependencies';
import type { TyposquatCheck } from '../identity/typosquat';
import { fetchRegistryJson } from '../identity/registry-json';
import { repositoryUrl } from '../identity/repository';

/** Findings that fail the layer; the policy says what each leads to. */
export const PUBLISHER_FAILING: ReadonlySet<string> = new Set([
  'PUBLISHER_NEW_ACCOUNT',
  'TRUSTED_PUBLISHER_DROPPED',
  'PROVENANCE_DOWNGRADE',
  'PROVENANCE_INVALID',
  'PROVENANCE_UNREADABLE',
  'PROVENANCE_REPOSITORY_MISMATCH',
  'SIGNATURE_INVALID',
  'SIGNATURE_KEY_UNKNOWN',
  'SIGNATURE_KEY_EXPIRED',
  'SIGNATURE_MISSING',
  'TYPOSQUAT',
]);

export type PartName = 'publishers' | 'signatures' | 'provenance' | 'dependencies' | 'typosquat';

/** `checked`: it ran; `none`: nothing to check (no attestations, no new dependencies). */
export interface PartResult {
  status: 'checked' | 'none' | 'unavailable' | 'off';
  reason?: string;
}

export interface PublisherLayerOptions {
  /** Upstream registry base URL, with a trailing slash. */
  registry: string;
  keys: KeySource;
  provenance: ProvenanceVerifier;
  dependencies: DependencyLookup;
  /** Undefined turns typosquat detection off. Loaded once, on first use. */
  typosquat?: () => Promise<TyposquatCheck>;
  isHighImpact?: () => Promise<(name: string) => boolean>;
}

/** @example createPublisherLayer({ registry, keys, provenance, dependencies, typosquat }) */
export function createPublisherLayer(options: PublisherLayerOptions): Layer {
  return {
    name: 'publisher',
    async run(input: LayerInput) {
      const { name, version, packument, manifest, signal } = input;
      const findings: Finding[] = [];
      const parts = {} as Record<PartName, PartResult>;
      const summary: Record<string, unknown> = { parts };

      // 1. the name itself
      if (options.typosquat) {
        const squat = (await options.typosquat())(name);
        if (squat) findings.push(squat);
        parts.typosquat = { status: 'checked' };
      } else {
        parts.typosquat = { status: 'off', reason: 'turned off in the options' };
      }

      // 2. the release line: publishers, repository, provenance and signatures present before
      const line = checkReleaseLine(packument, version, { admitted: input.admitted });
      findings.push(...line.findings);
      parts.publishers = line.publishersUnavailable
        ? { status: 'unavailable', reason: line.publishersUnavailable }
        : line.previous
          ? { status: 'checked' }
          : { status: 'none', reason: 'no earlier version in this release line' };
      Object.assign(summary, {
        publisher: line.publisher,
        publishedAt: line.publishedAt?.toISOString(),
        previous: line.previous?.version,
        baseline: line.basis,
        ...(line.skipped.length > 0 ? { skipped: line.skipped } : {}),
      });

      // 3. registry signatures
      const dist = (manifest.dist ?? {}) as Record<string, unknown>;
      if (!Array.isArray(dist.signatures) || dist.signatures.length === 0) {
        parts.signatures = {
          status: 'unavailable',
          reason: 'the registry gives no dist.signatures for this version',
        };
      } else {
        const keys = await options.keys.load(signal);
        if (!keys.keys) {
          parts.signatures = { status: 'unavailable', reason: keys.reason };
        } else {
          const checked = checkSignatures(
            {
              name,
              version,
              integrity: String(dist.integrity ?? ''),
              signatures: dist.signatures,
              publishedAt: line.publishedAt,
            },
            keys.keys,
          );
          findings.push(...checked.findings);
          parts.signatures = { status: 'checked' };
          Object.assign(summary, { signedBy: checked.verified, keySource: keys.source });
        }
      }

      // 4. provenance, verified offline
      // an attestations field without a url and predicate type counts as none (the release
      // line reports it as a downgrade when the baseline had provenance)
      if (!hasAttestations(dist)) {
        parts.provenance = {
          status: 'none',
          reason:
            dist.attestations === undefined
              ? 'no dist.attestations on this version'
              : 'dist.attestations names no url and provenance',
        };
      } else {
        const result = await checkAttestations(options, input);
        if ('reason' in result) {
          // listed but not served: the registry claims provenance nobody can check
          findings.push({
            code: 'PROVENANCE_UNREADABLE',
            severity: 'high',
            message: `${version} lists provenance that ${result.reason}`,
            evidence: { version, attestations: dist.attestations },
          });
          parts.provenance = { status: 'unavailable', reason: result.reason };
        } else {
          findings.push(...result.findings);
          parts.provenance = { status: 'checked' };
          Object.assign(summary, { provenance: result.provenance });
        }
      }

      // 5. new dependencies: how old and how widely maintained
      if (line.newDependencies.length === 0) {
        parts.dependencies = { status: 'none' };
      } else {
        const highImpact = options.isHighImpact ? await options.isHighImpact() : undefined;
        const deps = await options.dependencies.describe(
          line.newDependencies,
          line.publishedAt,
          signal,
          highImpact,
        );
        findings.push(...deps.findings);
        parts.dependencies =
          deps.unavailable.length > 0
            ? { status: 'unavailable', reason: deps.unavailable.join('; ') }
            : { status: 'checked' };
      }

      const identity = [parts.publishers, parts.signatures, parts.provenance];
      if (identity.every((p) => p.status === 'unavailable' || p.status === 'none')) {
        const reason = identity
          .filter((p) => p.status === 'unavailable')
          .map((p) => p.reason)
          .join('; ');
        findings.push({
          code: 'IDENTITY_UNAVAILABLE',
          severity: 'low',
          message: `the publisher identity could not be checked: ${reason}`,
          evidence: { parts },
        });
        // a look-alike name fails the layer even where the identity cannot be checked
        const outcome = outcomeOf(findings, PUBLISHER_FAILING, true);
        return { outcome, reason, findings, summary };
      }
      return { outcome: outcomeOf(findings, PUBLISHER_FAILING), findings, summary };
    },
  };
}

/** Fetches and verifies the attestations, or says why they could not be read. */
async function checkAttestations(
  options: PublisherLayerOptions,
  input: LayerInput,
): Promise<{ findings: Finding[]; provenance?: ProvenanceFacts } | { reason: string }> {
  const { name, version, signal } = input;
  const spec = `${name.replace('/', '%2f')}@${version}`;
  const read = await fetchRegistryJson(`${options.registry}-/npm/v1/attestations/${spec}`, signal);
  if (!read.ok) return { reason: `could not be read: ${read.reason}` };
  const keys = await options.keys.load(signal);
  const checked = options.provenance.check({
    name,
    version,
    tarball: input.tarball,
    repository: repositoryUrl(input.manifest),
    attestations: read.body,
    keys: keys.keys ?? [],
  });
  return {
    findings: checked.findings,
    ...(checked.provenance ? { provenance: checked.provenance } : {}),
  };
}
