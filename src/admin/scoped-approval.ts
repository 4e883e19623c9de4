/**
 * Approvals with a scope, as the console offers them: this version only, this package for a
 * time, or every node of a lockfile in one step. Each creates exemptions with an expiry
 * (src/admin/exemptions.ts) and approves at once what is held now; versions not verified yet
 * are admitted when their verdict comes in, if it would hold them, while the exemption lasts.
 */
import { applyDecision } from './decisions';
import type { Exemption, ExemptionInput } from './exemptions';
import { MAX_EXEMPTION_MS } from './exemptions';
import type { Vetted } from '../vetted';
import type { Decider } from '../types';
import { VettedError, errorMessage } from '../errors';
import { packageIdProblem } from '../registry/package-id';
import { resolvedProblem } from '../tree/project';

export interface ScopedApproval {
  name: string;
  version: string;
  status: string;
  /** What happened: approved now, exempted (admitted when verified), or why not. */
  result: 'approved' | 'exempted' | 'unchanged' | 'failed';
  error?: string;
}

export interface ScopedResult {
  exemptions: Exemption[];
  versions: ScopedApproval[];
}

/** The expiry for `hours` from now. @throws VettedError SPEC_INVALID past 90 days. */
export function expiryFrom(hours: number, now = Date.now()): string {
  const ms = hours * 3600 * 1000;
  if (!(ms > 0) || ms > MAX_EXEMPTION_MS) {
    throw new VettedError('SPEC_INVALID', 'an exemption lasts between 1 hour and 90 days');
  }
  return new Date(now + ms).toISOString();
}

/**
 * `version`: approves `name@version` now and exempts that version; `package`: exempts every
 * version of `name` and approves those held now.
 */
export async function approveWithScope(
  vetted: Vetted,
  input: { scope: 'version' | 'package'; name: string; version: string; hours: number },
  actor: Decider,
  reason: string,
): Promise<ScopedResult> {
  const until = expiryFrom(input.hours);
  const exemption: ExemptionInput = {
    scope: input.scope,
    name: input.name,
    version: input.scope === 'version' ? input.version : undefined,
    reason,
    actor: actor.name,
    until,
  };
  const held =
    input.scope === 'version'
      ? [{ name: input.name, version: input.version }]
      : (await vetted.index.list({ name: input.name, status: 'held' })).map((r) => ({
          name: r.name,
          version: r.version,
        }));
  const versions = await approveHeld(vetted, held, actor, reason);
  const exemptions = await vetted.exemptions.add([exemption]);
  return { exemptions, versions };
}

/** Approves every held node of a package-lock.json and exempts every node for `hours`. */
export async function approveLockfile(
  vetted: Vetted,
  lockfileText: string,
  hours: number,
  actor: Decider,
  reason: string,
): Promise<ScopedResult> {
  const until = expiryFrom(hours);
  const nodes = lockfileNodes(lockfileText);
  if (nodes.length === 0) {
    throw new VettedError('SPEC_INVALID', 'the lockfile names no registry packages');
  }
  const versions = await approveHeld(vetted, nodes, actor, reason);
  const exemptions = await vetted.exemptions.add(
    nodes.map((n) => ({ scope: 'lockfile', ...n, reason, actor: actor.name, until })),
  );
  return { exemptions, versions };
}

async function approveHeld(
  vetted: Vetted,
  targets: Array<{ name: string; version: string }>,
  actor: Decider,
  reason: string,
): Promise<ScopedApproval[]> {
  const out: ScopedApproval[] = [];
  for (const { name, version } of targets) {
    const record = await vetted.index.get(name, version);
    const status = record?.status ?? (vetted.queue.has(name, version) ? 'pending' : 'unknown');
    if (record?.status !== 'held') {
      const waiting = !record;
      out.push({ name, version, status, result: waiting ? 'exempted' : 'unchanged' });
      continue;
    }
    try {
      await applyDecision(vetted, 'approve', name, version, actor, reason);
      out.push({ name, version, status: 'approved', result: 'approved' });
    } catch (err) {
      out.push({ name, version, status, result: 'failed', error: errorMessage(err) });
    }
  }
  return out;
}

/**
 * The registry packages of a package-lock.json (v1 `dependencies`, v2/v3 `packages`), each
 * name@version once. Links, the root, entries that are not registry versions (git, file, a
 * `resolved` URL naming another package) and names npm would refuse are left out.
 * @throws VettedError SPEC_INVALID when the text is not a lockfile.
 */
export function lockfileNodes(text: string): Array<{ name: string; version: string }> {
  let lock: { packages?: Record<string, LockNode>; dependencies?: Record<string, LockNode> };
  try {
    lock = JSON.parse(text) as typeof lock;
  } catch {
    throw new VettedError('SPEC_INVALID', 'the lockfile is not valid JSON');
  }
  if (!lock || typeof lock !== 'object' || (!lock.packages && !lock.dependencies)) {
    throw new VettedError('SPEC_INVALID', 'not a package-lock.json: no packages or dependencies');
  }
  const seen = new Map<string, { name: string; version: string }>();
  const add = (name: string | undefined, node: LockNode | undefined) => {
    const { version, resolved } = node ?? {};
    if (!name || typeof version !== 'string' || packageIdProblem(name, version)) return;
    // what npm would fetch must be this registry version, as `vetted check` requires
    if (
      resolved !== undefined &&
      (typeof resolved !== 'string' || resolvedProblem(resolved, name, version))
    )
      return;
    seen.set(`${name}@${version}`, { name, version });
  };
  if (lock.packages) {
    for (const [path, node] of Object.entries(lock.packages)) {
      if (!path || node?.link) continue;
      const at = path.lastIndexOf('node_modules/');
      add(node?.name ?? (at >= 0 ? path.slice(at + 'node_modules/'.length) : undefined), node);
    }
  } else {
    const walk = (deps: Record<string, LockNode> | undefined) => {
      for (const [name, node] of Object.entries(deps ?? {})) {
        add(name, node);
        walk(node?.dependencies);
      }
    };
    walk(lock.dependencies);
  }
  return [...seen.values()];
}

interface LockNode {
  name?: string;
  version?: string;
  resolved?: unknown;
  link?: boolean;
  dependencies?: Record<string, LockNode>;
}
