import { ProjectError } from './projectErrors.js';
import type { CaseRow, CaseState } from './types.js';

/**
 * The case life cycle as an explicit state machine:
 *   new → pre_annotated (model) → in_progress (claimed) → submitted → accepted | returned;
 *   returned → in_progress (claimed again); a manual case goes new → in_progress directly.
 * An in_progress case whose claim has lapsed may be claimed by someone else.
 */

export type CaseEvent = 'pre-annotate' | 'claim' | 'save' | 'submit' | 'accept' | 'return';

const TRANSITIONS: Record<CaseEvent, { from: readonly CaseState[]; to: CaseState | null }> = {
  'pre-annotate': { from: ['new', 'pre_annotated'], to: 'pre_annotated' },
  claim: { from: ['new', 'pre_annotated', 'returned', 'in_progress'], to: 'in_progress' },
  save: { from: ['in_progress'], to: null },
  submit: { from: ['in_progress'], to: 'submitted' },
  accept: { from: ['submitted'], to: 'accepted' },
  return: { from: ['submitted'], to: 'returned' },
};

export function claimActive(c: Pick<CaseRow, 'claimedBy' | 'claimExpiresAt'>, nowMs: number): boolean {
  return c.claimedBy !== null && c.claimExpiresAt !== null && Date.parse(c.claimExpiresAt) > nowMs;
}

/**
 * The state after `event` by `user`, or a MedsamError saying why not. `null` in the table means
 * the state does not change (a save).
 */
export function nextState(c: CaseRow, event: CaseEvent, user: string, nowMs: number): CaseState {
  const t = TRANSITIONS[event];
  if (!t.from.includes(c.state)) {
    throw new ProjectError(`case ${c.name} is ${c.state}: cannot ${event} it`, `${event} needs a case that is ${t.from.join(' or ')}`, 409);
  }
  if (event === 'claim') {
    if (c.state === 'new' && c.mode === 'assisted')
      throw new ProjectError(
        `case ${c.name} has no pre-annotation yet`,
        'run medsam2 project pre-annotate first (or add it with --mode manual)',
        409,
      );
    if (c.state === 'in_progress' && c.claimedBy !== user && claimActive(c, nowMs)) {
      throw new ProjectError(
        `case ${c.name} is claimed by ${c.claimedBy} until ${c.claimExpiresAt}`,
        'take another case, or wait until the claim lapses',
        409,
      );
    }
  }
  if (event === 'save' || event === 'submit') {
    if (c.claimedBy !== user)
      throw new ProjectError(`case ${c.name} is claimed by ${c.claimedBy ?? 'nobody'}, not ${user}`, 'claim the case first', 409);
    if (!claimActive(c, nowMs))
      throw new ProjectError(`${user}'s claim on case ${c.name} lapsed at ${c.claimExpiresAt}`, 'claim the case again, then save', 409);
  }
  if ((event === 'accept' || event === 'return') && c.submittedBy === user) {
    throw new ProjectError(`${user} submitted case ${c.name} and cannot review it`, 'a different reviewer must accept or return it', 403);
  }
  return t.to ?? c.state;
}
