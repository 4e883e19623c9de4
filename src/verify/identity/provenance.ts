/**
 * Sigstore provenance of a version, verified offline: the attestation bundles from the
 * registry's `/-/npm/v1/attestations/name@version` are checked with @sigstore/verify against a
 * shipped (or configured) trusted root, and the publish attestation against the registry keys.
 * Each statement's subject must be this tarball (sha512) under this purl; the SLSA provenance
 * must name the package's own repository, and its Fulcio certificate the same repository. The
 * source commit and workflow are returned for the record. No network here: the caller fetches.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import type { Finding } from '../../types';
import type { RegistryKey } from './signatures';
import { toRepositoryKey } from './repository';
import defaultTrustedRoot from './trusted_root.json';

/** What the SLSA provenance says about where the version was built. */
export interface ProvenanceFacts {
  predicateType: string;
  repository?: string;
  commit?: string;
  workflow?: string;
  builder?: string;
  /** The Fulcio certificate's subject (the workflow identity that signed). */
  signer?: string;
}

export interface ProvenanceCheck {
  findings: Finding[];
  provenance?: ProvenanceFacts;
  /** Whether the registry's publish attestation was present and verified. */
  publishAttested: boolean;
}

export interface ProvenanceInput {
  name: string;
  version: string;
  tarball: Buffer;
  /** The manifest's `repository` URL. */
  repository?: string;
  /** The body of `/-/npm/v1/attestations/name@version` (untrusted shape). */
  attestations: unknown;
  /** Registry keys, for the publish attestation (its bundle names a key by hint). */
  keys: RegistryKey[];
}

export interface ProvenanceVerifier {
  check(input: ProvenanceInput): ProvenanceCheck;
}

const SLSA_PREFIX = 'https://slsa.dev/provenance/';

/**
 * Builds the verifier once, with the trusted root parsed up front.
 * @throws TypeError naming the file, when a configured trusted root cannot be read or parsed.
 * @example createProvenanceVerifier({ trustedRootFile: '/etc/vetted/trusted_root.json' })
 */
export function createProvenanceVerifier(options: { trustedRootFile?: string } = {}) {
  let rootJson: unknown = defaultTrustedRoot;
  if (options.trustedRootFile) {
    try {
      rootJson = JSON.parse(readFileSync(options.trustedRootFile, 'utf8'));
    } catch (err) {
      throw new TypeError(`trusted root ${options.trustedRootFile}: ${(err as Error).message}`);
    }
  }
  const root = TrustedRoot.fromJSON(rootJson);
  if (root.certificateAuthorities.length === 0 || root.tlogs.length === 0) {
    throw new TypeError('trusted root: no certificate authority or transparency log in it');
  }

  function check(input: ProvenanceInput): ProvenanceCheck {
    const findings: Finding[] = [];
    const list = (input.attestations as { attestations?: unknown })?.attestations;
    if (!Array.isArray(list) || list.length === 0) {
      return {
        findings: [invalid('the registry lists attestations but serves none', {})],
        publishAttested: false,
      };
    }
    const trust = toTrustMaterial(root, (hint: string) => {
      const key = input.keys.find((k) => k.keyid === hint);
      if (!key) throw new Error(`no registry key ${hint}`);
      return { publicKey: key.publicKey, validFor: (d: Date) => !key.expires || d <= key.expires };
    });
    const verifier = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 1 });
    const sha512 = createHash('sha512').update(input.tarball).digest('hex');
    const purl = `pkg:npm/${input.name.replace(/^@/, '%40')}@${input.version}`;
    let provenance: ProvenanceFacts | undefined;
    let publishAttested = false;

    for (const entry of list as Record<string, unknown>[]) {
      const predicateType = String(entry?.predicateType ?? '(none)');
      let signer: string | undefined;
      let statement: Statement;
      try {
        const bundle = bundleFromJSON(entry?.bundle);
        signer = verifier.verify(toSignedEntity(bundle)).identity?.subjectAlternativeName;
        if (!bundle.content || bundle.content.$case !== 'dsseEnvelope') {
          throw new Error('the bundle holds no DSSE envelope');
        }
        statement = JSON.parse(bundle.content.dsseEnvelope.payload.toString('utf8')) as Statement;
      } catch (err) {
        findings.push(
          invalid(`the ${predicateType} bundle does not verify: ${(err as Error).message}`, {
            predicateType,
          }),
        );
        continue;
      }
      const subject = (statement.subject ?? []).find((s) => s?.name === purl);
      if (!subject || subject.digest?.sha512 !== sha512) {
        findings.push(
          invalid(`the ${predicateType} statement is not about this tarball (${purl})`, {
            predicateType,
            expected: { name: purl, sha512 },
            subjects: statement.subject,
          }),
        );
        continue;
      }
      if (statement.predicateType !== predicateType) {
        findings.push(invalid('the statement and its listing disagree on the predicate', {}));
        continue;
      }
      if (predicateType.startsWith(SLSA_PREFIX)) {
        provenance = { ...toProvenanceFacts(predicateType, statement.predicate), signer };
        findings.push(...checkRepository(input, provenance));
      } else {
        publishAttested = true;
      }
    }
    if (!provenance && findings.length === 0) {
      findings.push(invalid('the attestations hold no SLSA provenance', {}));
    }
    return { findings, ...(provenance ? { provenance } : {}), publishAttested };
  }

  return { check } satisfies ProvenanceVerifier;
}

