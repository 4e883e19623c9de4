/**
 * Exemptions: an admin's standing approval, with an expiry, of one version or of a whole
 * package. While one lasts, a verdict that would hold a matching version admits it instead
 * (status `approved`, the admin named as decider, the policy's `held` kept in `policyStatus`).
 * Only holds are lifted: a rejection (tampered bytes, a leaked secret) stands, and a version
 * with no verified bytes is never admitted.
 *
 * Kept in an `exemptions` sublevel of the index database; each one is also an `exempt` entry
 * of the audit log. Depends on the index and the queue's outcome type, nothing else.
 */
import { randomUUID } from 'node:crypto';
import { openSublevel } from '../index/database';
import type { Db, Sublevel } from '../index/database';

import type { VerifiedIndex } from '../index/verified-index';
import type { JobOutcome } from '../queue/job-queue';
import type { Decider } from '../types';

export const EXEMPTION_SCOPES = ['version', 'package', 'lockfile'] as const;
export type ExemptionScope = (typeof EXEMPTION_SCOPES)[number];

export interface Exemption {
  id: string;
  scope: ExemptionScope;
  name: string;
  /** The exact version; absent for a package-wide exemption. */
  version?: string;
  reason: string;
  actor: string;
  createdAt: string;
  /** ISO time after which it no longer applies. */
  until: string;
}

export type ExemptionInput = Omit<Exemption, 'id' | 'createdAt'>;

/** Longest exemption an admin may grant: 90 days. */
export const MAX_EXEMPTION_MS = 90 * 24 * 3600 * 1000;

export class Exemptions {
  readonly #sub: Sublevel;
  readonly #index: VerifiedIndex;
  /** name -> its exemptions, mirroring the sublevel. */
  readonly #byName = new Map<string, Exemption[]>();

  private constructor(db: Db, index: VerifiedIndex) {
    this.#sub = openSublevel(db, 'exemptions');
    this.#index = index;
  }

  static async open(db: Db, index: VerifiedIndex): Promise<Exemptions> {
    const exemptions = new Exemptions(db, index);
    for await (const [, value] of exemptions.#sub.iterator())
      exemptions.#remember(value as Exemption);
    return exemptions;
  }

  /** Stores exemptions and one audit entry each. */
  async add(inputs: ExemptionInput[]): Promise<Exemption[]> {
    const createdAt = new Date().toISOString();
    const added = inputs.map((input) => ({ ...input, id: randomUUID(), createdAt }));
    await this.#sub.batch(added.map((e) => ({ type: 'put' as const, key: e.id, value: e })));
    for (const e of added) {
      this.#remember(e);
      await this.#index.appendAudit({
        action: 'exempt',
        actor: { kind: 'admin', name: e.actor },
        name: e.name,
        version: e.version ?? '*',
        reason: `${e.scope} exemption until ${e.until}: ${e.reason}`,
      });
    }
    return added;
  }

  /** Exemptions in force at `now`, newest first. */
  active(now = Date.now()): Exemption[] {
    return [...this.#byName.values()]
      .flat()
      .filter((e) => Date.parse(e.until) > now)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** The exemption that covers `name@version` at `now`, if any. */
  match(name: string, version: string, now = Date.now()): Exemption | undefined {
    return this.#byName
      .get(name)
      ?.find(
        (e) => Date.parse(e.until) > now && (e.version === undefined || e.version === version),
      );
  }

  /** Turns a `held` verdict into an admin approval when an exemption covers it. */
  apply(outcome: JobOutcome): JobOutcome {
    if (!('record' in outcome)) return outcome;
    const { record } = outcome;
    if (record.status !== 'held' || !record.storedIntegrity) return outcome;
    const exemption = this.match(record.name, record.version);
    if (!exemption) return outcome;
    const actor: Decider = { kind: 'admin', name: exemption.actor };
    const reason = `${exemption.scope} exemption until ${exemption.until}: ${exemption.reason}`;
    return {
      record: {
        ...record,
        status: 'approved',
        policyStatus: 'held',
        decidedBy: actor,
        reason,
      },
      audit: { ...outcome.audit, action: 'approve', actor, status: 'approved', reason },
    };
  }

  #remember(e: Exemption): void {
    const list = this.#byName.get(e.name) ?? [];
    list.push(e);
    this.#byName.set(e.name, list);
  }
}
