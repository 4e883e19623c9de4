/**
 * Loading a policy (a preset name or a YAML file) and turning layer results into a status.
 * The decision is a pure function of the results and the policy, so the same inputs always
 * give the same verdict; the policy's digest is recorded with it.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { canonicalJson } from '../index/canonical';
import { PRESETS } from './presets';
import { policyFileSchema } from './schema';
import type { Action, Policy } from './schema';
import type { LayerResult, Status } from '../types';
import { VettedError, errorMessage } from '../errors';

/**
 * Resolves `standard`, `strict` or a path to a YAML policy file.
 * @throws VettedError POLICY_INVALID naming the field that is wrong.
 * @example loadPolicy('strict')
 */
export function loadPolicy(spec: string): Policy {
  if (spec === 'standard' || spec === 'strict') return finish({ ...PRESETS[spec] }, spec);
  if (!/[\\/.]/.test(spec)) {
    throw new VettedError('POLICY_INVALID', `unknown preset "${spec}"; use standard or strict`);
  }
  let text: string;
  try {
    text = readFileSync(spec, 'utf8');
  } catch (err) {
    throw new VettedError(
      'POLICY_INVALID',
      `cannot read the policy file ${spec}: ${errorMessage(err)}`,
    );
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw new VettedError('POLICY_INVALID', `${spec} is not valid YAML: ${errorMessage(err)}`);
  }
  const parsed = policyFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || '(top level)';
    throw new VettedError('POLICY_INVALID', `${spec}: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  const file = parsed.data;
  const base = PRESETS[file.extends];
  return finish(
    {
      preset: base.preset,
      requiredLayers: file.requiredLayers ?? base.requiredLayers,
      unavailable: file.unavailable ?? base.unavailable,
      error: file.error ?? base.error,
      fail: file.fail ?? base.fail,
      findings: { ...base.findings, ...file.findings },
      behaviour: { ...base.behaviour, ...file.behaviour },
    },
    spec,
  );
}

function finish(body: Omit<Policy, 'digest' | 'source'>, source: string): Policy {
  const digest = createHash('sha256').update(canonicalJson(body)).digest('hex');
  return Object.freeze({ ...body, digest, source });
}

export interface PolicyDecision {
  status: Extract<Status, 'verified' | 'held' | 'rejected'>;
  /** Why the version was held or rejected, one sentence each. */
  reasons: string[];
  /** What was admitted despite, recorded on the verdict. */
  warnings: string[];
}

const RANK: Record<Action, number> = { admit: 0, warn: 1, hold: 2, reject: 3 };

/** Findings that mean the package runs code at install time. */
const INSTALL_CODE: ReadonlySet<string> = new Set(['INSTALL_SCRIPT', 'NATIVE_BUILD']);

/** Applies the policy to the layer results. */
export function decide(policy: Policy, results: LayerResult[]): PolicyDecision {
  const byAction: Record<Action, string[]> = { admit: [], warn: [], hold: [], reject: [] };
  const seen = new Set(results.map((r) => r.layer));

  for (const layer of policy.requiredLayers) {
    if (!seen.has(layer)) byAction.hold.push(`the ${layer} layer did not run`);
  }
  for (const result of results) {
    const outcomeAction = actionForOutcome(policy, result);
    // a layer that could not finish says so even when it found things before it stopped
    const unfinished = result.outcome === 'unavailable' || result.outcome === 'error';
    if (outcomeAction && (unfinished || result.findings.length === 0)) {
      byAction[outcomeAction].push(
        `${result.layer}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}`,
      );
    }
    for (const finding of result.findings) {
      // an info finding is context (coverage, activity expected for the package's purpose),
      // never a reason on its own, whatever rule its code has
      if (finding.severity === 'info') continue;
      const ruled = policy.findings[finding.code];
      const chosen = ruled ?? (result.outcome === 'fail' ? policy.fail : 'warn');
      if (chosen !== 'admit') byAction[chosen].push(`${finding.code}: ${finding.message}`);
    }
  }

  // a secret read together with a reach for the network is an exfiltration attempt
  const notable = results.flatMap((r) => r.findings.filter((f) => f.severity !== 'info'));
  const read = notable.find((f) => f.code === 'DECOY_READ');
  const reach = notable.find(
    (f) => f.code === 'INSTALL_SCRIPT_NETWORK' || f.code === 'LOAD_NETWORK',
  );
  if (read && reach) {
    byAction.reject.push(`${read.code}: ${read.message}`, `${reach.code}: ${reach.message}`);
  }

  // install-time code is only admitted once the behaviour layer watched it run
  const watched = results.find((r) => r.layer === 'behaviour');
  const installCode = results.flatMap((r) => r.findings).find((f) => INSTALL_CODE.has(f.code));
  if (installCode && !(watched && ['pass', 'warn', 'fail'].includes(watched.outcome))) {
    const why = watched
      ? `${watched.outcome}${watched.reason ? `: ${watched.reason}` : ''}`
      : 'did not run';
    byAction.hold.push(
      `${installCode.code}: install-time code was not watched (behaviour layer ${why})`,
    );
  }

  const worst = (Object.keys(byAction) as Action[])
    .filter((a) => byAction[a].length > 0)
    .reduce<Action>((w, a) => (RANK[a] > RANK[w] ? a : w), 'admit');
  const status = worst === 'reject' ? 'rejected' : worst === 'hold' ? 'held' : 'verified';
  const reasons = status === 'rejected' ? byAction.reject : status === 'held' ? byAction.hold : [];
  return { status, reasons, warnings: byAction.warn };
}

function actionForOutcome(policy: Policy, result: LayerResult): Action | undefined {
  switch (result.outcome) {
    case 'unavailable':
      return policy.unavailable;
    case 'error':
      return policy.error;
    case 'fail':
      return policy.fail;
    case 'pass':
    case 'warn':
      return undefined;
  }
}
