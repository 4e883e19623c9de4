/**
 * The server's half of `vetted check`: the status of every node of a tree in one call, unknown
 * versions queued together (pre-verification), and for each node that is not admitted the
 * newest admitted version that satisfies every range its parents declared.
 */
import semver from 'semver';
import { z } from 'zod';
import type { Vetted } from '../vetted';
import type { Status } from '../types';
import { isAdmitted } from '../types';
import type { AdvisoryMatch } from '../advisories/osv';
import { ROOT, aliasOf, splitAt } from './graph';
import { errorMessage } from '../errors';
import { packageIdProblem } from '../registry/package-id';
import { storeDamagedReason } from '../gate/respond';

const MAX_NODES = 20_000;

export const treeRequestSchema = z.object({
  nodes: z
    .array(z.object({ name: z.string().min(1).max(214), version: z.string().min(1).max(256) }))
    .min(1)
    .max(MAX_NODES),
  /** The tree's edges (`from` is a node key or "" for the project); needed for replacements. */
  edges: z
    .array(
      z.object({
        from: z.string().max(500),
        to: z.string().max(500),
        spec: z.string().max(500).optional(),
      }),
    )
    .max(MAX_NODES * 20)
    .default([]),
  /** Queue every node vetted has no verdict for. */
  queue: z.boolean().default(false),
  /** Compute replacements for nodes that are not admitted (costs upstream lookups). */
  replacements: z.boolean().default(true),
});
export type TreeRequest = z.infer<typeof treeRequestSchema>;

export type NodeStatus = Status | 'unknown' | 'invalid';

export interface Replacement {
  /** The ranges that had to be satisfied, from every parent. */
  ranges: string[];
  /** The newest admitted version satisfying all of them, when there is one. */
  version?: string;
  /** Admitted versions of the package outside those ranges, newest first (a few). */
  otherAdmitted?: string[];
  note?: string;
}

export interface NodeResult {
  name: string;
  version: string;
  status: NodeStatus;
  reasons: string[];
  warnings?: string[];
  queued?: boolean;
  decidedBy?: string;
  decidedAt?: string;
  integrity?: string;
  advisories?: AdvisoryMatch[];
  replacement?: Replacement;
  error?: string;
}

export interface TreeResponse {
  results: NodeResult[];
  counts: Record<string, number>;
  total: number;
  index: { keyId: string };
}

/** Answers one tree request. Never throws for a bad node: that node says why. */
export async function treeStatus(vetted: Vetted, request: TreeRequest): Promise<TreeResponse> {
  const unique = new Map(request.nodes.map((n) => [`${n.name}@${n.version}`, n]));
  const nodes = [...unique.values()];
  const results: NodeResult[] = new Array<NodeResult>(nodes.length);
  await forEachLimited(
    nodes.map((node, i) => ({ node, i })),
    8,
    async ({ node, i }) => {
      results[i] = await nodeStatus(vetted, node.name, node.version, request.queue);
    },
  );
  if (request.replacements) {
    const ranges = rangesByNode(request.edges);
    const parentManifests = new Map<string, Promise<Record<string, string> | undefined>>();
    await forEachLimited(
      results.filter(
        (r) => r.status !== 'pending' && r.status !== 'invalid' && !isAdmitted(asStatus(r.status)),
      ),
      6,
      async (result) => {
        result.replacement = await replacementFor(
          vetted,
          result,
          ranges.get(`${result.name}@${result.version}`) ?? [],
          parentManifests,
        );
      },
    );
  }
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return { results, counts, total: results.length, index: { keyId: vetted.index.signer.keyId } };
}

function asStatus(status: NodeStatus): Status | undefined {
  return status === 'unknown' || status === 'invalid' ? undefined : status;
}

async function nodeStatus(
  vetted: Vetted,
  name: string,
  version: string,
  queue: boolean,
): Promise<NodeResult> {
  const problem = packageIdProblem(name, version);
  if (problem) return { name, version, status: 'invalid', reasons: [problem] };
  const advisories = vetted.advisories?.match(name, version);
  const withAdvisories = (r: NodeResult): NodeResult =>
    advisories && advisories.length > 0 ? { ...r, advisories } : r;
  if (vetted.index.isTampered(name, version)) {
    return withAdvisories({
      name,
      version,
      status: 'held',
      reasons: ['the stored verdict fails its signature; an admin must re-verify it'],
    });
  }
  const record = await vetted.index.get(name, version);
  if (record && isAdmitted(record.status) && vetted.index.isStoreDamaged(record)) {
    // admitted, but its verified bytes failed their check: no client can install it now
    return withAdvisories({
      name,
      version,
      status: 'held',
      reasons: [storeDamagedReason(`${name}@${version}`)],
    });
  }
  if (record) {
    return withAdvisories({
      name,
      version,
      status: record.status,
      reasons: record.reasons.length > 0 ? record.reasons : record.reason ? [record.reason] : [],
      ...(record.warnings.length > 0 ? { warnings: record.warnings } : {}),
      decidedBy: `${record.decidedBy.kind}:${record.decidedBy.name}`,
      decidedAt: record.decidedAt,
      ...(record.integrity ? { integrity: record.integrity } : {}),
      ...(vetted.queue.has(name, version) ? { queued: true } : {}),
    });
  }
  if (vetted.queue.has(name, version)) {
    return withAdvisories({ name, version, status: 'pending', reasons: [], queued: true });
  }
  if (!queue) {
    return withAdvisories({
      name,
      version,
      status: 'unknown',
      reasons: ['vetted has not verified this version yet'],
    });
  }
  // queue only what the upstream has: a typo in a lockfile must not wait forever
  const exists = await vetted.versionExists(name, version).catch(() => undefined);
  if (exists === false) {
    return withAdvisories({
      name,
      version,
      status: 'unknown',
      reasons: [`the upstream has no ${name}@${version}`],
    });
  }
  await vetted.queue.enqueue(name, version, 'admin');
  return withAdvisories({ name, version, status: 'pending', reasons: [], queued: true });
}