interface Statement {
  predicateType?: string;
  subject?: { name?: string; digest?: { sha512?: string } }[];
  predicate?: Record<string, unknown>;
}

/** The provenance must name the package's repository, and its certificate must agree. */
function checkRepository(input: ProvenanceInput, facts: ProvenanceFacts): Finding[] {
  const declared = toRepositoryKey(input.repository);
  const built = toRepositoryKey(facts.repository);
  const evidence = { repository: input.repository, provenanceRepository: facts.repository };
  if (!built || built !== declared) {
    return [
      {
        code: 'PROVENANCE_REPOSITORY_MISMATCH',
        severity: 'high',
        message: `the provenance says it was built from ${facts.repository ?? 'no repository'}, but the package names ${input.repository ?? 'none'}`,
        evidence,
      },
    ];
  }
  // Fulcio puts the workflow's URL in the certificate; on GitHub it starts with the repository
  if (built.startsWith('github.com/') && facts.signer) {
    const signer = facts.signer.toLowerCase();
    if (!signer.startsWith(`https://${built}/`)) {
      return [invalid(`the certificate was issued to ${facts.signer}, not ${built}`, evidence)];
    }
  }
  return [];
}

/** Reads repository, commit, workflow and builder from SLSA v0.2 and v1 predicates. */
function toProvenanceFacts(predicateType: string, p: Record<string, unknown> = {}) {
  const get = (path: string): unknown =>
    path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], p);
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  if (predicateType.endsWith('/v0.2')) {
    const uri = str(get('invocation.configSource.uri'));
    const env = str(get('invocation.environment.GITHUB_REPOSITORY'));
    return {
      predicateType,
      repository: uri?.replace(/^git\+/, '').replace(/@refs\/.*$/, '') ?? env,
      commit: str(get('invocation.configSource.digest.sha1')),
      workflow: str(get('invocation.configSource.entryPoint')),
      builder: str(get('builder.id')),
    };
  }
  const workflow = get('buildDefinition.externalParameters.workflow') as
    Record<string, unknown> | undefined;
  const deps = get('buildDefinition.resolvedDependencies');
  const first = Array.isArray(deps) ? (deps[0] as Record<string, unknown>) : undefined;
  const firstUri = str(first?.uri)
    ?.replace(/^git\+/, '')
    .replace(/@refs\/.*$/, '');
  return {
    predicateType,
    repository: str(workflow?.repository) ?? firstUri,
    commit: str((first?.digest as Record<string, unknown> | undefined)?.gitCommit),
    workflow:
      workflow && str(workflow.path)
        ? `${String(workflow.path)}@${String(workflow.ref ?? '')}`
        : undefined,
    builder: str(get('runDetails.builder.id')),
  };
}

function invalid(message: string, evidence: Record<string, unknown>): Finding {
  return { code: 'PROVENANCE_INVALID', severity: 'critical', message, evidence };
}
