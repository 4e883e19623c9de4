/**
 * A signed statement of a tree's verdicts: an in-toto v1 statement whose subject is the
 * lockfile (name and sha256) and whose predicate lists every component with the status the
 * index gave it, in a DSSE envelope signed with the index key. The server builds and signs it
 * from its own index, so it never signs a claim it did not make; anyone with the public key
 * (`/-/vetted/api/keys`) can check it offline.
 */
import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import type { Signer } from '../index/signer';
import { verifySignature } from '../index/signer';
import type { NodeResult } from './status';
import { purlOf } from './sbom';
import { VettedError } from '../errors';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://vetted.dev/attestations/tree-verdicts/v1';
export const PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export const subjectSchema = z.object({
  name: z.string().min(1).max(500),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in hex'),
});

export interface Envelope {
  payloadType: string;
  payload: string;
  signatures: Array<{ keyid: string; sig: string }>;
}

export interface TreeStatement {
  _type: string;
  subject: Array<{ name: string; digest: { sha256: string } }>;
  predicateType: string;
  predicate: {
    generatedAt: string;
    registry: string;
    policy: { preset: string; digest: string };
    summary: Record<string, number>;
    admitted: boolean;
    components: Array<{
      name: string;
      version: string;
      purl: string;
      status: string;
      integrity?: string;
      decidedBy?: string;
      decidedAt?: string;
    }>;
  };
}

/** DSSE's pre-authentication encoding: what is signed. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType);
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `),
    type,
    Buffer.from(` ${payload.length} `),
    payload,
  ]);
}

export function buildStatement(
  subject: z.infer<typeof subjectSchema>,
  results: NodeResult[],
  context: { registry: string; policy: { preset: string; digest: string } },
): TreeStatement {
  const summary: Record<string, number> = {};
  for (const r of results) summary[r.status] = (summary[r.status] ?? 0) + 1;
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: subject.name, digest: { sha256: subject.sha256 } }],
    predicateType: PREDICATE_TYPE,
    predicate: {
      generatedAt: new Date().toISOString(),
      registry: context.registry,
      policy: context.policy,
      summary,
      admitted: results.every((r) => r.status === 'verified' || r.status === 'approved'),
      components: results.map((r) => ({
        name: r.name,
        version: r.version,
        purl: purlOf(r.name, r.version),
        status: r.status,
        ...(r.integrity ? { integrity: r.integrity } : {}),
        ...(r.decidedBy ? { decidedBy: r.decidedBy } : {}),
        ...(r.decidedAt ? { decidedAt: r.decidedAt } : {}),
      })),
    },
  };
}

export function signStatement(statement: TreeStatement, signer: Signer): Envelope {
  const payload = Buffer.from(JSON.stringify(statement));
  // the signer signs text; PAE of a JSON payload is valid UTF-8, so nothing is lost
  const sig = signer.sign(pae(PAYLOAD_TYPE, payload).toString('utf8'));
  return {
    payloadType: PAYLOAD_TYPE,
    payload: payload.toString('base64'),
    signatures: [{ keyid: signer.keyId, sig }],
  };
}

export interface AttestationCheck {
  keyId: string;
  statement: TreeStatement;
}

/**
 * Checks an envelope against public keys (`keyId` -> SPKI PEM).
 * @throws VettedError ATTESTATION_INVALID saying what is wrong.
 */
export function verifyEnvelope(raw: unknown, keys: Map<string, string>): AttestationCheck {
  const envelope = z
    .object({
      payloadType: z.string(),
      payload: z.string(),
      signatures: z.array(z.object({ keyid: z.string(), sig: z.string() })).min(1),
    })
    .safeParse(raw);
  if (!envelope.success) {
    throw new VettedError(
      'ATTESTATION_INVALID',
      'not a DSSE envelope (payloadType, payload, signatures)',
    );
  }
  const { payloadType, payload, signatures } = envelope.data;
  // Buffer.from accepts sloppy base64; only the canonical encoding of the bytes counts
  const canonical = (text: string) => Buffer.from(text, 'base64').toString('base64') === text;
  if (!canonical(payload) || !signatures.every((s) => canonical(s.sig))) {
    throw new VettedError(
      'ATTESTATION_INVALID',
      'the payload or a signature is not canonical base64',
    );
  }
  if (payloadType !== PAYLOAD_TYPE) {
    throw new VettedError(
      'ATTESTATION_INVALID',
      `payloadType is ${payloadType}, not ${PAYLOAD_TYPE}`,
    );
  }
  const body = Buffer.from(payload, 'base64');
  const signed = pae(payloadType, body).toString('utf8');
  const good = signatures.find((s) => {
    const pem = keys.get(s.keyid);
    return pem !== undefined && verifySignature(createPublicKey(pem), signed, s.sig);
  });
  if (!good) {
    const known = signatures.some((s) => keys.has(s.keyid));
    throw new VettedError(
      'ATTESTATION_INVALID',
      known
        ? 'the signature does not verify: the statement was changed after signing'
        : `signed by key ${signatures.map((s) => s.keyid).join(', ')}, which is not among the trusted keys (${[...keys.keys()].join(', ') || 'none'})`,
    );
  }
  let statement: TreeStatement;
  try {
    statement = JSON.parse(body.toString('utf8')) as TreeStatement;
  } catch {
    throw new VettedError('ATTESTATION_INVALID', 'the payload is not JSON');
  }
  if (statement._type !== STATEMENT_TYPE || statement.predicateType !== PREDICATE_TYPE) {
    throw new VettedError('ATTESTATION_INVALID', 'the payload is not a vetted tree statement');
  }
  return { keyId: good.keyid, statement };
}