/** Incoming edges by target: the declared range, or the parent key when it is not recorded. */
function rangesByNode(
  edges: TreeRequest['edges'],
): Map<string, Array<{ from: string; spec?: string }>> {
  const out = new Map<string, Array<{ from: string; spec?: string }>>();
  for (const edge of edges) {
    const list = out.get(edge.to) ?? [];
    list.push(edge.spec === undefined ? { from: edge.from } : { from: edge.from, spec: edge.spec });
    out.set(edge.to, list);
  }
  return out;
}

async function replacementFor(
  vetted: Vetted,
  node: NodeResult,
  incoming: Array<{ from: string; spec?: string }>,
  parentManifests: Map<string, Promise<Record<string, string> | undefined>>,
): Promise<Replacement> {
  const ranges: string[] = [];
  // parents whose range is not known: no version can be said to satisfy them
  const unknown: string[] = [];
  for (const edge of incoming) {
    let range = edge.spec === undefined ? undefined : rangeFor(edge.spec, node.name);
    if (edge.spec === undefined && edge.from !== ROOT) {
      // pnpm does not keep ranges: read the parent's declared range from its manifest
      const deps = await dependenciesOf(vetted, edge.from, parentManifests);
      range = declaredRange(deps ?? {}, node.name, node.version);
    }
    if (range === undefined) {
      unknown.push(`${edge.from || 'the project'} (${edge.spec ?? 'no range recorded'})`);
    } else if (!ranges.includes(range)) ranges.push(range);
  }
  let versions: string[];
  try {
    versions = [...(await vetted.upstream.versions(node.name))]
      .filter((v) => semver.valid(v))
      .sort(semver.rcompare);
  } catch (err) {
    return { ranges, note: `cannot list ${node.name}'s versions: ${errorMessage(err)}` };
  }
  const admitted: string[] = [];
  for (const version of versions) {
    if (version === node.version) continue;
    const record = await vetted.index.get(node.name, version);
    if (record && isAdmitted(record.status)) admitted.push(version);
  }
  const fits = admitted.find((v) =>
    ranges.every((r) => semver.satisfies(v, r, { includePrerelease: false })),
  );
  const result: Replacement = { ranges };
  if (fits && unknown.length === 0) result.version = fits;
  const others = admitted.filter((v) => v !== result.version).slice(0, 5);
  if (others.length > 0) result.otherAdmitted = others;
  if (admitted.length === 0) {
    result.note = `no version of ${node.name} is admitted yet`;
  } else if (unknown.length > 0) {
    const known = ranges.length > 0 ? ` (${ranges.join(' and ')})` : '';
    result.note =
      `the range ${unknown.join(' and ')} declares is not known, so no version can be said ` +
      `to satisfy every parent` +
      (fits ? `; ${fits} is the newest admitted version satisfying the known ranges${known}` : '');
  } else if (!fits) {
    result.note = `no admitted version satisfies ${ranges.join(' and ') || 'the parents'}`;
  }
  return result;
}

/**
 * The semver range a dependency spec asks of `name`: the spec itself, or the range of an
 * `npm:<name>@<range>` alias to it. Undefined for anything else (a dist-tag, git, a URL).
 */
export function rangeFor(spec: string, name: string): string | undefined {
  const alias = aliasOf(spec);
  if (alias && alias.name !== name) return undefined;
  const range = alias ? alias.range : spec;
  return semver.validRange(range) === null ? undefined : range;
}

/**
 * The range a parent's manifest declares for `name`, directly or through an alias; when it
 * declares several (`wrap-ansi` and `wrap-ansi-cjs: npm:wrap-ansi@^7`), the one `version`
 * satisfies.
 */
function declaredRange(
  deps: Record<string, string>,
  name: string,
  version: string,
): string | undefined {
  const candidates: string[] = [];
  for (const [key, spec] of Object.entries(deps)) {
    const alias = aliasOf(spec);
    if (alias ? alias.name !== name : key !== name) continue;
    const range = rangeFor(spec, name);
    if (range !== undefined) candidates.push(range);
  }
  return candidates.find((r) => semver.satisfies(version, r)) ?? candidates[0];
}

async function dependenciesOf(
  vetted: Vetted,
  parentKey: string,
  cache: Map<string, Promise<Record<string, string> | undefined>>,
): Promise<Record<string, string> | undefined> {
  let pending = cache.get(parentKey);
  if (!pending) {
    const { name, rest: version } = splitAt(parentKey);
    pending = vetted.upstream
      .packument(name)
      .then((doc) => {
        const manifest = doc.versions?.[version] as Record<string, unknown> | undefined;
        if (!manifest) return undefined;
        return {
          ...((manifest.peerDependencies as Record<string, string>) ?? {}),
          ...((manifest.optionalDependencies as Record<string, string>) ?? {}),
          ...((manifest.dependencies as Record<string, string>) ?? {}),
        };
      })
      .catch(() => undefined);
    cache.set(parentKey, pending);
  }
  return pending;
}

async function forEachLimited<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
