/**
 * A decision posted from the version page's form: which one, the reason, and for an approval
 * its scope and how long the exemption lasts. Checks the fields, applies the decision, and
 * says in a few words what was done (shown on the page it redirects to).
 */
import { stringField } from './request';
import { applyDecision, DECISIONS } from '../decisions';
import type { Decision } from '../decisions';
import { approveWithScope, expiryFrom } from '../scoped-approval';
import type { Vetted } from '../../vetted';
import type { Decider } from '../../types';
import { VettedError } from '../../errors';

/** @throws VettedError SPEC_INVALID for a missing field, CONFLICT for a move not allowed. */
export async function decideFromForm(
  vetted: Vetted,
  name: string,
  version: string,
  form: Record<string, unknown>,
  actor: Decider,
): Promise<{ decision: Decision; done: string }> {
  const decision = stringField(form, 'decision') as Decision | undefined;
  if (!decision || !(DECISIONS as readonly string[]).includes(decision)) {
    throw new VettedError('SPEC_INVALID', `decision must be one of ${DECISIONS.join(', ')}`);
  }
  const reason = (stringField(form, 'reason') ?? '').trim();
  if (reason.length < 3 || reason.length > 2000) {
    throw new VettedError('SPEC_INVALID', 'a reason of 3 to 2000 characters is required');
  }
  if (decision !== 'approve') {
    await applyDecision(vetted, decision, name, version, actor, reason);
    return { decision, done: decision };
  }
  const scope = stringField(form, 'scope') === 'package' ? 'package' : 'version';
  const hours = Number(stringField(form, 'hours') ?? 168);
  expiryFrom(hours); // refuses a bad duration before anything changes
  const current = await vetted.index.get(name, version);
  if (current?.status !== 'approved' && current?.status !== 'verified') {
    await applyDecision(vetted, 'approve', name, version, actor, reason);
  }
  const scoped = await approveWithScope(vetted, { scope, name, version, hours }, actor, reason);
  const until = scoped.exemptions[0]?.until;
  const others = scoped.versions.filter((v) => v.result === 'approved').length;
  const done =
    scope === 'package'
      ? `approved; ${name} exempted until ${until} (${others} more approved)`
      : `approved; exempted until ${until}`;
  return { decision, done };
}
