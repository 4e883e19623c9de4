/**
 * New dependencies of a version: how old each one was when this version was published and how
 * widely it is maintained, from the dependency's own packument on the upstream (cached, a few
 * lookups per version, each bounded in time). A dependency created days before the version
 * that pulls it in is the shape of many injected-dependency attacks.
 */
import { LRUCache } from 'lru-cache';
import type { Packument } from '../../registry/packument';
import type { Finding } from '../../types';
import { errorMessage } from '../../errors';
import { maintainersOf } from './versions';

/** A dependency younger than this when the version was published is reported higher. */
export const YOUNG_DEPENDENCY_MS = 30 * 24 * 3600 * 1000;
/** New dependencies looked up per version; the rest are reported without details. */
export const MAX_LOOKUPS = 8;
const LOOKUP_TIMEOUT_MS = 15_000;

export type PackumentFn = (name: string, signal: AbortSignal) => Promise<Packument>;

interface DependencyFacts {
  created?: Date;
  maintainers?: string[];
}

export interface DependencyLookup {
  describe(
    names: string[],
    publishedAt: Date | undefined,
    signal: AbortSignal,
    isHighImpact?: (name: string) => boolean,
  ): Promise<{ findings: Finding[]; unavailable: string[] }>;
}

/**
 * @example createDependencyLookup((name, signal) => upstream.packument(name, signal))
 */
export function createDependencyLookup(packument: PackumentFn): DependencyLookup {
  const cache = new LRUCache<string, DependencyFacts>({ max: 2000, ttl: 60 * 60 * 1000 });

  async function factsOf(name: string, signal: AbortSignal): Promise<DependencyFacts> {
    const hit = cache.get(name);
    if (hit) return hit;
    const limit = AbortSignal.any([signal, AbortSignal.timeout(LOOKUP_TIMEOUT_MS)]);
    const doc = await packument(name, limit);
    const created = typeof doc.time?.created === 'string' ? new Date(doc.time.created) : undefined;
    const facts: DependencyFacts = {
      ...(created && !Number.isNaN(created.getTime()) ? { created } : {}),
      ...(maintainersOf(doc) ? { maintainers: maintainersOf(doc) } : {}),
    };
    cache.set(name, facts);
    return facts;
  }

  return {
    async describe(names, publishedAt, signal, isHighImpact = () => false) {
      const findings: Finding[] = [];
      const unavailable: string[] = [];
      for (const [i, name] of names.entries()) {
        if (i >= MAX_LOOKUPS) {
          findings.push(newDependency(name, 'not looked up (too many new dependencies)', 'low'));
          continue;
        }
        let facts: DependencyFacts;
        try {
          facts = await factsOf(name, signal);
        } catch (err) {
          if (signal.aborted) throw err;
          unavailable.push(`${name}: ${errorMessage(err)}`);
          findings.push(newDependency(name, `its packument could not be read`, 'medium'));
          continue;
        }
        const age =
          facts.created && publishedAt
            ? publishedAt.getTime() - facts.created.getTime()
            : undefined;
        const young = age === undefined || age < YOUNG_DEPENDENCY_MS;
        const parts = [
          facts.created
            ? `first published ${facts.created.toISOString().slice(0, 10)}${describeAge(age)}`
            : 'creation time unknown',
          facts.maintainers
            ? `${facts.maintainers.length} maintainer${facts.maintainers.length === 1 ? '' : 's'}`
            : 'maintainers unknown',
          ...(isHighImpact(name) ? ['widely used'] : []),
        ];
        findings.push(
          newDependency(name, parts.join('; '), young && !isHighImpact(name) ? 'medium' : 'low', {
            created: facts.created?.toISOString(),
            maintainers: facts.maintainers,
            highImpact: isHighImpact(name),
          }),
        );
      }
      return { findings, unavailable };
    },
  };
}

function newDependency(
  name: string,
  detail: string,
  severity: Finding['severity'],
  evidence: Record<string, unknown> = {},
): Finding {
  return {
    code: 'NEW_DEPENDENCY',
    severity,
    message: `new dependency ${name} (${detail})`,
    evidence: { dependency: name, ...evidence },
  };
}

/** `, 12 days before this version`; empty when the publish time is unknown. */
function describeAge(ms: number | undefined): string {
  if (ms === undefined) return '';
  if (ms < 0) return ', after this version';
  const days = Math.floor(ms / 864e5);
  const span =
    days < 60
      ? `${days} days`
      : days < 730
        ? `${Math.floor(days / 30)} months`
        : `${Math.floor(days / 365)} years`;
  return `, ${span} before this version`;
}
